"""Semantic checks that a parsed query can run, before anything runs it: `check(node, text)`.

`vigil.eql.parser.parse()` calls this before returning, so a backend only ever sees a tree Elasticsearch would
also accept. Each problem raises `EqlSemanticError` located at the offending node (line:column of the query text).
Messages follow Elasticsearch's wording where it has one, so a rule author recognises them.

What is checked:
  * functions: known name (with a "did you mean"), arity, `~` allowed, literal arguments of the right kind,
    constants where Elasticsearch requires them (e.g. the CIDR blocks of cidrMatch)
  * `:`, like, regex: every pattern a string constant
  * comparisons and `in` lists: one side must be a constant (Elasticsearch cannot compare two fields)
  * sequences: at least 2 queries (runs count), runs 1..100, maxspan a positive integer with a known unit,
    consistent number of join keys, missing-event steps only with maxspan and never all missing, a plain until
  * samples: at least 2 queries, consistent keys, no missing events or runs
"""

from __future__ import annotations

import difflib
import typing as t

from vigil.eql import ast
from vigil.eql.functions import ANY, BOOLEAN, INTEGER, NUMBER, SIGNATURES, STRING, Signature, lookup
from vigil.errors import EqlSemanticError

__all__ = ["check", "MAX_RUNS"]

MAX_RUNS = 100  # Elasticsearch refuses `with runs=N` above this


def check(node: ast.Node, text: str = "") -> None:
    """Raise EqlSemanticError for the first problem found in `node` (walked in source order)."""
    _Checker(text).visit(node)


class _Checker:
    def __init__(self, text: str):
        self.text = text

    def fail(self, message: str, node: ast.Node | None, hint: str | None = None) -> t.NoReturn:
        pos = getattr(node, "pos", None) or (None, None)
        raise EqlSemanticError(message, self.text, pos[0], pos[1], hint=hint)

    def visit(self, node: ast.Node) -> None:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None:
            method(node)
        for child in node.children():
            self.visit(child)

    # ---------------------------------------------------------------------------------------------- queries
    def visit_Query(self, node: ast.Query) -> None:
        for pipe in node.pipes:
            if pipe.kind not in ("head", "tail"):
                self.fail(f"Pipe [{pipe.kind}] is not supported by Elasticsearch EQL", pipe)
            if type(pipe.count) is not int or pipe.count < 0:
                self.fail(f"Pipe [{pipe.kind}] expects a positive integer but found [{pipe.count}]", pipe)

    def visit_Sequence(self, node: ast.Sequence) -> None:
        for step in node.steps:  # a bad runs value explains a low query count better than the count does
            self.visit_SequenceStep(step)
        total = sum(step.runs for step in node.steps)
        if total < 2:
            self.fail(f"A sequence requires a minimum of 2 queries, found [{total}]", node,
                      hint="add a second [step], or repeat one with `with runs=2`")
        if node.maxspan is not None:
            self._check_span(node.maxspan)
        missing = [s for s in node.steps if s.missing]
        if missing and len(missing) == len(node.steps):
            self.fail("A sequence requires at least one positive event query; found none", node)
        if missing and node.maxspan is None:
            self.fail("A sequence with missing events (![...]) requires [maxspan]", missing[0],
                      hint="write `sequence with maxspan=<span>`: a missing event is only defined inside a window")
        if node.until is not None:
            if node.until.missing:
                self.fail("The [until] query cannot be a missing event", node.until)
            if node.until.runs != 1:
                self.fail("The [until] query cannot be repeated with [runs]", node.until)
        steps = list(node.steps) + ([node.until] if node.until is not None else [])
        self._check_keys(steps)

    def visit_Sample(self, node: ast.Sample) -> None:
        if len(node.steps) < 2:
            self.fail(f"A sample requires a minimum of 2 queries, found [{len(node.steps)}]", node)
        for step in node.steps:
            if step.missing:
                self.fail("Missing events (![...]) are only supported in sequences", step)
            if step.runs != 1:
                self.fail("[runs] is only supported in sequences", step)
        self._check_keys(list(node.steps))

    def visit_SequenceStep(self, node: ast.SequenceStep) -> None:
        if type(node.runs) is not int or node.runs < 1:
            self.fail(f"Value of runs must be an integer greater than 0, found [{node.runs}]", node)
        if node.runs > MAX_RUNS:
            self.fail(f"A query cannot be repeated more than {MAX_RUNS} times, found [{node.runs}]", node)

    def _check_span(self, span: ast.TimeSpan) -> None:
        written = f"{span.amount}{span.unit}"
        if isinstance(span.amount, float):
            self.fail(f"Decimal time interval [{span.amount}] not supported; please use a positive integer", span)
        if span.amount <= 0:
            self.fail(f"A positive maxspan value is required; found [{span.amount}]", span)
        if not span.unit:
            self.fail(f"No time unit specified, did you mean [s] as in [{span.amount}s]?", span)
        if span.unit not in ast.TimeSpan.UNIT_MS:
            self.fail(f"Unrecognized time unit [{span.unit}] in [{written}], please specify one of [ms, s, m, h, d]",
                      span)

    def _check_keys(self, steps: list[ast.SequenceStep]) -> None:
        # Top-level `by` keys are shared, so only the per-step keys have to agree in number.
        if not steps:
            return
        expected = len(steps[0].by)
        for step in steps[1:]:
            if len(step.by) != expected:
                where = step.by[0] if step.by else step
                self.fail(f"Inconsistent number of join keys specified; expected [{expected}] but found "
                          f"[{len(step.by)}]", where)

    # ------------------------------------------------------------------------------------------ expressions
    def visit_Match(self, node: ast.Match) -> None:
        for pattern in node.patterns:
            if not (isinstance(pattern, ast.Literal) and isinstance(pattern.value, str)):
                self.fail(f"the pattern of [{node.kind}] must be a string constant, found "
                          f"[{_short(pattern)}]", pattern, hint='write e.g. process.name : "nping*"')

    def visit_Comparison(self, node: ast.Comparison) -> None:
        if not _foldable(node.left) and not _foldable(node.right):
            self.fail(f"Comparisons against fields are not (currently) supported; offender [{_short(node.right)}] "
                      f"in [{node.op}]", node.right, hint="compare a field with a constant")

    def visit_InSet(self, node: ast.InSet) -> None:
        op = ("not " if node.negated else "") + ("in~" if node.case_insensitive else "in")
        for option in node.options:
            if not _foldable(option):
                self.fail(f"Comparisons against fields are not (currently) supported; offender [{_short(option)}] "
                          f"in [{op}]", option, hint="list constants only")

    def visit_FunctionCall(self, node: ast.FunctionCall) -> None:
        signature = lookup(node.name)
        if signature is None:
            names = sorted(s.name for s in SIGNATURES.values())
            close = difflib.get_close_matches(node.name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
            hint = None
            if close:
                hint = f"did you mean {next(n for n in names if n.lower() == close[0])}?"
            self.fail(f"Unknown function [{node.name}]", node, hint=hint or "known: " + ", ".join(names))
        if node.case_insensitive and not signature.insensitive_ok:
            self.fail(f"Function [{signature.name}] does not support case-insensitive matching (~)", node,
                      hint=f"write {signature.name}(...) without ~")
        count = len(node.args)
        if count < signature.min_args or (signature.max_args is not None and count > signature.max_args):
            plural = "" if signature.arity_text() == "1" else "s"
            self.fail(f"Function [{signature.name}] takes {signature.arity_text()} argument{plural}, found [{count}]",
                      node)
        for index, arg in enumerate(node.args):
            self._check_argument(signature, index, arg, node)

    def _check_argument(self, signature: Signature, index: int, arg: ast.Expr, call: ast.FunctionCall) -> None:
        last = len(signature.params) - 1
        kind = signature.params[min(index, last)]
        literal_only = index in signature.literal_only or (
            signature.variadic and index > last and last in signature.literal_only)
        value = _constant(arg)
        ordinal = _ORDINALS[index] if index < len(_ORDINALS) else f"{index + 1}th"
        if value is _NOT_CONSTANT:
            if literal_only:
                self.fail(f"{ordinal} argument of [{_short(call)}] must be a constant, received [{_short(arg)}]", arg)
            return
        if value is None or _fits(kind, value):
            return
        self.fail(f"{ordinal} argument of [{_short(call)}] must be [{kind}], found value [{_short(arg)}] "
                  f"type [{_kind_of(value)}]", arg)


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_NOT_CONSTANT = object()


def _constant(node: ast.Expr) -> t.Any:
    """The value of a literal (or a negated numeric literal), else _NOT_CONSTANT."""
    if isinstance(node, ast.Literal):
        return node.value
    if isinstance(node, ast.Negate):
        inner = _constant(node.operand)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    return _NOT_CONSTANT


def _foldable(node: ast.Expr) -> bool:
    """True when Elasticsearch may fold the expression to a constant: it mentions no field, or only optional
    `?fields`, which Elasticsearch turns into null when the mapping lacks them (test_extra.toml compares two)."""
    return not any(isinstance(n, ast.Field) and not n.optional for n in node.walk())


def _fits(kind: str, value: t.Any) -> bool:
    if kind == ANY:
        return True
    if kind == STRING:
        return isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == INTEGER:
        return isinstance(value, int)
    if kind == NUMBER:
        return isinstance(value, (int, float))
    return True


def _kind_of(value: t.Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "double"
    return "keyword"


def _short(node: ast.Node) -> str:
    from vigil.eql.printer import to_eql

    text = to_eql(node)
    return text if len(text) <= 60 else text[:57] + "..."
