"""Pure tree -> tree rewrites of EQL expressions that keep their meaning (per `vigil.eql.semantics`).

    optimize(node)          flatten_boolean, fold_constants, flatten_boolean, normalize_in -- in this order
    fold_constants(node)    evaluate constant sub-expressions (`7 / 3` -> `2`, `"a" == "a"` -> `true`) and drop
                            neutral booleans (`x and true` -> `x`, `x or true` -> `true`)
    flatten_boolean(node)   `a and (b and c)` -> `a and b and c`; `not not x` -> `x`
    normalize_in(node)      `f == "a" or f == "b"` -> `f in ("a", "b")` (ES CombineDisjunctionsToIn); duplicate
                            options of `in` removed

Each rewrite is valid in both evaluation contexts (query and script, see semantics): `x and true` is `x` even when
`x` is null, `x or false` likewise, and a disjunction of equalities on one field is the same terms query / the same
three-valued `in`. Nodes keep their source position where they survive.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t

from vigil.eql import ast
from vigil.eql import semantics as sem
from vigil.errors import VigilError

N = t.TypeVar("N", bound=ast.Node)

_NO_VALUE = object()


# optimize() results by node identity (the node is kept alive with its result, so its id cannot be reused): the
# same subtrees are optimized again and again while rules are compiled, indexed and checked, and trees are immutable.
_DONE: dict[int, tuple[ast.Node, ast.Node]] = {}
_DONE_MAX = 65536


def optimize(node: N) -> N:
    found = _DONE.get(id(node))
    if found is not None and found[0] is node:
        return found[1]  # type: ignore[return-value]
    result = node
    for rewrite in (flatten_boolean, fold_constants, flatten_boolean, normalize_in):
        result = rewrite(result)
    if len(_DONE) >= _DONE_MAX:
        _DONE.clear()
    _DONE[id(node)] = (node, result)
    _DONE[id(result)] = (result, result)  # optimizing an optimized tree changes nothing
    return result


# ----------------------------------------------------------------------------------------------- flattening
def flatten_boolean(node: N) -> N:
    return node.transform(_flatten_one)  # type: ignore[return-value]


def _flatten_one(node: ast.Node) -> ast.Node:
    if isinstance(node, (ast.And, ast.Or)):
        kind = type(node)
        operands: list[ast.Expr] = []
        for operand in node.operands:
            if isinstance(operand, kind):
                operands.extend(operand.operands)
            else:
                operands.append(operand)
        if len(operands) != len(node.operands):
            return dataclasses.replace(node, operands=tuple(operands))
        return node
    if isinstance(node, ast.Not) and isinstance(node.operand, ast.Not):
        return node.operand.operand
    return node


# -------------------------------------------------------------------------------------------------- folding
def fold_constants(node: N) -> N:
    return node.transform(_fold_one)  # type: ignore[return-value]


def _const(node: ast.Node) -> t.Any:
    if isinstance(node, ast.Literal):
        return node.value
    return _NO_VALUE


def _literal(value: t.Any, like: ast.Node) -> ast.Node:
    """A Literal for a folded value, or the original node when the value has no literal spelling."""
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return like
    if isinstance(value, float) and not math.isfinite(value):
        return like
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        # keep negative numbers in the parser's shape (unary minus over a positive literal) so printing round-trips
        return ast.Negate(ast.Literal(-value, pos=getattr(like, "pos", None)), pos=getattr(like, "pos", None))
    return ast.Literal(value, pos=getattr(like, "pos", None))


def _number_const(node: ast.Node) -> t.Any:
    if isinstance(node, ast.Negate) and isinstance(node.operand, ast.Literal):
        return sem.negate(node.operand.value)
    return _const(node)


def _fold_one(node: ast.Node) -> ast.Node:
    if isinstance(node, ast.Not):
        value = _const(node.operand)
        if value is None or isinstance(value, bool):
            return _literal(sem.logical_not(value), node)
        return node
    if isinstance(node, (ast.And, ast.Or)):
        return _fold_boolean(node)
    if isinstance(node, ast.Negate):
        value = _const(node.operand)
        if value is None:
            return _literal(None, node)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return _literal(-value, node)
        return node  # `-3` stays Negate(Literal(3)), the parser's own shape
    if isinstance(node, ast.Arithmetic):
        a, b = _number_const(node.left), _number_const(node.right)
        if a is _NO_VALUE or b is _NO_VALUE:
            return node
        return _literal(sem.arithmetic(node.op, a, b), node)
    if isinstance(node, ast.Comparison):
        a, b = _number_const(node.left), _number_const(node.right)
        if a is _NO_VALUE or b is _NO_VALUE:
            return node
        if (a is None or b is None) and node.op in ("==", "!="):
            # ES ReplaceNullChecks: `x == null` is IsNull(x)
            return _literal((a is None and b is None) == (node.op == "=="), node)
        return _literal(sem.compare(node.op, a, b), node)
    if isinstance(node, ast.InSet):
        value = _number_const(node.value)
        options = [_number_const(o) for o in node.options]
        if value is _NO_VALUE or any(o is _NO_VALUE for o in options):
            return node
        result = sem.in_set(value, options, node.case_insensitive)
        return _literal(sem.logical_not(result) if node.negated else result, node)
    if isinstance(node, ast.Match):
        value = _const(node.value)
        if value is _NO_VALUE:
            return node
        if value is None:
            return _literal(None, node)
        if not isinstance(value, str):
            return node
        return _literal(any(_match_const(node.kind, value, p.value) for p in node.patterns), node)
    if isinstance(node, ast.FunctionCall):
        args = [_number_const(a) for a in node.args]
        if any(a is _NO_VALUE for a in args):
            return node
        try:
            fn = sem.function(node.name, node.case_insensitive)
            return _literal(fn(*args), node)
        except (VigilError, TypeError, ValueError, OverflowError):
            return node
    return node


def _match_const(kind: str, value: str, pattern: str) -> bool:
    if kind.startswith("regex"):
        return sem.regex_matcher(pattern, kind == "regex~")(value)
    insensitive = kind in (":", "like~")
    return sem.wildcard_matcher(pattern, insensitive)(sem.fold_case(value) if insensitive else value)


def _fold_boolean(node: t.Union[ast.And, ast.Or]) -> ast.Node:
    is_and = isinstance(node, ast.And)
    absorbing, neutral = (False, True) if is_and else (True, False)
    kept: list[ast.Expr] = []
    for operand in node.operands:
        value = _const(operand)
        if value is absorbing:
            return _literal(absorbing, node)
        if value is neutral:
            continue
        kept.append(operand)
    if not kept:
        return _literal(neutral, node)
    if all(_const(o) is None for o in kept):
        return _literal(None, node)
    if len(kept) == 1:
        return kept[0]
    if len(kept) == len(node.operands):
        return node
    return dataclasses.replace(node, operands=tuple(kept))


# -------------------------------------------------------------------------------------------------- in-sets
def normalize_in(node: N) -> N:
    return node.transform(_normalize_one)  # type: ignore[return-value]


def _equality_on_field(node: ast.Expr) -> t.Optional[tuple[str, ast.Literal]]:
    if (isinstance(node, ast.Comparison) and node.op == "==" and isinstance(node.left, ast.Field)
            and isinstance(node.right, ast.Literal) and node.right.value is not None):
        return node.left.name, node.right
    if (isinstance(node, ast.InSet) and not node.negated and not node.case_insensitive
            and isinstance(node.value, ast.Field)
            and all(isinstance(o, ast.Literal) and o.value is not None for o in node.options)):
        return node.value.name, node.options  # type: ignore[return-value]
    return None


def _normalize_one(node: ast.Node) -> ast.Node:
    if isinstance(node, ast.InSet):
        unique = _dedupe(node.options)
        return dataclasses.replace(node, options=unique) if len(unique) != len(node.options) else node
    if not isinstance(node, ast.Or):
        return node
    groups: dict[str, list[int]] = {}
    for index, operand in enumerate(node.operands):
        hit = _equality_on_field(operand)
        if hit is not None:
            groups.setdefault(hit[0], []).append(index)
    merge = {name: idx for name, idx in groups.items() if len(idx) > 1}
    if not merge:
        return node
    out: list[ast.Expr] = []
    done: set[str] = set()
    for index, operand in enumerate(node.operands):
        hit = _equality_on_field(operand)
        if hit is None or hit[0] not in merge:
            out.append(operand)
            continue
        if hit[0] in done:
            continue
        done.add(hit[0])
        options: list[ast.Expr] = []
        field = None
        for i in merge[hit[0]]:
            member = node.operands[i]
            if isinstance(member, ast.Comparison):
                field = member.left
                options.append(member.right)
            else:
                field = member.value  # type: ignore[union-attr]
                options.extend(member.options)  # type: ignore[union-attr]
        out.append(ast.InSet(field, _dedupe(tuple(options)), pos=operand.pos))  # type: ignore[arg-type]
    if len(out) == 1:
        return out[0]
    return dataclasses.replace(node, operands=tuple(out))


def _dedupe(options: tuple[ast.Expr, ...]) -> tuple[ast.Expr, ...]:
    seen: set[tuple[type, t.Any]] = set()
    out = []
    for option in options:
        key = (type(option.value), option.value) if isinstance(option, ast.Literal) else (type(option), id(option))
        if key in seen:
            continue
        seen.add(key)
        out.append(option)
    return tuple(out)
