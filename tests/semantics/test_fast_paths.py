"""The fast paths of the compiler give exactly the answers of the general definitions they replace.

* `semantics.wildcard_set_matcher` (one matcher for a whole pattern list) vs `any(wildcard_matcher(p) ...)`;
* the generated absent-field check of `fields.getter` vs the general walk over every dotted spelling;
* inlined query-context negations (`!=`, `not in`, `not field : (...)`) vs `not` of the positive predicate;
* conjunct reordering: a reordered `and` chain vs each conjunct on its own, in the written order.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.engine.compiler import compile_predicate
from vigil.engine.fields import _general_getter, getter
from vigil.eql import ast, parse_expression
from vigil.eql import semantics as sem

# ASCII letters, wildcard characters, regex metacharacters and non-ASCII letters whose case mappings are unusual
# (ß lowers to itself and uppers to "SS"; İ lowers to two code points; K is the Kelvin sign; ſ the long s).
ALPHABET = "aAbB.*?\\/-_ \nßẞİıKkſsSÄäé日"
texts = st.text(alphabet=ALPHABET, max_size=8)


def _reference(patterns: list[str], insensitive: bool, value: str) -> bool:
    text = sem.fold_case(value) if insensitive else value
    return any(sem.wildcard_matcher(p, insensitive)(text) for p in patterns)


@settings(max_examples=400, deadline=None)
@given(patterns=st.lists(texts, max_size=6), insensitive=st.booleans(), value=texts)
def test_wildcard_set_matcher_agrees_with_one_matcher_per_pattern(patterns, insensitive, value):
    matcher = sem.wildcard_set_matcher(patterns, insensitive)
    text = sem.fold_case(value) if insensitive else value
    assert matcher(text) == _reference(patterns, insensitive, value)


@pytest.mark.parametrize(("patterns", "value", "expected"), [
    (["gcc*", "*-linux-gnu-gcc*", "cc", "*.sh", "/tmp/*/x?"], "x86_64-linux-gnu-gcc-12", True),
    (["gcc*", "*-linux-gnu-gcc*", "cc", "*.sh", "/tmp/*/x?"], "/tmp/a/b/xy", True),
    (["gcc*", "*-linux-gnu-gcc*", "cc", "*.sh", "/tmp/*/x?"], "/tmp/a/b/x", False),
    (["gcc*", "*-linux-gnu-gcc*", "cc", "*.sh", "/tmp/*/x?"], "run.sh", True),
    (["gcc*", "*-linux-gnu-gcc*", "cc", "*.sh", "/tmp/*/x?"], "ccache", False),
    (["*"], "", True),
    ([], "anything", False),
    (["a*b", "?"], "a\nb", True),  # `*` spans newlines (DOTALL), as Lucene's automaton does
])
def test_wildcard_set_matcher_examples(patterns, value, expected):
    assert sem.wildcard_set_matcher(patterns, False)(value) is expected


# -------------------------------------------------------------------------------------------- field getters
keys = st.sampled_from(["a", "b", "c", "a.b", "b.c", "a.b.c", "x"])
leaves = st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["s", "t"]))
documents = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(doc=st.dictionaries(keys, documents, max_size=4), path=st.sampled_from(["a", "a.b", "a.b.c", "b.c", "x.y"]))
def test_getter_agrees_with_the_general_walk(doc, path):
    nested = getter(path)(doc)
    general = _general_getter(tuple(path.split(".")))(doc)
    # a nested path that exists wins over flattened spellings (documented); otherwise the general walk decides
    if _nested_exists(doc, path.split(".")):
        return
    assert nested == general


def _nested_exists(doc, parts):
    node = doc
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize(("doc", "expected"), [
    ({"process": {"name": "x"}}, None),                          # the level exists, the field does not
    ({"process": {"parent.user.id": "7"}}, "7"),                 # dotted key inside a level
    ({"process.parent": {"user": {"id": "8"}}}, "8"),            # dotted key at the root
    ({"process": {"parent": [{"user": {"id": "1"}}, {"user": {"id": "2"}}]}}, ["1", "2"]),  # array of objects
    ({"process": {"parent": None}}, None),
    ({"process": "text"}, None),
])
def test_absent_field_fast_path(doc, expected):
    assert getter("process.parent.user.id")(doc) == expected


# ------------------------------------------------------------------------------------ inlined negations
values = st.one_of(
    st.none(), st.sampled_from(["a", "A", "abc", "0", "1", "true", "x.sh"]), st.integers(-1, 2), st.booleans(),
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "abc", "0"]), st.integers(0, 1)), max_size=3),
)
conditions = [
    ('f != "a"', 'f == "a"'),
    ('f != "0"', 'f == "0"'),
    ('not f in ("a", "0", "true")', 'f in ("a", "0", "true")'),
    ('f not in ("a", "abc")', 'f in ("a", "abc")'),
    ('not f in~ ("A", "ABC")', 'f in~ ("A", "ABC")'),
    ('not f : ("a*", "*.sh", "1")', 'f : ("a*", "*.sh", "1")'),
    ('not f like ("a?c", "x*")', 'f like ("a?c", "x*")'),
    ('not f like~ ("A*")', 'f like~ ("A*")'),
]


@settings(max_examples=300, deadline=None)
@given(value=values, present=st.booleans(), index=st.integers(0, len(conditions) - 1))
def test_inlined_negation_is_must_not_of_the_positive(value, present, index):
    negated_text, positive_text = conditions[index]
    doc = {"f": value} if present else {"g": 1}
    negated = compile_predicate(parse_expression(negated_text))
    positive = compile_predicate(parse_expression(positive_text))
    assert negated(doc) is (not positive(doc))


# ------------------------------------------------------------------------------------ conjunct reordering
@settings(max_examples=300, deadline=None)
@given(
    host=st.sampled_from([None, "linux", "windows"]), name=st.sampled_from([None, "bash", "nping", "sh"]),
    user=st.sampled_from([None, "0", "1"]), kind=st.sampled_from([None, "start", ["start", "change"]]),
)
def test_reordered_conjunction_keeps_the_answer(host, name, user, kind):
    text = ('host.os.type == "linux" and event.type == "start" and not user.id == "0" and '
            'process.name : ("ba*", "nping") and (process.name != "sh" or user.id != null)')
    doc: dict = {"host": {"os": {"type": host}}, "event": {"type": kind}, "process": {"name": name}}
    if user is not None:
        doc["user"] = {"id": user}
    expr = parse_expression(text)
    assert isinstance(expr, ast.And)
    expected = all(compile_predicate(operand)(doc) for operand in expr.operands)
    assert compile_predicate(expr)(doc) is expected
