"""The KQL grammar: what Kibana's kuery grammar accepts, and how it reads it."""

from __future__ import annotations

import pytest

from vigil.errors import EqlSyntaxError
from vigil.kql import KqlSyntaxError, parse_kql
from vigil.kql.tree import WILDCARD, And, Is, MatchAll, Nested, Not, Or, Range, Value


def _is(field: str, *parts, quoted=False, constant=...):
    return Is(Value((field,)), Value(tuple(parts), quoted=quoted, constant=constant))


def test_field_value_and_whitespace_around_the_colon():
    assert parse_kql("process.name:nping") == _is("process.name", "nping")
    assert parse_kql("  process.name :  nping  ") == _is("process.name", "nping")


def test_precedence_is_not_then_and_then_or():
    q = parse_kql("a:1 or b:2 and not c:3")
    assert q == Or((_is("a", "1"), And((_is("b", "2"), Not(_is("c", "3"))))))


def test_parentheses_group():
    q = parse_kql("(a:1 or b:2) and c:3")
    assert q == And((Or((_is("a", "1"), _is("b", "2"))), _is("c", "3")))


@pytest.mark.parametrize("text", ["a:1 OR b:2", "a:1 Or b:2", "a:1 or b:2", "a:1\nor\tb:2"])
def test_keywords_are_case_insensitive_and_need_whitespace(text):
    assert parse_kql(text) == Or((_is("a", "1"), _is("b", "2")))


def test_keywords_inside_words_are_text():
    assert parse_kql("a:orange") == _is("a", "orange")
    assert parse_kql("a:band") == _is("a", "band")
    assert parse_kql("a:nothing") == _is("a", "nothing")
    # `or` at the very end has no whitespace after it, so it is part of the value (as in Kibana)
    assert parse_kql("a:b or") == _is("a", "b or")
    # after `and `, a word `and` starts the next field name (it has no whitespace before it)
    assert parse_kql("a:b and and c:d") == And((_is("a", "b"), _is("and c", "d")))


def test_unquoted_values_keep_inner_whitespace_and_are_trimmed():
    assert parse_kql("process.title:runc init") == _is("process.title", "runc init")
    assert parse_kql("a:( b c )") == _is("a", "b c")


def test_not_needs_whitespace_after_it_even_inside_a_value():
    with pytest.raises(KqlSyntaxError) as info:
        parse_kql("a:cannot x")
    assert (info.value.line, info.value.column) == (1, 6)
    assert "not" in str(info.value)


def test_value_lists_give_one_is_per_value():
    q = parse_kql("a:(x or y and not z)")
    assert q == Or((_is("a", "x"), And((_is("a", "y"), Not(_is("a", "z"))))))


def test_nested_value_lists():
    assert parse_kql("a:((x or y) and z)") == And((Or((_is("a", "x"), _is("a", "y"))), _is("a", "z")))


def test_wildcards_are_kept_apart_from_text():
    assert parse_kql("a:*foo*") == _is("a", WILDCARD, "foo", WILDCARD)
    assert parse_kql("a:*") == _is("a", WILDCARD)


def test_escapes_in_unquoted_values():
    assert parse_kql(r"a:foo\*bar") == _is("a", "foo*bar")
    assert parse_kql(r"a:\(x\)\:\<\>\"\{\}\\") == _is("a", '(x):<>"{}\\')
    assert parse_kql(r"a:x\ty") == _is("a", "x\ty")
    assert parse_kql(r"a:\u0041b") == _is("a", "Ab")
    assert parse_kql(r"a:x \or y") == _is("a", "x or y")
    # escaped whitespace is tried first, so \n of \not is a newline (Kibana grammar order)
    assert parse_kql(r"a:x\not") == _is("a", "x\not")


def test_quoted_values():
    assert parse_kql('a:"x y"') == _is("a", "x y", quoted=True)
    assert parse_kql('a:"*"') == _is("a", "*", quoted=True)  # no wildcard in quotes
    assert parse_kql(r'a:"say \"hi\" \\ \d"') == _is("a", 'say "hi" \\ \\d', quoted=True)
    assert parse_kql('a:"x or y"') == _is("a", "x or y", quoted=True)
    assert parse_kql('a:""') == Is(Value(("a",)), Value((), quoted=True))


def test_true_false_null_are_constants_only_unquoted():
    assert parse_kql("a:true") == _is("a", "true", constant=True)
    assert parse_kql("a:false") == _is("a", "false", constant=False)
    assert parse_kql("a:null") == _is("a", "null", constant=None)
    assert parse_kql('a:"true"') == _is("a", "true", quoted=True)
    assert parse_kql("a:True") == _is("a", "True")


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_ranges(op):
    assert parse_kql(f"process.args_count {op} 3") == Range(Value(("process.args_count",)), op, Value(("3",)))


def test_nested_queries():
    q = parse_kql("user:{ name:alice and id:1 }")
    assert q == Nested(Value(("user",)), And((_is("name", "alice"), _is("id", "1"))))


def test_free_text_parses_with_no_field():
    assert parse_kql("hello") == Is(None, Value(("hello",)))


def test_empty_query_matches_all():
    assert isinstance(parse_kql(""), MatchAll)
    assert isinstance(parse_kql("   \n"), MatchAll)


def test_positions_are_line_and_column():
    q = parse_kql("a:1 and\n  b:2")
    assert q.operands[1].pos == (2, 3)


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        ('a:"open', 1, 3, "unterminated quoted value"),
        (r"a:\d", 1, 3, "unknown escape"),
        ("a:(b", 1, 5, "unexpected end"),
        ("a:b)", 1, 4, "unexpected `)`"),
        ("a:b and\n(c:d", 2, 5, "unexpected end"),
        ("not(a:b)", 1, 4, "unexpected `(`"),
        ("a::b", 1, 3, "unexpected `:`"),
    ],
)
def test_syntax_errors_are_located(text, line, column, words):
    with pytest.raises(KqlSyntaxError) as info:
        parse_kql(text)
    error = info.value
    assert isinstance(error, EqlSyntaxError)
    assert (error.line, error.column) == (line, column)
    assert words in str(error)
    assert "^" in str(error)  # the caret line


def test_deep_nesting_is_an_error_not_a_crash():
    text = "(" * 5000 + "a:b" + ")" * 5000
    try:
        parse_kql(text)
    except KqlSyntaxError as error:
        assert "deeply" in str(error)


# ---- no input gives anything but a located KQL error (never a Lark exception or a traceback)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vigil.kql import KqlUnsupportedError, compile_kql  # noqa: E402

_PIECES = st.sampled_from(['a', 'b.c', ':', ' ', '(', ')', '{', '}', '"', '\\', '*', '<', '>=', ' or ', ' and ',
                           'not ', 'true', 'null', '10.0.0.0/8', 'x y', '\n', '?'])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_text_parses_or_fails_with_a_located_error(text):
    try:
        compile_kql(text)
    except (KqlSyntaxError, KqlUnsupportedError) as error:
        assert error.line is not None and error.column is not None
