"""Compiled predicates on real documents: multi-valued fields, query vs script context, nulls, case folding,
JSON-escaped values, nested/flattened/mixed documents, and the Nping rule end to end."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.engine.compiler import compile_event_filter, compile_expression, compile_predicate
from vigil.eql import ast, parse, parse_expression
from vigil.errors import UnsupportedError


def matches(condition: str, doc: dict) -> bool:
    return compile_predicate(parse_expression(condition))(doc)


def value(expression: str, doc: dict) -> object:
    return compile_expression(parse_expression(expression))(doc)


def ev(**fields: object) -> dict:
    """A nested ECS document from dotted keyword arguments: ev(process__name="x") -> {"process": {"name": "x"}}."""
    doc: dict = {}
    for key, v in fields.items():
        node = doc
        *parents, last = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = v
    return doc


# ------------------------------------------------------------------------------------------ multi-valued fields
@pytest.mark.parametrize(("event_type", "expected"), [
    ("start", True), (["start"], True), (["start", "change"], True), (["change", "start"], True),
    ([], False), (None, False), ("missing", False), (["change"], False), ([["start"]], True),
])
def test_equality_on_arrays_matches_any_element(event_type: object, expected: bool) -> None:
    doc = {} if event_type == "missing" else ev(event__type=event_type)
    assert matches('event.type == "start"', doc) is expected


@pytest.mark.parametrize(("event_type", "expected"), [
    ("start", False), (["start", "change"], False), (["change"], True), ([], True), ("missing", True),
])
def test_not_equals_is_a_negated_term_query(event_type: object, expected: bool) -> None:
    """ES translates `!=` to NOT(term): true when no element equals, including for a missing field."""
    doc = {} if event_type == "missing" else ev(event__type=event_type)
    assert matches('event.type != "start"', doc) is expected
    assert matches('not event.type == "start"', doc) is expected


def test_in_and_not_in_on_arrays() -> None:
    doc = ev(event__type=["info", "start"])
    assert matches('event.type in ("start", "end")', doc)
    assert not matches('event.type not in ("start", "end")', doc)
    assert matches('event.type not in ("end")', doc)
    assert matches('event.type not in ("end")', {})


def test_match_like_regex_on_arrays() -> None:
    doc = ev(process__args=["/usr/bin/nping", "--tcp", "-p", "80"])
    assert matches('process.args : "--TCP"', doc)
    assert matches('process.args like "-?"', doc)
    assert matches('process.args regex "[0-9]+"', doc)
    assert not matches('process.args like "--TCP"', doc)


def test_range_on_arrays_and_numbers() -> None:
    doc = ev(destination__port=[22, 8080])
    assert matches("destination.port > 8000", doc)
    assert matches("destination.port < 23", doc)
    assert not matches("destination.port > 9000", doc)


def test_script_context_uses_first_sorted_doc_value() -> None:
    """Functions see the first doc value (doc values are sorted): ["bb", "a"] is "a" to length()."""
    doc = ev(tags=["bb", "a"])
    assert matches("length(tags) == 1", doc)
    assert not matches("length(tags) == 2", doc)
    # endsWith is a script in ES (only startsWith / stringContains / cidrMatch become queries)
    assert matches('endsWith(tags, "a")', doc)
    assert not matches('endsWith(tags, "b")', doc)
    assert matches('startsWith(tags, "b")', doc)  # prefix query: any element


def test_join_key_expression_keeps_all_values() -> None:
    """compile_expression of a bare field returns every value, so sequences/samples can expand arrays."""
    assert value("user.name", ev(user__name=["root", "bob"])) == ["root", "bob"]
    assert value("user.name", ev(user__name=["root"])) == "root"
    assert value("user.name", ev(user__name=[])) is None
    assert value("user.name", {}) is None


# ------------------------------------------------------------------------------------------------------ nulls
@pytest.mark.parametrize(("doc", "is_null"), [
    ({}, True), (ev(user__name=None), True), (ev(user__name=[]), True), (ev(user__name=[None]), True),
    (ev(user__name=""), False), (ev(user__name="root"), False), (ev(user__name=["a", "b"]), False),
])
def test_null_comparisons_are_existence_tests(doc: dict, is_null: bool) -> None:
    assert matches("user.name == null", doc) is is_null
    assert matches("user.name != null", doc) is (not is_null)
    assert matches("?user.name == null", doc) is is_null


def test_three_valued_logic_in_scripts() -> None:
    missing: dict = {}
    # a script predicate over a missing field is null: neither it nor its negation matches
    assert not matches("length(user.name) > 1", missing)
    assert not matches("not length(user.name) > 1", missing)
    # but a query-context negation is two-valued (Lucene must_not)
    assert matches('not user.name == "root"', missing)
    assert matches('not (user.name == "root" and length(user.name) > 1)', missing)
    assert value("length(user.name) > 1 or true", missing) is True
    assert value("length(user.name) > 1 and true", missing) is None
    assert value("length(user.name) > 1 and false", missing) is False


def test_comparison_with_null_in_script_is_null() -> None:
    assert value("length(user.name) < 3", {}) is None
    assert value("indexOf(user.name, \"o\") != null", ev(user__name="root")) is True
    assert value("indexOf(user.name, \"x\") == null", ev(user__name="root")) is True


# ----------------------------------------------------------------------------------------------- case rules
def test_case_sensitive_and_insensitive_operators() -> None:
    doc = ev(process__name="NPing.EXE")
    assert not matches('process.name == "nping.exe"', doc)
    assert matches('process.name : "nping.exe"', doc)
    assert matches('process.name : "nping*"', doc)
    assert not matches('process.name like "nping*"', doc)
    assert matches('process.name like~ "nping*"', doc)
    assert not matches('process.name in ("nping.exe")', doc)
    assert matches('process.name in~ ("nping.exe")', doc)
    assert not matches('process.name regex "nping.*"', doc)
    assert matches('process.name regex~ "nping.*"', doc)
    assert not matches('startsWith(process.name, "nping")', doc)
    assert matches('startsWith~(process.name, "nping")', doc)
    assert matches('endsWith~(process.name, ".exe")', doc)
    assert matches('stringContains~(process.name, "ing.e")', doc)
    assert value('indexOf~(process.name, "ping")', doc) == 1
    assert value('indexOf(process.name, "ping")', doc) is None


def test_unicode_case_folding() -> None:
    doc = ev(file__name="Äpfel.TXT")
    assert matches('file.name : "äpfel.txt"', doc)
    assert matches('file.name : "ä*"', doc)
    assert matches('file.name in~ ("äpfel.txt")', doc)
    assert not matches('file.name == "äpfel.TXT"', doc)
    # Lucene's regex~ folds ASCII letters only
    assert matches('file.name regex~ "Äpfel.txt"', doc)
    assert not matches('file.name regex~ "äpfel.txt"', doc)
    # per-character folding: "ß" never equals "SS"
    assert not matches('user.name : "strasse"', ev(user__name="STRAßE"))
    assert matches('user.name : "straße"', ev(user__name="STRAßE"))


def test_wildcards() -> None:
    doc = ev(file__path="/tmp/a.sh")
    assert matches('file.path : "/tmp/?.sh"', doc)
    assert not matches('file.path : "/tmp/??.sh"', doc)
    assert matches('file.path : ("/etc/*", "*.sh")', doc)
    assert matches('file.path like "/tmp/*"', doc)
    # ES has no escape for * in patterns: a backslash is an ordinary character
    assert matches(r'file.path : "a\\*"', ev(file__path="a\\xyz"))
    assert not matches(r'file.path : "a\\*"', ev(file__path="a*"))


def test_colon_on_numbers_and_booleans_is_equality() -> None:
    """`:` against a non-text value is plain equality (ES InsensitiveEquals on a numeric/boolean field)."""
    assert matches('process.pid : "42"', ev(process__pid=42))
    assert matches('process.interactive : "true"', ev(process__interactive=True))
    assert not matches('process.pid : "4*"', ev(process__pid=42))


def test_unsupported_regex_is_a_located_compile_error() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compile_predicate(parse_expression('process.name regex "a&b"'))
    assert "intersection" in str(caught.value)
    assert caught.value.location is not None and caught.value.location.line == 1


# ---------------------------------------------------------------------------------- values and coercions
def test_json_escapes_are_decoded_values() -> None:
    doc = orjson.loads(r'{"process": {"executable": "C:\\Windows\\nping.exe", "title": "caf\u00e9 \"x\""}}')
    assert matches(r'process.executable == "C:\\Windows\\nping.exe"', doc)
    assert matches(r'process.executable : "c:\\windows\\*"', doc)
    assert matches('process.title == "café \\"x\\""', doc)
    assert matches('process.title == "caf\\u{e9} \\"x\\""', doc)


def test_numeric_coercions() -> None:
    assert matches("process.pid == 1", ev(process__pid=1.0))
    assert matches('process.pid == "1"', ev(process__pid=1))
    assert matches("process.pid == 1", ev(process__pid="1"))
    assert not matches("process.pid == 1", ev(process__pid=True))
    assert matches("process.pid >= 10", ev(process__pid=10))
    assert matches("process.pid + 1 == 11", ev(process__pid=10))
    assert value("process.pid / 4", ev(process__pid=10)) == 2


def test_dates() -> None:
    iso = ev(**{"@timestamp": "2017-08-30T20:47:33.000Z"})
    millis = {"@timestamp": 1504126053000}
    for doc in (iso, millis):
        assert matches('@timestamp == "2017-08-30T20:47:33Z"', doc)
        assert matches("@timestamp == 1504126053000", doc)
        assert matches('@timestamp < "2017-08-30T20:47:34Z"', doc)
        assert matches('@timestamp > "2017-08-30T22:47:32+02:00"', doc)
    nanos = {"@timestamp": "1974-03-03T02:22:54.294365140Z"}
    assert matches('@timestamp == "1974-03-03T02:22:54.294365140Z"', nanos)
    assert matches('@timestamp > "1974-03-03T02:22:54.294209140Z"', nanos)
    assert not matches('@timestamp == "1974-03-03T02:22:54.294Z"', nanos)


def test_cidr_match() -> None:
    assert matches('cidrMatch(source.ip, "10.0.0.0/8", "192.168.0.0/16")', ev(source__ip="10.1.2.3"))
    assert matches('cidrMatch(source.ip, "10.0.0.0/8")', ev(source__ip=["8.8.8.8", "10.9.9.9"]))
    assert matches('cidrMatch(source.ip, "fe80::/10")', ev(source__ip="fe80::1"))
    assert not matches('cidrMatch(source.ip, "fe80::/10")', ev(source__ip="10.0.0.1"))
    assert not matches('cidrMatch(source.ip, "10.0.0.0/8")', ev(source__ip="not an ip"))


def test_field_to_field_comparison_is_a_script() -> None:
    """ES's checker rejects `field == field` in queries; the compiler still gives it script meaning (first values,
    three-valued) for trees built by other front ends."""
    same = ast.Comparison("==", ast.Field("process.name"), ast.Field("process.parent.name"))
    differ = ast.Comparison("!=", ast.Field("process.name"), ast.Field("process.parent.name"))
    assert compile_predicate(same)(ev(process__name="sh", process__parent__name="sh"))
    assert not compile_predicate(same)(ev(process__name="sh"))
    assert not compile_predicate(differ)(ev(process__name="sh"))


def test_absent_optional_fields_are_null_literals() -> None:
    """ES turns an unmapped `?f` into the null literal, so `?x == ?y` is true when both are absent
    (test_extra.toml::sequenceOptionalFieldAsQueryKeysOnly)."""
    assert matches("?x == ?y", {})
    assert not matches("?x != ?y", {})
    assert not matches("?x == ?y", {"y": 1})
    assert matches("?x != ?y", {"y": 1})
    assert matches("?x == ?y", {"x": 1, "y": 1})


# ---------------------------------------------------------------------------------------- document shapes
@pytest.mark.parametrize("doc", [
    {"process": {"parent": {"name": "bash"}}},
    {"process.parent.name": "bash"},
    {"process": {"parent.name": "bash"}},
    {"process.parent": {"name": "bash"}},
    {"process": [{"parent": {"name": "zsh"}}, {"parent": {"name": "bash"}}]},
])
def test_nested_flattened_and_mixed_documents(doc: dict) -> None:
    assert matches('process.parent.name == "bash"', doc)
    assert matches('process.parent.name : "BASH"', doc)
    assert matches('process.parent.name in ("bash", "sh")', doc)
    assert not matches('process.parent.name == "sh"', doc)


def test_non_object_along_the_path_is_missing() -> None:
    for doc in ({"process": "bash"}, {"process": None}, {"process": ["bash"]}, {"process": {"parent": 3}}):
        assert not matches('process.parent.name == "bash"', doc)
        assert matches("process.parent.name == null", doc)


# ---------------------------------------------------------------------------------------------- event filter
NPING = ('process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", '
         '"exec_event", "start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"')


def nping_event(**over: object) -> dict:
    doc = {"event": {"category": ["process"], "type": ["start"], "action": "exec"},
           "host": {"os": {"type": "linux"}}, "process": {"name": "nping"}}
    for key, v in over.items():
        section, field = key.split("__")
        doc[section][field] = v
    return doc


def test_nping_rule() -> None:
    rule = compile_event_filter(parse(NPING).body)
    assert rule(nping_event())
    assert rule(nping_event(event__action="process_started"))
    assert rule(nping_event(event__type=["start", "info"], event__category="process"))
    assert not rule(nping_event(process__name="Nping"))
    assert not rule(nping_event(event__category=["network"]))
    assert not rule(nping_event(event__type=["end"]))
    assert not rule(nping_event(event__action="fork"))
    assert not rule({})
    flat = {"event.category": "process", "event.type": "start", "event.action": "exec", "host.os.type": "linux",
            "process.name": "nping"}
    assert rule(flat)


def test_category_filter() -> None:
    doc = {"event": {"category": ["network", "process"]}, "x": 1}
    assert compile_event_filter(parse("process where x == 1").body)(doc)
    assert compile_event_filter(parse("network where true").body)(doc)
    assert not compile_event_filter(parse("file where true").body)(doc)
    assert compile_event_filter(parse("any where x == 1").body)({"x": 1})
    assert not compile_event_filter(parse("Process where true").body)(doc)  # case-sensitive term
    custom = compile_event_filter(parse("process where true").body, category_field="event_type")
    assert custom({"event_type": "process"})


# ------------------------------------------------------------------------------------- inlined numeric ranges
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(-10, 10, allow_nan=False)
    | st.sampled_from(["", "3", "10", "-2.5", "abc", "4.0"]),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON_VALUES, op=st.sampled_from(["<", "<=", ">", ">="]),
       literal=st.sampled_from([4, -2.5, 0, 3.0, 10]), flipped=st.booleans())
def test_inlined_numeric_range_agrees_with_values_order(value: object, op: str, literal: object,
                                                        flipped: bool) -> None:
    """`field op number` is generated as plain Python ordering for numbers; every value must give exactly what the
    general range semantics (`semantics.values_order` over each indexed value) gives."""
    from vigil.engine.fields import normalise, values_of
    from vigil.eql import semantics as sem

    text = f"{literal} {({'<': '>', '<=': '>=', '>': '<', '>=': '<='})[op]} x.n" if flipped else f"x.n {op} {literal}"
    doc = ev(x__n=value)
    test = sem.order_test(op)
    expected = any(
        order is not None and test(order)
        for order in (sem.values_order(v, literal) for v in values_of(normalise(value)))
    )
    assert matches(text, doc) is expected
    assert compile_event_filter(parse(f"any where {text} and x.n != null").body)(doc) is expected
