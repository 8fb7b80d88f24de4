"""Which rule steps an event can satisfy, decided from a few of its field values, each judged once per distinct value.

With hundreds of rules the expensive part is not any one rule: it is asking every rule about every event. Most of a
step's condition is a conjunction of tests that each read ONE field (`host.os.type == "linux"`, `process.name :
("bash", "sh")`, `process.executable : "/tmp/*"`, `not user.id in ("0")`, `event.type == "start"`...), and a step
can only match an event that passes every one of them. Such a conjunct is an *atom*: a pure function of one field's
value. Field values repeat enormously in telemetry (the same few hundred executables, names, users, actions), so
for each field we keep a memo `value -> bitmask of the steps whose atoms on that field all hold`, computed the first
time a value is met by running the atoms (the rules' own compiled predicates, so the semantics are the engine's).
An event's candidate steps are the AND of the masks of the fields it is asked about; the rules' compiled queries
still decide. Every mask is a necessary condition, so no match is ever lost, whatever fields are consulted.

Which fields to consult, and in what order, only changes the speed. It is learned from the first events seen
(`CALIBRATION` of them, or the calibration sample `run_files` reads ahead): after the most selective field, the
plan is keyed by the surviving mask, and for each it greedily adds the field that removes the most step
evaluations per microsecond spent reading it (a value that misses its memo costs the field's atom evaluations), and
stops when no field pays for itself. Until then every indexed field is consulted, most constrained first.
"""

from __future__ import annotations

import time
import typing as t

from vigil.engine import fields
from vigil.engine.dispatch import conjuncts as _conjuncts
from vigil.engine.compiler import _all, _equals_test, compile_predicate
from vigil.engine.fields import fuse
from vigil.eql import ast
from vigil.eql.optimizer import optimize
from vigil.eql.printer import to_eql

Doc = t.Dict[str, t.Any]

MEMO_LIMIT = 8192  # distinct values remembered per field; beyond it the memo starts afresh (bounded memory)
CALIBRATION = 2000  # events sampled before the plan is fixed
MAX_PLAN_FIELDS = 8  # fields consulted per event at most (after the first)
VOLATILE = 0.05  # a field whose calibration sample is more than this share of distinct values is not memoized
# Cost model of the greedy plan, in µs per event (misses measured during calibration):
READ_US = 0.6  # reading a field and looking its value up in the memo
EVAL_US = 4.0  # evaluating one candidate step (memo lookups, residual conjuncts, sequence bookkeeping)
MIN_GAIN = 0.2  # a field must save more than this beyond its own cost


def _fields_of(expr: ast.Expr) -> set[str]:
    return {f.name for f in expr.find_all(ast.Field)}


def _names_below(node: ast.Node, memo: dict[int, frozenset[str]]) -> frozenset[str]:
    """The fields a node reads, computed bottom-up once per node (by identity) for the whole condition."""
    found = memo.get(id(node))
    if found is None:
        if isinstance(node, ast.Field):
            found = frozenset([node.name]) if node.name else frozenset()
        else:
            found = frozenset().union(*(_names_below(child, memo) for child in node.children()))
        memo[id(node)] = found
    return found


def necessary(expr: ast.Expr, name: str, _names: t.Optional[dict[int, frozenset[str]]] = None) -> t.Optional[
        ast.Expr]:
    """A condition on the field `name` alone that holds whenever `expr` is true, or None when there is none to be
    had: `expr` itself when it reads only that field; for `and`, the conjunction of its operands' conditions; for
    `or`, the disjunction, when every operand has one. (If `a or b` is true one of them is, and so is its condition;
    three-valued logic changes nothing: a null is not true.) `_names` memoizes each node's fields (by identity)
    across the calls for one condition."""
    memo = {} if _names is None else _names
    names = _names_below(expr, memo)
    if names == {name}:
        return expr
    if name not in names:
        return None
    if isinstance(expr, ast.And):
        parts = [p for p in (necessary(o, name, memo) for o in expr.operands) if p is not None]
        return parts[0] if len(parts) == 1 else ast.And(tuple(parts)) if parts else None
    if isinstance(expr, ast.Or):
        parts = [necessary(o, name, memo) for o in expr.operands]
        if any(p is None for p in parts):
            return None
        return ast.Or(tuple(parts))  # type: ignore[arg-type]
    return None


def residual(step: ast.EventQuery, volatile: t.Collection[str] = ()) -> t.Optional[ast.Expr]:
    """The conjuncts of a step's condition the memos do not decide (those reading several fields, or one of the
    `volatile` fields), or None."""
    rest = [c for c in _conjuncts(optimize(step.condition))
            if len(names := _fields_of(c)) != 1 or not names.isdisjoint(volatile)]
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else ast.And(tuple(rest))


def step_atoms(step: ast.EventQuery, category_field: str) -> list[tuple[str, str, t.Optional[ast.Expr]]]:
    """(field, key, expr) of each field the step's condition constrains on its own (see `necessary`), the category
    test first (expr None for it: a case-sensitive term on `category_field`). `key` identifies equal atoms across
    steps."""
    out: list[tuple[str, str, t.Optional[ast.Expr]]] = []
    if step.category is not None:
        out.append((category_field, f"category {step.category!r}", None))
    condition = optimize(step.condition)
    names: dict[int, frozenset[str]] = {}
    for name in sorted(_names_below(condition, names)):
        expr = necessary(condition, name, names)
        if expr is not None:
            out.append((name, to_eql(expr), expr))
    return out


class _FieldIndex:
    """The atoms on one field and the memo of their verdicts per value."""

    __slots__ = ("field", "get", "atoms", "constrained", "memo", "misses", "volatile", "miss_us")

    def __init__(self, name: str):
        self.field = name
        self.get = fields.getter(name)
        self.atoms: list[tuple[t.Callable[[Doc], bool], int]] = []  # (predicate, bits of the steps that have it)
        self.constrained = 0  # bits of every step with an atom on this field
        self.memo: dict[t.Any, int] = {}
        self.volatile = False  # values rarely repeat (set by calibration)
        self.miss_us = 0.0  # measured cost of a memo miss (all the field's atoms), µs
        self.misses = 0  # memo misses (each ran the field's atoms), reported by `describe`

    def miss(self, value: t.Any) -> int:
        """The verdict for a string (or null) value not in the memo yet, remembered."""
        self.misses += 1
        if len(self.memo) >= MEMO_LIMIT:
            self.memo.clear()  # in place: generated plans hold this very dict
        found = self.memo[value] = self.verdict(value)
        return found

    def other(self, value: t.Any) -> int:
        """The verdict for a value that is not a string: keyed by type too, objects never memoized."""
        try:
            key = _memo_key(value)
        except TypeError:
            return self.verdict(value)
        found = self.memo.get(key)
        if found is None:
            self.misses += 1
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            found = self.memo[key] = self.verdict(value)
        return found

    def verdict(self, value: t.Any) -> int:
        """Bits of the steps NOT ruled out by this field's value (steps without an atom on it are never ruled out)."""
        doc = _doc_with(self.field, value)
        failed = 0
        for predicate, bits in self.atoms:
            if not predicate(doc):
                failed |= bits
        return ~failed


def _doc_with(path: str, value: t.Any) -> Doc:
    """A document holding only `value` at `path` (nested), which the field's getter reads back unchanged."""
    doc: Doc = {}
    if value is None:
        return doc
    node = doc
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return doc


def _memo_key(value: t.Any) -> t.Any:
    """A hashable key that tells apart values the atoms may judge differently (`1`, `1.0`, `True`, `"1"`), or a
    TypeError for values that cannot be keyed (objects)."""
    cls = value.__class__
    if cls is str or value is None:
        return value
    if cls is list:
        return tuple(item if item.__class__ is str else (item.__class__, _memo_key(item)) for item in value)
    if cls is dict:
        raise TypeError("objects are not memoized")
    return (cls, value)


class StepIndex:
    """Candidate steps of an event as a bitmask (see the module doc).

    `steps` is a list of (category_field, EventQuery); bit i stands for steps[i]. `mask(doc)` returns the bits of the
    steps the event may satisfy: a superset of those it does."""

    def __init__(self, steps: t.Sequence[tuple[str, ast.EventQuery]], *,
                 on_calibrated: t.Optional[t.Callable[[], None]] = None):
        self.on_calibrated = on_calibrated
        self._completions: dict[int, t.Callable[[Doc, int], int]] = {}  # candidate mask -> generated completion
        self.count = len(steps)
        self.full = (1 << self.count) - 1
        self.fields: dict[str, _FieldIndex] = {}
        self.steps = list(steps)
        self.step_fields: list[list[str]] = [[] for _ in steps]  # the fields each step has atoms on
        atoms: dict[tuple[str, str], tuple[t.Callable[[Doc], bool], int]] = {}
        for i, (category_field, step) in enumerate(steps):
            for name, key, expr in step_atoms(step, category_field):
                if name not in self.step_fields[i]:
                    self.step_fields[i].append(name)
                predicate, bits = atoms.get((name, key), (None, 0))
                if predicate is None:
                    if expr is None:
                        predicate = fuse([_equals_test(name, step.category)])  # type: ignore[arg-type]
                    else:
                        predicate = compile_predicate(expr)
                atoms[(name, key)] = (predicate, bits | (1 << i))
        for (name, _key), (predicate, bits) in atoms.items():
            index = self.fields.get(name)
            if index is None:
                index = self.fields[name] = _FieldIndex(name)
            index.atoms.append((predicate, bits))
            index.constrained |= bits
        # Before calibration: every field, the ones constraining most steps first.
        self._default = sorted(self.fields.values(), key=lambda f: -(f.constrained).bit_count())
        self.first: t.Optional[_FieldIndex] = self._default[0] if self._default else None
        self.plans: dict[int, t.Callable[[Doc, int], int]] = {}  # surviving mask -> generated plan
        self._first: t.Callable[[Doc, int], int] = lambda doc, mask: mask
        self.plan_fields: dict[int, tuple[str, ...]] = {}
        self.sample: t.Optional[list[Doc]] = []
        self.calibrated = False

    # ------------------------------------------------------------------------------------------------ per event
    def value_mask(self, index: _FieldIndex, doc: Doc) -> int:
        value = index.get(doc)
        if value.__class__ is str or value is None:
            found = index.memo.get(value)
            return index.miss(value) if found is None else found
        return index.other(value)

    def mask(self, doc: Doc) -> int:
        """Bits of the steps `doc` may satisfy."""
        if not self.calibrated:
            return self._uncalibrated(doc)
        mask = self._first(doc, self.full)
        if not mask:
            return 0
        plan = self.plans.get(mask)
        if plan is None:
            plan = self._plan_for(mask, None)
        return plan(doc, mask)

    def _uncalibrated(self, doc: Doc) -> int:
        sample = self.sample
        if sample is not None:
            sample.append(doc)
            if len(sample) >= CALIBRATION:
                self.calibrate(sample)
        mask = self.full
        for index in self._default:
            mask &= self.value_mask(index, doc)
            if not mask:
                break
        return mask

    # ------------------------------------------------------------------------------------------------ planning
    def calibrate(self, docs: t.Sequence[Doc]) -> None:
        """Fix the plan from a sample of events (the first events seen, or a look-ahead of the input)."""
        self._completions.clear()  # which fields are volatile is about to change
        try:
            self._calibrate(docs)
        finally:
            self.__dict__.pop("_verdicts", None)
            self.__dict__.pop("_miss_rate", None)
        if self.on_calibrated is not None:
            self.on_calibrated()

    def _calibrate(self, docs: t.Sequence[Doc]) -> None:
        docs = list(docs)[:CALIBRATION]
        self.sample = None
        self.calibrated = True
        self.plans = {}
        if not self.fields:
            self.first = None
            return
        # verdicts[f][d]: mask of field f for doc d, and whether its value was new to the memo (a miss, in steady
        # state proportional to the field's distinct values)
        names = list(self.fields)
        verdicts: dict[str, list[int]] = {}
        miss_rate: dict[str, float] = {}
        for name in names:
            index = self.fields[name]
            seen: set[t.Any] = set()
            column = []
            misses = 0
            spent = 0.0
            for doc in docs:
                value = index.get(doc)
                try:
                    key = _memo_key(value)
                    new = key not in seen
                    seen.add(key)
                except TypeError:
                    new = True
                if new:
                    misses += 1
                    started = time.perf_counter()
                    column.append(self.value_mask(index, doc))
                    spent += time.perf_counter() - started
                else:
                    column.append(self.value_mask(index, doc))
            verdicts[name] = column
            miss_rate[name] = misses / max(len(docs), 1)
            index.miss_us = spent / misses * 1e6 if misses else 0.0
            index.volatile = miss_rate[name] > VOLATILE
        self._verdicts, self._miss_rate = verdicts, miss_rate
        if not docs:  # nothing to learn from: the most constrained field first, then per mask as they appear
            if self.first is not None:
                self._first = _generate((self.first,))
            return
        # The first field: the one leaving the fewest candidates overall.
        full = self.full

        def remaining(name: str, rows: t.Sequence[int], masks: t.Sequence[int]) -> int:
            column = verdicts[name]
            return sum((masks[k] & column[r]).bit_count() for k, r in enumerate(rows))

        rows = list(range(len(docs)))
        start = [full] * len(docs)
        best = min(names, key=lambda n: (remaining(n, rows, start), n))
        self.first = self.fields[best]
        self._first = _generate((self.first,))
        groups: dict[int, list[int]] = {}
        for r in rows:
            groups.setdefault(full & verdicts[best][r], []).append(r)
        for mask, members in groups.items():
            if mask:
                self._plan_for(mask, members, exclude={best})

    def _plan_for(self, mask: int, rows: t.Optional[list[int]], exclude: t.Collection[str] = ()) -> t.Callable[
            [Doc, int], int]:
        """The generated plan for events whose first verdict left `mask` (remembered, up to MEMO_LIMIT plans)."""
        if rows is None or not hasattr(self, "_verdicts"):
            # Unseen in calibration: the fields that constrain most of the surviving steps, a few at most.
            first = self.first.field if self.first is not None else None
            useful = [f for f in self._default if f.field != first and f.constrained & mask]
            chosen = sorted(useful, key=lambda f: -(f.constrained & mask).bit_count())[:MAX_PLAN_FIELDS]
        else:
            chosen = self._greedy(mask, rows, exclude)
        plan = _generate(tuple(chosen))
        if len(self.plans) < MEMO_LIMIT:
            self.plans[mask] = plan
            self.plan_fields[mask] = tuple(f.field for f in chosen)
        return plan

    def _greedy(self, mask: int, rows: list[int], exclude: t.Collection[str]) -> list[_FieldIndex]:
        verdicts, miss_rate = self._verdicts, self._miss_rate
        masks = [mask] * len(rows)
        chosen: list[_FieldIndex] = []
        used = set(exclude)
        n = len(rows)
        for _ in range(MAX_PLAN_FIELDS):
            current = sum(m.bit_count() for m in masks)
            if not current:
                break
            best_name, best_gain = None, MIN_GAIN
            for name, index in self.fields.items():
                if name in used or not index.constrained & mask:
                    continue
                column = verdicts[name]
                after = sum((masks[k] & column[r]).bit_count() for k, r in enumerate(rows))
                cost = READ_US + miss_rate[name] * index.miss_us
                gain = (current - after) / n * EVAL_US - cost
                if gain > best_gain:
                    best_name, best_gain = name, gain
            if best_name is None:
                break
            used.add(best_name)
            chosen.append(self.fields[best_name])
            column = verdicts[best_name]
            masks = [masks[k] & column[r] for k, r in enumerate(rows)]
        return chosen

    def complete(self, doc: Doc, mask: int) -> int:
        """`mask` (from `mask(doc)`) narrowed to the steps ALL of whose memoized fields hold: every non-volatile
        atom field of the candidate steps is read once and its verdict ANDed in. A surviving step then needs only
        its `residual_predicate` (the conjuncts no memo decides) to be decided."""
        if not mask:
            return 0
        completion = self._completions.get(mask)
        if completion is None:
            names: dict[str, None] = {}
            rest = mask
            while rest:
                low = rest & -rest
                rest ^= low
                for name in self.step_fields[low.bit_length() - 1]:
                    if not self.fields[name].volatile:
                        names[name] = None
            completion = _generate(tuple(self.fields[n] for n in names))
            if len(self._completions) < MEMO_LIMIT:
                self._completions[mask] = completion
        return completion(doc, mask)

    def residual_predicate(self, bit: int) -> t.Optional[t.Callable[[Doc], bool]]:
        """What decides the step of `bit` for an event `complete` kept it for: its conjuncts that read several
        fields or a volatile one (and its category, when the category field is volatile); None when nothing is
        left to test (the step matches)."""
        volatile = {name for name in self.step_fields[bit] if self.fields[name].volatile}
        category_field, step = self.steps[bit]
        rest = residual(step, volatile)
        tests = [] if rest is None else [compile_predicate(rest)]
        if step.category is not None and category_field in volatile:  # the category is not a conjunct: test it
            tests.insert(0, fuse([_equals_test(category_field, step.category)]))
        return _all(tests) if tests else None

    def predicate(self, bit: int) -> t.Callable[[Doc], bool]:
        """The step of `bit` decided as the engine decides it (`complete`, then `residual_predicate`): equal to its
        compiled filter (what the tests check)."""
        rest = self.residual_predicate(bit)
        only = 1 << bit
        return lambda doc: bool(self.complete(doc, only)) and (rest is None or bool(rest(doc)))

    def describe(self) -> dict[str, t.Any]:
        return {
            "steps": self.count,
            "fields": len(self.fields),
            "atoms": sum(len(f.atoms) for f in self.fields.values()),
            "first": self.first.field if self.first is not None else None,
            "plans": len(self.plans),
            "memo_misses": sum(f.misses for f in self.fields.values()),
            "plan_fields": sorted({f for fs in self.plan_fields.values() for f in fs}),
            "calibrated": self.calibrated,
        }


_PLAN_FIELD = """
{access}
    if v is MISSING:
        v = slow{i}(doc)
    elif v.__class__ is list:
        v = normalise(v)
    if v.__class__ is str or v is None:
        m = memo{i}.get(v)
        if m is None:
            m = miss{i}(v)
    else:
        m = other{i}(v)
    mask &= m
    if not mask:
        return 0"""


def _generate(plan: tuple[_FieldIndex, ...]) -> t.Callable[[Doc, int], int]:
    """`fn(doc, mask) -> mask` ANDing the verdicts of `plan`'s fields, stopping at 0: straight-line code with each
    field read inline (this runs for every event; a loop of getter calls costs twice as much)."""
    namespace: dict[str, t.Any] = {"MISSING": fields._MISSING, "EMPTY": fields._EMPTY,
                                   "normalise": fields._normalise}
    lines = ["def plan(doc, mask):"]
    for i, index in enumerate(plan):
        namespace.update({f"slow{i}": fields._slow_getter(tuple(index.field.split("."))), f"memo{i}": index.memo,
                          f"miss{i}": index.miss, f"other{i}": index.other})
        lines.append(_PLAN_FIELD.format(access=fields.access_source(index.field), i=i))
    lines.append("    return mask")
    exec("\n".join(lines), namespace)  # noqa: S102 -- source built from repr() of field names only
    return namespace["plan"]



#: Rules from which routing events through a RuleIndex pays: with fewer, asking each rule costs less.
ROUTE_FROM = 8


class RuleIndex:
    """The step index of whole rules: which of several compiled queries an event can concern.

    `RuleIndex([compiled, ...])` indexes every step of each query (`dispatch.step_queries`, with its category
    field); `rules(doc)` is a bitmask over the queries' positions: a superset of the queries the event can change
    the result of (a query none of whose steps matches an event cannot: not an event query, nor a sequence, sample
    or aggregation over its matches). Used where each rule runs its own compiled query (`vigil hunt`, `vigil
    watch`); the one-pass engine keeps the step bits themselves."""

    def __init__(self, compiled: t.Sequence[t.Any], *, on_calibrated: t.Optional[t.Callable[[], None]] = None):
        from vigil.engine.dispatch import step_queries

        steps: list[tuple[str, ast.EventQuery]] = []
        self.rule_of_bit: list[int] = []  # step bit -> query position
        self.bits: list[int] = []  # query position -> its steps' bits (contiguous, in step_queries order)
        for position, query in enumerate(compiled):
            queries = step_queries(query.query)
            self.bits.append(((1 << len(queries)) - 1) << len(steps))
            steps.extend((query.category_field, q) for q in queries)
            self.rule_of_bit.extend([position] * len(queries))
        self.steps = StepIndex(steps, on_calibrated=on_calibrated)

    def first_bit(self, position: int) -> int:
        """The bit of the first step of the query at `position`."""
        bits = self.bits[position]
        return (bits & -bits).bit_length() - 1

    def rules(self, doc: Doc) -> int:
        steps = self.steps
        mask = steps.mask(doc)
        if mask:
            mask = steps.complete(doc, mask)
        out = 0
        rule_of_bit, bits = self.rule_of_bit, self.bits
        while mask:
            position = rule_of_bit[(mask & -mask).bit_length() - 1]
            mask &= ~bits[position]
            out |= 1 << position
        return out
