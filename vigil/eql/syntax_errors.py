"""Lark's parse failures -> located `EqlSyntaxError`s a detection engineer can act on.

`translate(error, text, lark)` is the only entry point; `vigil.eql.parser` calls it for every
UnexpectedCharacters / UnexpectedToken / UnexpectedEOF, so no Lark exception or traceback reaches a user.
The caret points at the offending token; the hint guesses the intent: `=` -> `==`, single quotes -> double
quotes, a missing `where`, `]` or `)`, a trailing operator, uppercase keywords, chained comparisons.
"""

from __future__ import annotations

import typing as t

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from vigil.errors import EqlError, EqlSyntaxError

__all__ = ["translate", "KEYWORDS"]

_TOKEN_WORDS = {
    "AND": "`and`", "ANY": "`any`", "BY": "`by`", "FALSE": "`false`", "IN": "`in`", "MAXSPAN": "`maxspan`",
    "NOT": "`not`", "NULL": "`null`", "OR": "`or`", "SAMPLE": "`sample`", "SEQUENCE": "`sequence`",
    "TRUE": "`true`", "UNTIL": "`until`", "WHERE": "`where`", "WITH": "`with`", "JOIN": "`join`", "OF": "`of`",
    "IN_CI": "`in~`", "MATCH_OP": "`:`/`like`/`regex`", "COMP_OP": "a comparison", "ASSIGN": "`=`",
    "ADD_OP": "`+`/`-`", "MUL_OP": "`*`/`/`/`%`", "PIPE": "`|`", "LSQB": "`[`", "RSQB": "`]`",
    "MISSING_OPEN": "`![`", "OPTIONAL": "`?`", "TILDE_NAME": "a function name", "NAME": "a name",
    "QUOTED_IDENTIFIER": "a `backquoted` name", "RAW_STRING": "a string", "STRING": "a string",
    "SINGLE_QUOTED": "a string", "QMARK_STRING": "a string", "DECIMAL": "a number", "INTEGER": "a number",
    "LPAR": "`(`", "RPAR": "`)`", "COMMA": "`,`", "DOT": "`.`", "$END": "the end of the query",
}
KEYWORDS = frozenset({"and", "any", "by", "false", "in", "maxspan", "not", "null", "or", "sample", "sequence", "true",
             "until", "where", "with", "like", "regex", "join", "of"})
_OPERATOR_TOKENS = {"AND", "OR", "NOT", "COMP_OP", "ADD_OP", "MUL_OP", "MATCH_OP", "IN", "IN_CI", "ASSIGN", "COMMA",
                    "WHERE", "BY", "PIPE"}


def _describe_expected(expected: t.Iterable[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(name, name) for name in expected if not name.startswith("__")})
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _previous_token(text: str, index: int, lark: Lark) -> Token | None:
    """The token that ends just before `index` (whitespace and comments skipped), by re-lexing the prefix."""
    try:
        tokens = list(lark.lex(text[:index], dont_ignore=False))
    except UnexpectedInput:
        return None
    return tokens[-1] if tokens else None


def _previous_token_type(text: str, index: int, lark: Lark) -> str | None:
    token = _previous_token(text, index, lark)
    return token.type if token is not None else None


def translate(error: UnexpectedInput, text: str, lark: Lark) -> EqlError:
    """The EqlSyntaxError for a Lark failure on `text`; `lark` (the same grammar) re-lexes to see context."""
    if isinstance(error, UnexpectedCharacters):
        return _unexpected_characters(error, text)
    if isinstance(error, UnexpectedToken):
        return _unexpected_token(error, text, lark)
    if isinstance(error, UnexpectedEOF):
        line, column = _line_col(text, len(text.rstrip()))
        return EqlSyntaxError("unexpected end of query", text, line, column,
                              hint=f"expected {_describe_expected(error.expected)}")
    line, column = getattr(error, "line", 1), getattr(error, "column", 1)  # pragma: no cover - other Lark errors
    return EqlSyntaxError(str(error).splitlines()[0], text, line, column)  # pragma: no cover


def _unexpected_characters(error: UnexpectedCharacters, text: str) -> EqlSyntaxError:
    char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
    line, column = error.line, error.column
    if char == "'":
        return EqlSyntaxError("Use double quotes [\"] to define string literals, not single quotes [']", text, line,
                              column, hint="single quotes are legacy EQL; unterminated strings also land here")
    if char == '"':
        return EqlSyntaxError("unterminated string", text, line, column,
                              hint='a string ends with " on the same line; write a quote inside it as \\"')
    if char == "`":
        return EqlSyntaxError("unterminated backquoted name", text, line, column,
                              hint="close it with `, and write a backquote inside it as ``")
    if text.startswith(("&&", "||"), error.pos_in_stream):
        word = "and" if char == "&" else "or"
        return EqlSyntaxError(f"unexpected {text[error.pos_in_stream:error.pos_in_stream + 2]}", text, line, column,
                              width=2, hint=f"did you mean `{word}`?")
    if char == "~":
        return EqlSyntaxError("unexpected ~", text, line, column,
                              hint="`~` only follows a function name (startsWith~), `in~`, `like~` or `regex~`")
    if char == "!":
        return EqlSyntaxError("unexpected !", text, line, column, hint="negate with `not`; compare with `!=`")
    shown = repr(char)[1:-1] if char else "end of query"
    hint = None
    if error.allowed:
        hint = f"expected {_describe_expected(error.allowed)}"
    return EqlSyntaxError(f"unexpected character '{shown}'", text, line, column, hint=hint)


def _unexpected_token(error: UnexpectedToken, text: str, lark: Lark) -> EqlError:
    token = error.token
    expected = set(error.expected or ())
    if token.type == "$END":
        index = len(text.rstrip())
        line, column = _line_col(text, index)
        last = _previous_token(text, index, lark)
        if last is not None and last.type in _OPERATOR_TOKENS:
            return EqlSyntaxError(f"the query ends with the operator {str(last)!r}", text, last.line, last.column,
                                  width=len(str(last)),
                                  hint=f"something must follow it: expected {_describe_expected(expected)}")
        if "RSQB" in expected:
            return EqlSyntaxError("missing `]`", text, line, column, hint="a sequence or sample step ends with ]")
        if "LSQB" in expected and "MISSING_OPEN" in expected:
            return EqlSyntaxError("the query ends before its steps", text, line, column,
                                  hint="a sequence or sample needs steps: [process where ...] [network where ...]")
        if "RPAR" in expected:
            return EqlSyntaxError("missing `)`", text, line, column, hint="every ( needs a matching )")
        if "WHERE" in expected:
            return EqlSyntaxError("missing `where`", text, line, column,
                                  hint='write `<category> where <condition>`, e.g. process where true')
        return EqlSyntaxError("unexpected end of query", text, line, column,
                              hint=f"expected {_describe_expected(expected)}")

    line, column, width = token.line, token.column, max(1, min(len(str(token)), 40))
    value = str(token)

    def fail(message: str, hint: str | None = None) -> EqlSyntaxError:
        return EqlSyntaxError(message, text, line, column, hint=hint, width=width)

    if token.type == "ASSIGN":
        return fail("Use == to compare, not =", "did you mean `==`?")
    if value.lower() in KEYWORDS and value != value.lower():
        return fail(f"unexpected {value}", f"EQL keywords are lowercase: did you mean `{value.lower()}`?")
    if "WHERE" in expected and not {"COMP_OP", "MATCH_OP"} & expected:
        return fail(f"missing `where` before {value!r}", "write `<category> where <condition>`, e.g. process where true")
    previous = _previous_token_type(text, token.start_pos, lark) if token.start_pos is not None else None
    if token.type == "RPAR" and previous == "LPAR":
        return fail("an empty list `()`", "`in` and a function's parentheses need at least one value")
    if token.type == "LSQB" and previous in ("NAME", "QUOTED_IDENTIFIER"):
        return fail("unexpected `[` after a field name",
                    "array indexes are not supported; a comparison on an array field matches any element")
    if token.type in ("RSQB", "RPAR"):
        return fail(f"unbalanced `{value}`", f"expected {_describe_expected(expected)}")
    if previous == "MATCH_OP":
        return fail(f"unexpected {value!r}: the pattern of `:`, `like` and `regex` must be a string constant",
                    'write e.g. process.name : "nping*", or a list: process.name : ("a*", "b*")')
    if token.type == "COMP_OP" and previous not in _OPERATOR_TOKENS:
        return fail(f"unexpected {value!r}: comparisons do not chain", "combine comparisons with `and`")
    if token.type in ("SINGLE_QUOTED", "QMARK_STRING"):
        return fail("Use double quotes [\"] to define string literals, not single quotes [']")
    return fail(f"unexpected {value!r}", f"expected {_describe_expected(expected)}")
