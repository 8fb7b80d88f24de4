"""EQL text -> typed AST (`vigil.eql.ast`), in the Elasticsearch dialect used by Elastic's detection rules.

    parse(text) -> ast.Query          the whole query: body and pipes; semantically checked
    parse_expression(text) -> ast.Expr  a bare condition, e.g. `process.name : "nping"`; checked

Every failure is an `EqlSyntaxError` or `EqlSemanticError` carrying line, column, the query text (rendered with a
caret) and, when we can guess it, a hint. Lark's own exceptions never escape: `vigil.eql.syntax_errors`
turns them into located EqlSyntaxErrors with hints (`=`, single quotes, missing `where`, brackets, ...).

The grammar (`grammar.lark`) is built once per process (LALR, contextual lexer), so parsing a rule is cheap.
"""

from __future__ import annotations

import difflib
import re
import typing as t
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from vigil.eql import ast
from vigil.eql.functions import lookup
from vigil.eql.syntax_errors import KEYWORDS, translate
from vigil.errors import EqlError, EqlSemanticError, EqlSyntaxError

__all__ = ["parse", "parse_expression"]

_GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")

# Built once: LALR keeps parsing linear and the contextual lexer lets `5m` lex as number + unit.
_LARK = Lark(
    _GRAMMAR_PATH.read_text(encoding="utf-8"),
    parser="lalr",
    lexer="contextual",
    start=["start", "expression_only"],
    propagate_positions=True,
    maybe_placeholders=False,
    # Lark pickles the built tables to the temp directory keyed by the grammar's hash: start-up drops from ~140 ms
    # to a few ms on every run after the first, which matters for a CLI run once per file from scripts.
    cache=True,
)

# Pipes Elasticsearch recognises; only head and tail run there (the rest are legacy endgame EQL).
_SUPPORTED_PIPES = ("head", "tail")
_LEGACY_PIPES = ("count", "filter", "sort", "unique", "unique_count")

_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]*)\}")


# Queries parsed in this process, by text: a rule's query is parsed when it is validated and again when it is
# compiled (and by exceptions, self-tests, the step index...). The AST is immutable, so one tree serves them all.
_PARSED: dict[str, ast.Query] = {}
_PARSED_MAX = 4096


def parse(text: str) -> ast.Query:
    """Parse and check a whole EQL query."""
    from vigil.eql.checker import check

    found = _PARSED.get(text) if isinstance(text, str) else None
    if found is not None:
        return found
    query = _build(text, "start")
    check(query, text)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[text] = query
    return query


def parse_expression(text: str) -> ast.Expr:
    """Parse and check one EQL condition (what follows `where`)."""
    from vigil.eql.checker import check

    expr = _build(text, "expression_only")
    check(expr, text)
    return expr


# ------------------------------------------------------------------------------------------------- driver
def _build(text: str, start: str) -> t.Any:
    if not isinstance(text, str):
        raise EqlSyntaxError(f"an EQL query must be text, not {type(text).__name__}")
    if not text.strip():
        raise EqlSyntaxError("the query is empty", text, 1, 1, hint='write e.g. process where process.name == "nping"')
    try:
        tree = _LARK.parse(text, start=start)
        return _AstBuilder(text).transform(tree)
    except VisitError as error:  # an error raised inside a builder method, wrapped by Lark
        if isinstance(error.orig_exc, EqlError):
            raise error.orig_exc from None
        if isinstance(error.orig_exc, RecursionError):
            raise _too_deep(text) from None
        raise
    except UnexpectedInput as error:
        raise translate(error, text, _LARK) from None
    except RecursionError:
        raise _too_deep(text) from None


def _too_deep(text: str) -> EqlSyntaxError:
    return EqlSyntaxError("the query nests too deeply to parse", text, 1, 1, hint="remove redundant parentheses")


def _pos(item: t.Any) -> ast.Pos:
    if isinstance(item, Token):
        return (item.line, item.column) if item.line is not None else None
    meta = getattr(item, "meta", item)
    if getattr(meta, "empty", True):
        return None
    return (meta.line, meta.column)


def _err(cls: type[EqlError], message: str, text: str, token: t.Any, hint: str | None = None) -> EqlError:
    pos = _pos(token) or (None, None)
    width = len(str(token)) if isinstance(token, Token) else 1
    return cls(message, text, pos[0], pos[1], hint=hint, width=max(1, min(width, 40)))


# ----------------------------------------------------------------------------------------------- builders
@v_args(meta=True)
class _AstBuilder(Transformer):
    """Lark parse tree -> `vigil.eql.ast` nodes, with positions. Raises located EqlErrors for what the grammar
    accepts only to explain (single quotes, `with ... by`, options other than runs, unknown pipes)."""

    def __init__(self, text: str):
        super().__init__(visit_tokens=False)
        self.text = text

    # ---- top level
    def start(self, meta, children):
        return children[0]

    def expression_only(self, meta, children):
        return self._expr(children[0])

    def statement(self, meta, children):
        body, pipes = children[0], tuple(children[1:])
        return ast.Query(body=body, pipes=pipes, pos=_pos(meta))

    def pipe(self, meta, children):
        name = children[1]
        args = [self._expr(c) for c in children[2:]]
        kind = str(name)
        if kind not in _SUPPORTED_PIPES:
            if kind in _LEGACY_PIPES:
                raise _err(EqlSemanticError, f"Pipe [{kind}] is not supported by Elasticsearch EQL", self.text, name,
                           hint="only `| head N` and `| tail N` exist in the Elasticsearch dialect")
            close = difflib.get_close_matches(kind, _SUPPORTED_PIPES + _LEGACY_PIPES, n=1)
            hint = f"did you mean `{close[0]}`?" if close else "the Elasticsearch dialect has `| head N` and `| tail N`"
            raise _err(EqlSyntaxError, f"Unrecognized pipe [{kind}]", self.text, name, hint=hint)
        if len(args) != 1:
            raise _err(EqlSemanticError, f"Pipe [{kind}] expects exactly one argument but found [{len(args)}]",
                       self.text, name, hint=f"write e.g. | {kind} 10")
        arg = args[0]
        if not (isinstance(arg, ast.Literal) and type(arg.value) is int and arg.value >= 0):
            raise EqlSemanticError(f"Pipe [{kind}] expects a positive integer but found [{_source(self.text, arg)}]",
                                   self.text, *(arg.pos or (None, None)), hint=f"write e.g. | {kind} 10")
        return ast.Pipe(kind=kind, count=arg.value, pos=_pos(meta))

    # ---- event queries
    def event_query(self, meta, children):
        return children[0]

    def event_filter(self, meta, children):
        head, _where, condition = children
        category = None if isinstance(head, Token) and head.type == "ANY" else head
        return ast.EventQuery(category=category, condition=self._expr(condition), pos=_pos(meta))

    def category(self, meta, children):
        token = children[0]
        if token.type == "NAME":
            return str(token)
        if token.type == "QUOTED_IDENTIFIER":
            raise _err(EqlSyntaxError, "an event category cannot be a backquoted name", self.text, token,
                       hint=f'escape a category with double quotes: "{token[1:-1]}"')
        return self._string_value(token)

    # ---- sequences and samples
    def sequence(self, meta, children):
        by: tuple[ast.Expr, ...] = ()
        maxspan = None
        steps: list[ast.SequenceStep] = []
        until = None
        seen_until = False
        for child in children:
            if isinstance(child, Token):
                seen_until = seen_until or child.type == "UNTIL"
            elif isinstance(child, tuple) and child and child[0] == "header":
                by, maxspan = child[1], child[2]
            elif seen_until:
                until = child
            else:
                steps.append(child)
        return ast.Sequence(steps=tuple(steps), by=by, maxspan=maxspan, until=until, pos=_pos(meta))

    def header_by_with(self, meta, children):
        keys = children[0]
        span = children[1] if len(children) > 1 else None
        return ("header", keys, span)

    def header_with_by(self, meta, children):
        if len(children) > 1:
            raise EqlSyntaxError("Please specify sequence [by] before [with] not after", self.text,
                                 *(_pos(meta) or (None, None)),
                                 hint="write `sequence by <keys> with maxspan=<span>`")
        return ("header", (), children[0])

    def sequence_params(self, meta, children):
        return children[-1]

    def time_span(self, meta, children):
        number = children[0]
        amount: int | float = int(number) if number.type == "INTEGER" else float(number)
        unit = str(children[1]) if len(children) > 1 else ""
        return ast.TimeSpan(amount=amount, unit=unit, pos=_pos(meta))

    def sample(self, meta, children):
        by: tuple[ast.Expr, ...] = ()
        steps = []
        for child in children:
            if isinstance(child, Token):
                continue
            if isinstance(child, tuple):
                by = child
            else:
                steps.append(child)
        return ast.Sample(steps=tuple(steps), by=by, pos=_pos(meta))

    def step(self, meta, children):
        (missing, query), rest = children[0], children[1:]
        by: tuple[ast.Expr, ...] = ()
        runs = 1
        for item in rest:
            if isinstance(item, tuple):
                by = item
            else:
                runs = item
        return ast.SequenceStep(query=query, by=by, runs=runs, missing=missing, pos=_pos(meta))

    def step_params(self, meta, children):
        _with, key, _assign, value = children
        if str(key) != "runs":
            raise _err(EqlSyntaxError, f"Unrecognized option [{key}], expecting [runs]", self.text, key,
                       hint="a step takes `with runs=N`")
        if value.type != "INTEGER":
            raise _err(EqlSemanticError, f"Value of runs must be an integer, found [{value}]", self.text, value)
        return int(value)

    def subquery(self, meta, children):
        opener, event_filter = children[0], children[1]
        return (opener.type == "MISSING_OPEN", event_filter)

    def join_keys(self, meta, children):
        return tuple(self._expr(c) for c in children[1:])

    # ---- expressions
    def or_expr(self, meta, children):
        return ast.Or(operands=self._flatten(ast.Or, children), pos=_pos(meta))

    def and_expr(self, meta, children):
        return ast.And(operands=self._flatten(ast.And, children), pos=_pos(meta))

    def _flatten(self, kind: type, children: list) -> tuple[ast.Expr, ...]:
        out: list[ast.Expr] = []
        for child in children:
            if isinstance(child, Token):
                continue
            child = self._expr(child)
            # a and (b and c) is one And of three: the tree shape carries no meaning, so keep it canonical.
            out.extend(child.operands if type(child) is kind else (child,))
        return tuple(out)

    def not_(self, meta, children):
        return ast.Not(operand=self._expr(children[1]), pos=_pos(meta))

    def comparison(self, meta, children):
        left, op, right = children
        return ast.Comparison(op=str(op), left=self._expr(left), right=self._expr(right), pos=_pos(meta))

    def add_expr(self, meta, children):
        return self._left_assoc(meta, children)

    def mul_expr(self, meta, children):
        return self._left_assoc(meta, children)

    def _left_assoc(self, meta, children):
        node = self._expr(children[0])
        for i in range(1, len(children), 2):
            op, right = children[i], self._expr(children[i + 1])
            node = ast.Arithmetic(op=str(op), left=node, right=right, pos=node.pos or _pos(meta))
        return node

    def unary(self, meta, children):
        op, operand = children[0], self._expr(children[1])
        # unary plus is the identity in Elasticsearch; only minus leaves a node.
        return ast.Negate(operand=operand, pos=_pos(meta)) if str(op) == "-" else operand

    def in_set(self, meta, children):
        return self._in(meta, children, case_insensitive=False)

    def in_set_ci(self, meta, children):
        return self._in(meta, children, case_insensitive=True)

    def _in(self, meta, children, case_insensitive: bool):
        value, options = self._expr(children[0]), children[-1]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in children)
        return ast.InSet(value=value, options=options, case_insensitive=case_insensitive, negated=negated,
                         pos=_pos(meta))

    def set_options(self, meta, children):
        return tuple(self._expr(c) for c in children)

    def match_single(self, meta, children):
        value, op, pattern = children
        return ast.Match(kind=str(op), value=self._expr(value), patterns=(pattern,), list_form=False,
                         pos=_pos(meta))

    def match_list(self, meta, children):
        value, op, patterns = children[0], children[1], children[2:]
        return ast.Match(kind=str(op), value=self._expr(value), patterns=tuple(patterns), list_form=True,
                         pos=_pos(meta))

    def function_call(self, meta, children):
        name_token, args = children[0], tuple(self._expr(c) for c in children[1:])
        written = str(name_token)
        insensitive = written.endswith("~")
        bare = written[:-1] if insensitive else written
        signature = lookup(bare)
        # Canonical spelling when known; an unknown name is kept as written for the checker to report.
        name = signature.name if signature else bare
        return ast.FunctionCall(name=name, args=args, case_insensitive=insensitive, pos=_pos(name_token))

    def field(self, meta, children):
        optional = False
        parts: list[str] = []
        for token in children:
            if token.type == "OPTIONAL":
                optional = True
            elif token.type == "QUOTED_IDENTIFIER":
                parts.append(token[1:-1].replace("``", "`"))
            elif str(token) in KEYWORDS:
                # Reserved in Elasticsearch even after a dot; the contextual lexer would let it through.
                raise _err(EqlSyntaxError, f"`{token}` is a keyword and cannot name a field", self.text, token,
                           hint=f"backquote it: `{token}`")
            else:
                parts.append(str(token))
        return ast.Field(name=".".join(parts), optional=optional, pos=_pos(meta))

    def constant(self, meta, children):
        token = children[0]
        kind = token.type
        if kind == "NULL":
            value: t.Any = None
        elif kind in ("TRUE", "FALSE"):
            value = kind == "TRUE"
        elif kind == "INTEGER":
            value = int(token)
        elif kind == "DECIMAL":
            value = float(token)
        else:
            value = self._string_value(token)
        return ast.Literal(value=value, pos=_pos(token))

    # ---- helpers
    def _expr(self, item: t.Any) -> ast.Expr:
        """A child that the grammar inlined (`?rule`) may arrive as a bare token only for names; wrap it."""
        if isinstance(item, ast.Expr):
            return item
        raise _err(EqlSyntaxError, f"unexpected {item!r}", self.text, item)  # pragma: no cover - grammar bug guard

    def _string_value(self, token: Token) -> str:
        kind = token.type
        if kind == "RAW_STRING":
            return token[3:-3]
        if kind == "STRING":
            return _unescape(token, self.text)
        if kind == "SINGLE_QUOTED":
            raise _err(EqlSyntaxError, "Use double quotes [\"] to define string literals, not single quotes [']",
                       self.text, token, hint=f'write "{token[1:-1]}"')
        if kind == "QMARK_STRING":
            raise _err(EqlSyntaxError, f'Use triple double quotes ["""] to define unescaped string literals, '
                       f"not [{token[:2]}]", self.text, token, hint=f'write """{token[2:-1]}"""')
        raise _err(EqlSyntaxError, f"expected a string, found {token}", self.text, token)  # pragma: no cover


def _source(text: str, node: ast.Node) -> str:
    from vigil.eql.printer import to_eql

    return to_eql(node)


# --------------------------------------------------------------------------------------------------- strings
def _unescape(token: Token, text: str) -> str:
    """The value of a double-quoted string: Elasticsearch escapes \\b \\t \\n \\f \\r \\" \\' \\\\ and \\u{HEX}."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]  # the token regex guarantees a character follows a backslash
        column = token.column + 1 + i
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        if nxt == "u":
            m = _UNICODE_ESCAPE.match(body, i + 1)
            if m is None:
                raise EqlSyntaxError("a Unicode escape is written \\u{XXXX} (2 to 8 hex digits in braces)", text,
                                     token.line, column, width=2)
            digits = m.group(1)
            if not 2 <= len(digits) <= 8:
                raise EqlSyntaxError(f"Unicode sequence should use [2-8] hex digits, [\\u{{{digits}}}] has "
                                     f"[{len(digits)}]", text, token.line, column, width=m.end() - i)
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF:
                raise EqlSyntaxError(f"Invalid unicode character code, [{digits}] is a surrogate code", text,
                                     token.line, column, width=m.end() - i)
            if code > 0x10FFFF:
                raise EqlSyntaxError(f"Invalid unicode character code [{digits}]", text, token.line, column,
                                     width=m.end() - i)
            out.append(chr(code))
            i = m.end()
            continue
        raise EqlSyntaxError(f"unknown escape sequence [\\{nxt}] in a string", text, token.line, column, width=2,
                             hint='write a backslash as \\\\, or use a """raw""" string')
    return "".join(out)
