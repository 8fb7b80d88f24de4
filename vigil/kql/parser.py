"""KQL text -> `vigil.kql.tree`, accepting exactly what Kibana's kuery grammar accepts.

    parse_kql(text) -> tree.Node     raises KqlSyntaxError (line:column, caret, hint)

What the grammar does (facts from kbn-es-query `grammar.peggy`, checked against the prebuilt rules):
- `or`, `and`, `not` are case-insensitive and only keywords with whitespace around them; precedence
  not > and > or; parentheses group.
- `field:value`, `field:"phrase"`, `field:(v1 or v2 and not v3)` (one `is` per value), `field < v` (also <= > >=),
  `field:{ nested query }`, and a bare value without a field (free text).
- Unquoted values may hold inner whitespace and are trimmed; `\\` escapes ( ) : < > " * { } \\ and the keywords,
  `\\t \\r \\n \\uXXXX` are characters; `*` is a wildcard (the only one). The unquoted words true, false and null
  are JSON constants. In quotes only `\\"`, `\\\\`, `\\t \\r \\n \\uXXXX` are escapes and `*` is a plain character.
- The empty query matches everything.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from vigil.kql import tree
from vigil.kql.errors import KqlSyntaxError

__all__ = ["parse_kql"]

_LARK = Lark(
    Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    propagate_positions=True,
    maybe_placeholders=False,
    cache=True,
)


def parse_kql(text: str) -> tree.Node:
    """Parse one KQL query. Never lets a Lark exception out: every failure is a located KqlSyntaxError."""
    if not isinstance(text, str):
        raise KqlSyntaxError(f"a KQL query must be text, not {type(text).__name__}")
    try:
        parsed = _LARK.parse(text)
        return _TreeBuilder(text).transform(parsed)
    except VisitError as error:
        if isinstance(error.orig_exc, KqlSyntaxError):
            raise error.orig_exc from None
        raise
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    except RecursionError:
        raise KqlSyntaxError("the query nests too deeply to parse", text, 1, 1,
                             hint="remove redundant parentheses") from None


# ------------------------------------------------------------------------------------------------ literals
# One unquoted character, in the grammar's order: escaped whitespace, escaped special character, \uXXXX, escaped
# keyword, the wildcard, anything else. `\n` wins over `\not` because the grammar tries escaped whitespace first.
_UNQUOTED_CHAR = re.compile(
    r'\\(?P<ws>[trn])|\\(?P<special>[\\():<>"*{}])|\\u(?P<hex>[0-9a-fA-F]{4})|\\(?P<keyword>(?i:or|and|not))'
    r"|(?P<star>\*)|(?P<char>.)",
    re.DOTALL,
)
_QUOTED_CHAR = re.compile(r'\\(?P<ws>[trn])|\\u(?P<hex>[0-9a-fA-F]{4})|\\(?P<esc>["\\])|(?P<char>.)', re.DOTALL)
_WHITESPACE = {"t": "\t", "r": "\r", "n": "\n"}
_CONSTANTS = {"true": True, "false": False, "null": None}


def _unquoted(token: Token) -> tree.Value:
    parts: list[tree.Part] = []
    buffer: list[str] = []
    for m in _UNQUOTED_CHAR.finditer(str(token)):
        if m.group("star"):
            if buffer:
                parts.append("".join(buffer))
                buffer = []
            parts.append(tree.WILDCARD)
            continue
        if m.group("ws"):
            buffer.append(_WHITESPACE[m.group("ws")])
        elif m.group("hex"):
            buffer.append(chr(int(m.group("hex"), 16)))
        else:
            buffer.append(m.group("special") or m.group("keyword") or m.group("char"))
    if buffer:
        parts.append("".join(buffer))
    # Kibana trims the whole sequence (JavaScript `trim`), so escaped whitespace at either end goes too.
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    parts = [p for p in parts if p != ""]
    pos = (token.line, token.column)
    if len(parts) == 1 and isinstance(parts[0], str) and parts[0] in _CONSTANTS:
        return tree.Value(tuple(parts), constant=_CONSTANTS[parts[0]], pos=pos)
    return tree.Value(tuple(parts), pos=pos)


def _quoted(token: Token) -> tree.Value:
    chars = []
    for m in _QUOTED_CHAR.finditer(str(token)[1:-1]):
        if m.group("ws"):
            chars.append(_WHITESPACE[m.group("ws")])
        elif m.group("hex"):
            chars.append(chr(int(m.group("hex"), 16)))
        else:
            chars.append(m.group("esc") or m.group("char"))
    text = "".join(chars)
    return tree.Value((text,) if text else (), quoted=True, pos=(token.line, token.column))


def _pos(meta: t.Any) -> tree.Pos:
    return None if getattr(meta, "empty", True) else (meta.line, meta.column)


# ---------------------------------------------------------------------------------------------- tree builder
@v_args(meta=True)
class _TreeBuilder(Transformer):
    """Lark tree -> kql tree. A value list is built as a "partial" (a function of the field), as Kibana does, so
    `f:(a or not b)` becomes or(is(f, a), not(is(f, b)))."""

    def __init__(self, text: str):
        super().__init__(visit_tokens=False)
        self.text = text

    def start(self, meta, children):
        return children[0] if children else tree.MatchAll(pos=(1, 1))

    def or_(self, meta, children):
        if any(callable(c) for c in children):
            return lambda f: tree.Or(tuple(c(f) for c in children), pos=_pos(meta))
        return tree.Or(tuple(children), pos=_pos(meta))

    def and_(self, meta, children):
        if any(callable(c) for c in children):
            return lambda f: tree.And(tuple(c(f) for c in children), pos=_pos(meta))
        return tree.And(tuple(children), pos=_pos(meta))

    def not_(self, meta, children):
        operand = children[-1]
        pos = (children[0].line, children[0].column)
        if callable(operand):
            return lambda f: tree.Not(operand(f), pos=pos)
        return tree.Not(operand, pos=pos)

    def literal(self, meta, children):
        token = children[0]
        return _quoted(token) if token.type == "QUOTED" else _unquoted(token)

    def field(self, meta, children):
        return children[0]

    def value(self, meta, children):
        value = children[0]
        return lambda f: tree.Is(f, value, pos=f.pos)

    def field_value(self, meta, children):
        field, partial = children
        return partial(field)

    def free_text(self, meta, children):
        return tree.Is(None, children[0], pos=children[0].pos)

    def range(self, meta, children):
        field, op, value = children
        return tree.Range(field, str(op), value, pos=field.pos)

    def nested(self, meta, children):
        path, query = children
        return tree.Nested(path, query, pos=path.pos)


# ---------------------------------------------------------------------------------------------- errors
_TOKEN_WORDS = {
    "_OR": "`or`", "_AND": "`and`", "NOT": "`not`", "LPAR": "`(`", "RPAR": "`)`", "LBRACE": "`{`",
    "RBRACE": "`}`", "COLON": "`:`", "RANGE_OP": "`<`/`<=`/`>`/`>=`", "QUOTED": "a quoted value",
    "UNQUOTED": "a field or value", "$END": "the end of the query",
}


def _expected(names: t.Iterable[str]) -> str:
    return ", ".join(sorted({_TOKEN_WORDS.get(n, n) for n in names}))


def _line_col(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _syntax_error(error: UnexpectedInput, text: str) -> KqlSyntaxError:
    if isinstance(error, UnexpectedCharacters):
        index = error.pos_in_stream
        char = text[index] if index < len(text) else ""
        line, column = error.line, error.column
        if char == '"':
            return KqlSyntaxError("unterminated quoted value", text, line, column,
                                  hint='close it with `"`; write \\" for a quote inside it')
        if char == "\\":
            return KqlSyntaxError(f"unknown escape `{text[index:index + 2]}`", text, line, column, width=2,
                                  hint='KQL escapes \\( \\) \\: \\< \\> \\" \\* \\{ \\} \\\\, \\or \\and \\not, '
                                       "\\t \\r \\n and \\uXXXX; other characters need no backslash")
        if char in "*":
            return KqlSyntaxError("unexpected `*`", text, line, column, hint="write \\* for a literal star")
        message = f"unexpected `{char}`" if char else "unexpected end of query"
        return KqlSyntaxError(message, text, line, column, hint=f"expected {_expected(error.allowed or ())}")
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            line, column = _line_col(text, len(text.rstrip()))
            return KqlSyntaxError("unexpected end of query", text, line, column,
                                  hint=f"expected {_expected(error.expected)}")
        shown = str(token).strip() or str(token)
        hint = f"expected {_expected(error.expected)}"
        if token.type == "NOT":
            hint += "; `not` negates a whole condition: write `a:b and not c:d`, not `a:b not c:d`"
        elif token.type in ("UNQUOTED", "QUOTED") and "_OR" in error.expected:
            hint += "; two values in a row need `or`/`and` between them"
        line, column = token.line, token.column
        # keyword tokens start with their leading whitespace: point at the word itself
        offset = len(str(token)) - len(str(token).lstrip())
        if offset:
            line, column = _line_col(text, token.start_pos + offset)
        return KqlSyntaxError(f"unexpected `{shown}`", text, line, column, width=max(1, min(len(shown), 40)),
                              hint=hint)
    if isinstance(error, UnexpectedEOF):  # pragma: no cover - LALR reports $END as UnexpectedToken
        line, column = _line_col(text, len(text.rstrip()))
        return KqlSyntaxError("unexpected end of query", text, line, column)
    return KqlSyntaxError(str(error).splitlines()[0], text, 1, 1)  # pragma: no cover
