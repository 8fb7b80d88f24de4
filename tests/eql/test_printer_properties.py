"""Property: for any tree the parser can produce, parse(to_eql(tree)) == tree. Trees are generated directly, so
the printer's parenthesisation and escaping are tested on shapes no fixture thought of."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.eql import ast, parse, parse_expression, to_eql

# Any text a string literal can hold (surrogates cannot be written in EQL, so exclude them).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
name_part = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
                      st.sampled_from(["@timestamp", "my field", "a-b", "sequence", "6x", "back`quote"]))
field = st.builds(lambda parts, opt: ast.Field(".".join(parts), opt), st.lists(name_part, min_size=1, max_size=3),
                  st.booleans())
number = st.one_of(st.integers(min_value=0, max_value=10**20),
                   st.floats(min_value=0, max_value=1e30, allow_nan=False, allow_infinity=False))
constant = st.one_of(st.builds(ast.Literal, number), st.builds(ast.Literal, text),
                     st.sampled_from([ast.Literal(None), ast.Literal(True), ast.Literal(False)]))


def _arith(children):
    return st.builds(ast.Arithmetic, st.sampled_from(ast.ARITHMETIC_OPS), children, children)


# Values: fields, constants, arithmetic, negation, and functions that accept anything of the kind generated.
value = st.recursive(
    st.one_of(field, constant),
    lambda inner: st.one_of(_arith(inner), st.builds(ast.Negate, inner),
                            st.builds(lambda v: ast.FunctionCall("length", (v,)), field),
                            st.builds(lambda a, b: ast.FunctionCall("concat", (a, b)), inner, inner)),
    max_leaves=6,
)
# Constant-only values (Elasticsearch compares a field with a constant, never two fields).
folded = st.recursive(constant, lambda inner: st.one_of(_arith(inner), st.builds(ast.Negate, inner)), max_leaves=4)

predicate = st.one_of(
    st.builds(ast.Comparison, st.sampled_from(ast.COMPARISON_OPS), value, folded),
    st.builds(ast.InSet, value, st.lists(folded, min_size=1, max_size=3).map(tuple), st.booleans(), st.booleans()),
    st.builds(lambda kind, v, pats, lf: ast.Match(kind, v, tuple(pats), lf or len(pats) > 1),
              st.sampled_from(ast.MATCH_KINDS), value, st.lists(st.builds(ast.Literal, text), min_size=1,
                                                                 max_size=3), st.booleans()),
    st.builds(lambda a, b, ci: ast.FunctionCall("startsWith", (a, b), ci), field, st.builds(ast.Literal, text),
              st.booleans()),
    field,
)


def _flat(kind):
    def build(operands):
        flat = []
        for op in operands:  # the parser flattens nested And/Or of the same kind
            flat.extend(op.operands if type(op) is kind else (op,))
        return kind(tuple(flat))
    return build


condition = st.recursive(
    predicate,
    lambda inner: st.one_of(st.builds(ast.Not, inner),
                            st.lists(inner, min_size=2, max_size=3).map(_flat(ast.And)),
                            st.lists(inner, min_size=2, max_size=3).map(_flat(ast.Or))),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(condition)
def test_any_condition_round_trips(tree: ast.Expr) -> None:
    printed = to_eql(tree)
    assert parse_expression(printed) == tree, printed
    assert to_eql(parse_expression(printed)) == printed


category = st.one_of(st.none(), st.sampled_from(["process", "file", "my-cat", "any", "where", "6x"]))
event = st.builds(ast.EventQuery, category, condition)
step = st.builds(ast.SequenceStep, event, st.just((ast.Field("k"),)), st.integers(1, 3))


@settings(max_examples=40, deadline=None)
@given(st.one_of(
    st.builds(ast.Query, event, st.lists(st.builds(ast.Pipe, st.sampled_from(["head", "tail"]),
                                                   st.integers(0, 99)), max_size=2).map(tuple)),
    st.builds(lambda steps, span: ast.Query(ast.Sequence(tuple(steps), (ast.Field("host.id"),), span)),
              st.lists(step, min_size=2, max_size=3),
              st.one_of(st.none(), st.builds(ast.TimeSpan, st.integers(1, 999), st.sampled_from(list(
                  ast.TimeSpan.UNIT_MS))))),
    st.builds(lambda steps: ast.Query(ast.Sample(tuple(steps))),
              st.lists(st.builds(ast.SequenceStep, event, st.just((ast.Field("k"),))), min_size=2, max_size=3)),
))
def test_any_query_round_trips(tree: ast.Query) -> None:
    printed = to_eql(tree)
    assert parse(printed) == tree, printed
