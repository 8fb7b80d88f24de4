"""Choose the conditions an event must meet, and the field values that meet them: the search behind `synth`.

A condition is walked as a boolean formula. `and` adds every operand, `or` tries its operands one at a time
(backtracking), and `not` is pushed inwards (`not (a or b)` is `not a and not b`; `not (a and b)` tries `not a`,
then `not b`). Leaves (a comparison, `in`, `:`/like/regex, a function call) are *literals*: the leaf itself, or
`not leaf`. Literals are grouped by the one field they read, and a field's literals are solved together:
candidate values (`synth_values`) are checked with the engine's own compiled predicate, so "does this value satisfy
`not process.name : "x*"`" is answered by the same code that runs detections, with Elastic's null, case and array
rules. A field whose literals all hold when it is absent (`!=`, `not in`, `== null`) is left out of the event.

When no single value meets every literal of a field (`process.args == "-c" and process.args : "*curl*"`), the field
becomes an array with one element per literal: in query context a multi-valued field matches when any value does,
exactly as in Elasticsearch.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from vigil.engine.compiler import compile_predicate
from vigil.eql import ast
from vigil.rules.synth_values import (
    GENERIC,
    PUBLIC_IPS,
    CannotSynthesize,
    combined_candidates,
    literal_candidates,
)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: The solution "leave this field out of the event".
ABSENT: t.Any = _Absent()

Predicate = t.Callable[[t.Any], bool]

#: Search limit: literals added before the search gives up (a formula with many nested `or`s could explode).
MAX_STEPS = 20_000


@dataclass(frozen=True)
class State:
    """The literals chosen so far: per field (in the order they were added), and those reading several fields."""

    fields: t.Mapping[str, tuple[ast.Expr, ...]] = field(default_factory=dict)
    cross: tuple[ast.Expr, ...] = ()
    order: tuple[tuple[str, ast.Expr], ...] = ()

    def with_literal(self, name: str, literal: ast.Expr) -> "State":
        fields = dict(self.fields)
        fields[name] = fields.get(name, ()) + (literal,)
        return State(fields, self.cross, self.order + ((name, literal),))

    def with_cross(self, literal: ast.Expr) -> "State":
        return State(self.fields, self.cross + (literal,), self.order)


def _key(value: t.Any) -> tuple:
    """Dedupe key that keeps 1, 1.0, True and "1" apart (Python says 1 == True)."""
    return (type(value).__name__, repr(value))


def _unique(values: t.Iterable[t.Any]) -> list[t.Any]:
    seen: set[tuple] = set()
    out = []
    for value in values:
        k = _key(value)
        if k not in seen:
            seen.add(k)
            out.append(value)
    return out


def _mentions_cidr(expr: ast.Expr) -> bool:
    return any(call.name == "cidrMatch" for call in expr.find_all(ast.FunctionCall))


def _fields_of(expr: ast.Expr) -> set[str]:
    return {f.name for f in expr.find_all(ast.Field)}


class Solver:
    """Solves field values for sets of literals, caching compiled predicates and solutions."""

    def __init__(self) -> None:
        self._predicates: dict[ast.Expr, Predicate] = {}
        self._solutions: dict[tuple, t.Any] = {}
        self.steps = 0

    def predicate(self, literal: ast.Expr) -> Predicate:
        pred = self._predicates.get(literal)
        if pred is None:
            pred = self._predicates[literal] = compile_predicate(literal)
        return pred

    def holds(self, literal: ast.Expr, doc: t.Mapping[str, t.Any]) -> bool:
        try:
            return self.predicate(literal)(doc) is True
        except (TypeError, ValueError):
            return False

    # ------------------------------------------------------------------------------------------ one field
    def accepts(self, name: str, literals: t.Sequence[ast.Expr], value: t.Any) -> bool:
        doc = {} if value is ABSENT else {name: value}
        return all(self.holds(lit, doc) for lit in literals)

    def solve(self, name: str, literals: tuple[ast.Expr, ...]) -> t.Any:
        """A value meeting every literal (ABSENT to leave the field out), or None when none was found."""
        key = (name, literals)
        if key not in self._solutions:
            self._solutions[key] = self._solve(name, literals)
        return self._solutions[key]

    def _solve(self, name: str, literals: tuple[ast.Expr, ...]) -> t.Any:
        needing = [lit for lit in literals if not self.holds(lit, {})]
        if not needing:
            return ABSENT
        candidates = self.candidates(literals, needing)
        for value in candidates:
            if self.accepts(name, literals, value):
                return value
        # No single value: one array element per literal that needs a value (any element may match a query).
        absent_ok = [lit for lit in literals if lit not in needing]
        elements = []
        for lit in needing:
            for value in candidates:
                if self.accepts(name, [lit, *absent_ok], [value]):
                    elements.append(value)
                    break
            else:
                return None
        array = _unique(elements)
        if self.accepts(name, literals, array):
            return array
        return None

    def candidates(self, literals: t.Sequence[ast.Expr], needing: t.Sequence[ast.Expr]) -> list[t.Any]:
        values: list[t.Any] = []
        if any(_mentions_cidr(lit) for lit in literals):
            values.extend(PUBLIC_IPS)  # an address field: real addresses read better than "0.0.0.0x"
        values.extend(combined_candidates(needing))
        for lit in needing:
            values.extend(literal_candidates(lit))
        for lit in literals:
            values.extend(literal_candidates(lit))
        values.extend(GENERIC)
        return _unique(values)

    # ------------------------------------------------------------------------------------------ formulas
    def search(self, condition: ast.Expr, base: t.Optional[State] = None) -> t.Iterator[State]:
        """Every consistent choice of literals (lazily, first choices first) that should make `condition` true."""
        return self._search(((condition, True),), base or State())

    def _search(self, goals: tuple[tuple[ast.Expr, bool], ...], state: State) -> t.Iterator[State]:
        # Flatten `and` / pushed-down `not` without recursion: only real choices (`or`) add a stack level.
        goals_list = list(goals)
        while goals_list:
            expr, positive = goals_list.pop(0)
            if isinstance(expr, ast.Not):
                goals_list.insert(0, (expr.operand, not positive))
                continue
            conjunctive = isinstance(expr, ast.And) if positive else isinstance(expr, ast.Or)
            if conjunctive:
                goals_list[0:0] = [(o, positive) for o in expr.operands]  # type: ignore[attr-defined]
                continue
            if isinstance(expr, (ast.And, ast.Or)):
                rest = tuple(goals_list)
                for operand in expr.operands:
                    yield from self._search(((operand, positive),) + rest, state)
                return
            if isinstance(expr, ast.Literal):
                if bool(expr.value) != positive:
                    return
                continue
            next_state = self._add(state, expr if positive else ast.Not(expr))
            if next_state is None:
                return
            state = next_state
        yield state

    def _add(self, state: State, literal: ast.Expr) -> t.Optional[State]:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise CannotSynthesize(f"the condition has too many alternatives to search (over {MAX_STEPS} steps)")
        names = _fields_of(literal)
        if not names:
            return state if self.holds(literal, {}) else None
        if len(names) > 1:
            return state.with_cross(literal)
        (name,) = names
        new = state.with_literal(name, literal)
        if self.solve(name, new.fields[name]) is None:
            return None
        return new

    def values(self, state: State) -> dict[str, t.Any]:
        """The chosen value of every field of a state (ABSENT fields omitted)."""
        out = {}
        for name, literals in state.fields.items():
            value = self.solve(name, literals)
            if value is not ABSENT and value is not None:
                out[name] = value
        for literal in state.cross:
            self._unify(literal, state, out)
        return out

    def _unify(self, literal: ast.Expr, state: State, values: dict[str, t.Any]) -> None:
        """Meet a literal that reads several fields (`startsWith(process.executable, process.command_line)`) by
        copying one field's value into another that accepts it; the commonest such conditions relate a field to
        itself in another place (a prefix, a substring, an equal value)."""
        if self.holds(literal, values):
            return
        names = sorted(_fields_of(literal))
        sources = [(n, values[n]) for n in names if n in values] + [(None, g) for g in GENERIC[:2]]
        for src, value in sources:
            for dst in names:
                if dst == src or not self.accepts(dst, state.fields.get(dst, ()), value):
                    continue
                trial = dict(values)
                trial[dst] = value
                if src is None:
                    for other in names:
                        if self.accepts(other, state.fields.get(other, ()), value):
                            trial[other] = value
                if self.holds(literal, trial):
                    values.clear()
                    values.update(trial)
                    return
