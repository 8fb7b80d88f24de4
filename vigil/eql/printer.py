"""AST -> canonical EQL text: `to_eql(node)`.

Canonical means: lowercase keywords, single spaces, strings double-quoted with Elasticsearch escapes, names
backquoted only when they must be, and parentheses only where precedence needs them. The one promise is
`parse(to_eql(q)) == q` (positions aside) for every tree the parser can produce, and that printing is stable.

Precedence, loosest first (Elasticsearch's grammar): or < and < not < comparison < + - < * / % < unary minus
< predicates (in, :, like, regex) applied to a primary < primary.
"""

from __future__ import annotations

import re
import typing as t

from vigil.eql import ast

__all__ = ["to_eql", "quote_string", "quote_name"]

# Binding strength: a child printed inside a parent with a higher level than its own needs parentheses.
_OR, _AND, _NOT, _CMP, _ADD, _MUL, _NEG, _PRED, _PRIMARY = range(9)

_KEYWORDS = frozenset({"and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
                       "regex", "sample", "sequence", "true", "until", "where", "with"})
_PLAIN_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*\Z")
_PLAIN_CATEGORY = re.compile(r"[A-Za-z_@][A-Za-z0-9_]*\Z")
_ESCAPE_OUT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def to_eql(node: ast.Node) -> str:
    """The canonical EQL text of any node (a whole query, a step, or an expression)."""
    if isinstance(node, ast.Query):
        return " | ".join([_body(node.body)] + [f"{p.kind} {p.count}" for p in node.pipes])
    if isinstance(node, (ast.EventQuery, ast.Sequence, ast.Sample)):
        return _body(node)
    if isinstance(node, ast.SequenceStep):
        return _step(node)
    if isinstance(node, ast.TimeSpan):
        return _span(node)
    if isinstance(node, ast.Pipe):
        return f"| {node.kind} {node.count}"
    if isinstance(node, ast.Expr):
        return _expr(node)
    raise TypeError(f"cannot print {type(node).__name__}")


def quote_string(value: str) -> str:
    """A double-quoted EQL string literal for `value`; control characters use escapes so it stays on one line."""
    out = []
    for ch in value:
        if ch in _ESCAPE_OUT:
            out.append(_ESCAPE_OUT[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{{{ord(ch):02x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def quote_name(part: str) -> str:
    """One segment of a field name, backquoted when it is not a plain identifier or is a keyword."""
    if _PLAIN_NAME.match(part) and part not in _KEYWORDS:
        return part
    return "`" + part.replace("`", "``") + "`"


# ------------------------------------------------------------------------------------------------- queries
def _body(node: ast.Node) -> str:
    if isinstance(node, ast.EventQuery):
        return _event(node)
    if isinstance(node, ast.Sequence):
        parts = ["sequence"]
        if node.by:
            parts.append("by " + _keys(node.by))
        if node.maxspan is not None:
            parts.append("with maxspan=" + _span(node.maxspan))
        parts.extend(_step(s) for s in node.steps)
        if node.until is not None:
            parts.append("until " + _step(node.until))
        return " ".join(parts)
    if isinstance(node, ast.Sample):
        parts = ["sample"]
        if node.by:
            parts.append("by " + _keys(node.by))
        parts.extend(_step(s) for s in node.steps)
        return " ".join(parts)
    raise TypeError(f"not a query body: {type(node).__name__}")


def _event(node: ast.EventQuery) -> str:
    if node.category is None:
        category = "any"
    elif _PLAIN_CATEGORY.match(node.category) and node.category not in _KEYWORDS:
        category = node.category
    else:
        category = quote_string(node.category)
    return f"{category} where {_expr(node.condition)}"


def _step(step: ast.SequenceStep) -> str:
    text = ("![" if step.missing else "[") + _event(step.query) + "]"
    if step.by:
        text += " by " + _keys(step.by)
    if step.runs != 1:
        text += f" with runs={step.runs}"
    return text


def _keys(keys: t.Sequence[ast.Expr]) -> str:
    return ", ".join(_expr(k) for k in keys)


def _span(span: ast.TimeSpan) -> str:
    return f"{_number(span.amount)}{span.unit}"


# --------------------------------------------------------------------------------------------- expressions
def _expr(node: ast.Expr, parent: int = _OR) -> str:
    text, level = _render(node)
    return f"({text})" if level < parent else text


def _render(node: ast.Expr) -> tuple[str, int]:
    """(text, binding level of the text's top operator)."""
    if isinstance(node, ast.Or):
        return " or ".join(_expr(o, _AND) for o in node.operands), _OR
    if isinstance(node, ast.And):
        return " and ".join(_expr(o, _NOT) for o in node.operands), _AND
    if isinstance(node, ast.Not):
        return "not " + _expr(node.operand, _NOT), _NOT
    if isinstance(node, ast.Comparison):
        # Comparisons do not chain: both sides must bind tighter than a comparison.
        return f"{_expr(node.left, _ADD)} {node.op} {_expr(node.right, _ADD)}", _CMP
    if isinstance(node, ast.Arithmetic):
        level = _ADD if node.op in "+-" else _MUL
        # Left-associative: the right operand at the same level needs parentheses (a - (b - c)).
        return f"{_expr(node.left, level)} {node.op} {_expr(node.right, level + 1)}", level
    if isinstance(node, ast.Negate):
        return "-" + _expr(node.operand, _NEG), _NEG
    if isinstance(node, ast.InSet):
        op = ("not " if node.negated else "") + ("in~" if node.case_insensitive else "in")
        options = ", ".join(_expr(o) for o in node.options)
        return f"{_expr(node.value, _PRIMARY)} {op} ({options})", _PRED
    if isinstance(node, ast.Match):
        patterns = ", ".join(_literal(p) for p in node.patterns)
        if node.list_form or len(node.patterns) != 1:
            patterns = f"({patterns})"
        return f"{_expr(node.value, _PRIMARY)} {node.kind} {patterns}", _PRED
    if isinstance(node, ast.FunctionCall):
        name = node.name + ("~" if node.case_insensitive else "")
        return f"{name}({', '.join(_expr(a) for a in node.args)})", _PRIMARY
    if isinstance(node, ast.Field):
        return ("?" if node.optional else "") + ".".join(quote_name(p) for p in node.name.split(".")), _PRIMARY
    if isinstance(node, ast.Literal):
        # A negative number prints with a leading minus, so it binds like unary minus (`(-5) in (...)`).
        negative = isinstance(node.value, (int, float)) and not isinstance(node.value, bool) and node.value < 0
        return _literal(node), _NEG if negative else _PRIMARY
    raise TypeError(f"cannot print {type(node).__name__}")


def _literal(node: ast.Literal) -> str:
    value = node.value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote_string(value)
    return _number(value)


def _number(value: t.Union[int, float]) -> str:
    if isinstance(value, float):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            raise ValueError(f"{text} has no EQL spelling")
        # repr gives '1e+20' or '1.5': both re-parse as decimals; make sure an integral float keeps a dot.
        return text if any(c in text for c in ".e") else text + ".0"
    return str(value)
