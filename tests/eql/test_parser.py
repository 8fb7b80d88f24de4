"""The trees the parser builds: precedence, flattening, literals, names, functions, queries, positions."""

from __future__ import annotations

import pytest

from vigil.eql import ast, parse, parse_expression
from vigil.eql.ast import (And, Arithmetic, Comparison, Field, FunctionCall, InSet, Literal, Match, Negate, Not,
                           Or)


def e(text: str) -> ast.Expr:
    return parse_expression(text)


A, B, C, D = (Field(n) for n in "abcd")


def test_nping_rule_tree() -> None:
    q = parse('process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", '
              '"exec_event", "start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"')
    assert q.pipes == ()
    assert q.body.category == "process"
    cond = q.body.condition
    assert isinstance(cond, And) and len(cond.operands) == 4
    assert cond.operands[3] == Comparison("==", Field("process.name"), Literal("nping"))
    assert cond.operands[2] == InSet(Field("event.action"), tuple(Literal(v) for v in (
        "exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started")))


@pytest.mark.parametrize("text,tree", [
    ("a and b and c", And((A, B, C))),
    ("a and (b and c)", And((A, B, C))),
    ("a or b or c or d", Or((A, B, C, D))),
    ("a or b and c", Or((A, And((B, C))))),
    ("a and b or c and d", Or((And((A, B)), And((C, D))))),
    ("(a or b) and c", And((Or((A, B)), C))),
    ("not a and b", And((Not(A), B))),
    ("not a or b", Or((Not(A), B))),
    ("not (a or b)", Not(Or((A, B)))),
    ("not a == 1", Not(Comparison("==", A, Literal(1)))),
    ("a == 1 and not b", And((Comparison("==", A, Literal(1)), Not(B)))),
])
def test_boolean_precedence_and_flattening(text: str, tree: ast.Expr) -> None:
    assert e(text) == tree


@pytest.mark.parametrize("text,tree", [
    ("1 + 2 * 3", Arithmetic("+", Literal(1), Arithmetic("*", Literal(2), Literal(3)))),
    ("1 - 2 - 3", Arithmetic("-", Arithmetic("-", Literal(1), Literal(2)), Literal(3))),
    ("a % 2 / 3", Arithmetic("/", Arithmetic("%", A, Literal(2)), Literal(3))),
    ("-a * b", Arithmetic("*", Negate(A), B)),
    ("1 * -2 <= -3 * 4", Comparison("<=", Arithmetic("*", Literal(1), Negate(Literal(2))),
                                    Arithmetic("*", Negate(Literal(3)), Literal(4)))),
    ("+a", A),
    ("a + 1 == 2 in (1)", Comparison("==", Arithmetic("+", A, Literal(1)), InSet(Literal(2), (Literal(1),)))),
])
def test_arithmetic_and_comparison_precedence(text: str, tree: ast.Expr) -> None:
    assert e(text) == tree


@pytest.mark.parametrize("text,value", [
    ("null", None), ("true", True), ("false", False), ("5", 5), ("8589934592", 8589934592), ("5.2", 5.2),
    ("5e14", 5e14), (".5", 0.5), ("1.", 1.0), ("1E-3", 0.001),
    ('"hello \\" world!"', 'hello " world!'), ('"hello\'world"', "hello'world"), ('"a\\nb\\tc\\rd"', "a\nb\tc\rd"),
    ('"a\\\\b"', "a\\b"), ('"\\b\\f"', "\b\f"), ('"\\u{41}\\u{00Eb}\\u{1F4A9}\\u{00000000}"', "Aë\U0001F4A9\x00"),
    ('"foo\\\\u{123f}oo"', "foo\\u{123f}oo"),
    ('"""hello"world"""', 'hello"world'), ('"""hello\\nworld"""', "hello\\nworld"), ('""""""', ""),
    ('"""""hello""world!""""', '""hello""world!"'),
])
def test_literals(text: str, value: object) -> None:
    node = e(text)
    assert isinstance(node, Literal) and node.value == value and type(node.value) is type(value)


@pytest.mark.parametrize("text,field", [
    ("process.name", Field("process.name")),
    ("@timestamp", Field("@timestamp")),
    ("?process.name", Field("process.name", optional=True)),
    ("`my field`.x", Field("my field.x")),
    ("`table`.`@timestamp`", Field("table.@timestamp")),
    ("```test``table```.x", Field("`test`table`.x")),
    ("`sequence`", Field("sequence")),
])
def test_field_names(text: str, field: Field) -> None:
    node = e(text + " == 1")
    assert node.left == field and node.left.optional == field.optional


@pytest.mark.parametrize("text,tree", [
    ('a : "x*"', Match(":", A, (Literal("x*"),))),
    ('a : ("x*", "y")', Match(":", A, (Literal("x*"), Literal("y")), list_form=True)),
    ('a like~ "X"', Match("like~", A, (Literal("X"),))),
    ('a regex ".*"', Match("regex", A, (Literal(".*"),))),
    ('a regex~ (".*", "b")', Match("regex~", A, (Literal(".*"), Literal("b")), list_form=True)),
    ("a in (1, 2)", InSet(A, (Literal(1), Literal(2)))),
    ("a not in (1)", InSet(A, (Literal(1),), negated=True)),
    ('a in~ ("x")', InSet(A, (Literal("x"),), case_insensitive=True)),
    ('a not in~ ("x")', InSet(A, (Literal("x"),), case_insensitive=True, negated=True)),
])
def test_string_matching_and_sets(text: str, tree: ast.Expr) -> None:
    assert e(text) == tree


def test_match_case_rules() -> None:
    assert e('a : "x"').case_insensitive and e('a like~ "x"').case_insensitive and e('a regex~ "x"').case_insensitive
    assert not e('a like "x"').case_insensitive and not e('a regex "x"').case_insensitive


@pytest.mark.parametrize("text,name,insensitive", [
    ('cidrmatch(a, "10.0.0.0/8")', "cidrMatch", False),
    ('CIDRMATCH(a, "10.0.0.0/8")', "cidrMatch", False),
    ('startswith~(a, "x")', "startsWith", True),
    ('stringContains~(a, "x")', "stringContains", True),
    ("LENGTH(a)", "length", False),
])
def test_function_names_are_canonical(text: str, name: str, insensitive: bool) -> None:
    node = e(text)
    assert isinstance(node, FunctionCall)
    assert (node.name, node.case_insensitive) == (name, insensitive)


def test_categories() -> None:
    assert parse("any where true").body.category is None
    assert parse('"my-event" where true').body.category == "my-event"
    assert parse('"""6event""" where true').body.category == "6event"
    assert parse("Process where true").body.category == "Process"


def test_sequence_tree() -> None:
    q = parse("sequence by host.id with maxspan=5m\n"
              "  [process where true] by process.pid with runs=2\n"
              "  ![file where true] by process.pid\n"
              "  [network where true] by process.ppid\n"
              "until [process where false] by process.pid\n"
              "| tail 3")
    seq = q.body
    assert isinstance(seq, ast.Sequence)
    assert seq.by == (Field("host.id"),)
    assert seq.maxspan == ast.TimeSpan(5, "m") and seq.maxspan.millis == 300_000
    assert [s.runs for s in seq.steps] == [2, 1, 1]
    assert [s.missing for s in seq.steps] == [False, True, False]
    assert [s.query.category for s in seq.steps] == ["process", "file", "network"]
    assert seq.steps[2].by == (Field("process.ppid"),)
    assert seq.until.query.category == "process" and seq.until.by == (Field("process.pid"),)
    assert q.pipes == (ast.Pipe("tail", 3),)


def test_sequence_with_runs_alone_counts_as_two_queries() -> None:
    seq = parse("sequence [process where true] with runs=2").body
    assert len(seq.steps) == 1 and seq.steps[0].runs == 2


def test_sample_tree() -> None:
    sample = parse("sample by host.id [process where true] by a [file where true] by b").body
    assert isinstance(sample, ast.Sample)
    assert sample.by == (Field("host.id"),)
    assert [s.by for s in sample.steps] == [(A,), (B,)]


def test_pipes_in_order() -> None:
    assert parse("any where true | head 5 | tail 2").pipes == (ast.Pipe("head", 5), ast.Pipe("tail", 2))


def test_positions_point_at_the_first_character() -> None:
    q = parse('process where\n  a == 1 and\n  startsWith(b, "x")')
    assert q.body.pos == (1, 1)
    cond = q.body.condition
    assert cond.pos == (2, 3)
    assert cond.operands[0].pos == (2, 3) and cond.operands[0].right.pos == (2, 8)
    call = cond.operands[1]
    assert call.pos == (3, 3) and call.args[0].pos == (3, 14) and call.args[1].pos == (3, 17)


def test_positions_do_not_affect_equality() -> None:
    assert parse("process where a == 1") == parse("process   where\n\n a==1")


def test_comments_are_ignored() -> None:
    assert parse("// leading\nprocess where /* inline */ a == 1 // trailing") == parse("process where a == 1")
