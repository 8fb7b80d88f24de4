"""Which rules an event can concern: an index of rule steps by event category and by one equality test each.

With hundreds of rules, testing every rule on every event costs far more than the tests that matter. Every step of a
rule (the event query itself; each step, `until` and `![...]` step of a sequence; each step of a sample) is indexed:

* by its category (`process where ...`; `any` steps sit in a bucket every event consults). The category test is
  a case-sensitive term on the category field, so an event is looked up under each of its category values;
* inside its category, by one *guard*: a top-level conjunct `field == "s"` or `field in ("a", "b")` (keyword term
  queries: case-sensitive, any value of a multi-valued field may match). The guard field chosen is the one most
  steps can use (so an event reads few distinct fields), avoiding fields that select little (`host.os.type`).

`Dispatcher.lookup(doc)` returns the rules with at least one step whose category and guard the event satisfies; it
reads each guard field of the event's category once, whatever the number of rules using it (generated code: one
inline read and one dict lookup per guard field). The result is a necessary
condition: the rules' own compiled predicates still decide. Anything the index cannot decide cheaply (a category or
guard value that is a number or boolean, which ES may coerce to the string) conservatively selects the rules.
"""

from __future__ import annotations

import typing as t

from vigil.engine import fields
from vigil.eql import ast
from vigil.eql import semantics as sem

Doc = t.Dict[str, t.Any]

#: Fields that hold nearly the same value in every event of a platform: useless as guards when another exists.
UNSELECTIVE = frozenset({"host.os.type", "host.os.family", "host.os.platform", "host.os.name", "agent.type",
                         "event.kind", "event.module", "ecs.version", "data_stream.type", "data_stream.namespace"})
#: Fields with a few values each shared by many events: acceptable guards, second choice.
COARSE = frozenset({"event.type", "event.action", "event.outcome", "event.dataset", "data_stream.dataset"})


class Guard(t.NamedTuple):
    field: str
    values: frozenset[str]


def step_queries(query: ast.Query) -> list[ast.EventQuery]:
    """Every event query whose matches can change the rule's result: all steps, `until`, missing steps."""
    body = query.body
    if isinstance(body, ast.EventQuery):
        return [body]
    steps = [step.query for step in body.steps]
    if isinstance(body, ast.Sequence) and body.until is not None:
        steps.append(body.until.query)
    return steps


def _conjuncts(expr: ast.Expr) -> t.Iterator[ast.Expr]:
    if isinstance(expr, ast.And):
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def guard_candidates(condition: ast.Expr) -> list[Guard]:
    """The top-level `field == "s"` / `field in ("a", ...)` conjuncts of a condition (case-sensitive terms)."""
    out = []
    for expr in _conjuncts(condition):
        if (isinstance(expr, ast.Comparison) and expr.op == "=="
                and isinstance(expr.left, ast.Field) and isinstance(expr.right, ast.Literal)
                and isinstance(expr.right.value, str) and not sem.is_date_field(expr.left.name)):
            out.append(Guard(expr.left.name, frozenset([expr.right.value])))
        elif (isinstance(expr, ast.InSet) and not expr.negated and not expr.case_insensitive
                and isinstance(expr.value, ast.Field) and not sem.is_date_field(expr.value.name) and expr.options
                and all(isinstance(o, ast.Literal) and isinstance(o.value, str) for o in expr.options)):
            out.append(Guard(expr.value.name, frozenset(o.value for o in expr.options)))  # type: ignore[union-attr]
    return out


class _Bucket:
    """The steps of one category: rules without a usable guard, and per guard field a value -> rules table.

    `collect(doc, out)` adds the bucket's candidate rules for `doc` to the set `out`; `freeze()` generates it as
    straight-line code (each guard field read inline, a dict lookup per string value), because this runs for every
    event and a loop of getter calls over a dozen guard fields cost more than most rule evaluations."""

    __slots__ = ("unguarded", "guarded", "every", "collect")

    def __init__(self) -> None:
        self.unguarded: set[int] = set()
        self.guarded: dict[str, dict[str, set[int]]] = {}
        self.every: dict[str, frozenset[int]] = {}  # guard field -> all rules indexed under it
        self.collect: t.Callable[[Doc, set[int]], None] = lambda doc, out: None

    def freeze(self) -> None:
        self.every = {f: frozenset().union(*table.values()) for f, table in self.guarded.items()}
        namespace: dict[str, t.Any] = {"MISSING": fields._MISSING, "EMPTY": fields._EMPTY, "other": _other_value,
                                       "UNGUARDED": frozenset(self.unguarded)}
        lines = ["def collect(doc, out):"]
        if self.unguarded:
            lines.append("    out |= UNGUARDED")
        for i, (guard_field, table) in enumerate(self.guarded.items()):
            namespace[f"T{i}"] = {value: frozenset(rules) for value, rules in table.items()}
            namespace[f"E{i}"] = self.every[guard_field]
            namespace[f"slow{i}"] = fields._slow_getter(tuple(guard_field.split(".")))
            lines.append(fields.access_source(guard_field))
            lines.append(f"""    if v is MISSING:
        v = slow{i}(doc)
    if v.__class__ is str:
        r = T{i}.get(v)
        if r is not None:
            out |= r
    elif v is not None:
        other(v, T{i}, E{i}, out)""")
        lines.append("    return None")
        exec("\n".join(lines), namespace)  # noqa: S102 -- source built from repr() of field names only
        self.collect = namespace["collect"]


def _other_value(value: t.Any, table: dict[str, frozenset[int]], every: frozenset[int], out: set[int]) -> None:
    """A guard field holding an array, a number or a boolean: each string selects by the table; a number or a
    boolean (which ES may coerce to an option's text) conservatively selects every rule of the field."""
    value = fields.normalise(value)
    if value is None:
        return
    for item in value if value.__class__ is list else (value,):
        if item.__class__ is str:
            rules = table.get(item)
            if rules:
                out |= rules
        else:
            out |= every
            return


class Dispatcher:
    """An index of rules by category and guard (see the module doc).

    `entries` holds, per rule index, its category field and its step queries."""

    def __init__(self, entries: t.Mapping[int, tuple[str, t.Sequence[ast.EventQuery]]]):
        self.rules = frozenset(entries)
        steps = [(rule, category_field, q) for rule, (category_field, qs) in entries.items() for q in qs]
        popularity: dict[str, int] = {}
        for _, _, q in steps:
            for guard_field in {g.field for g in guard_candidates(q.condition)}:
                popularity[guard_field] = popularity.get(guard_field, 0) + 1

        def rank(guard: Guard) -> tuple[int, int]:
            tier = 0 if guard.field in UNSELECTIVE else 1 if guard.field in COARSE else 2
            return tier, popularity[guard.field]

        # category field -> category (None for `any`) -> bucket
        self._buckets: dict[str, dict[t.Optional[str], _Bucket]] = {}
        self.always: set[int] = set()  # rules with an `any` step without a guard: every event
        self.guard_fields: set[str] = set()
        for rule, category_field, q in steps:
            bucket = self._buckets.setdefault(category_field, {}).setdefault(q.category, _Bucket())
            candidates = [g for g in guard_candidates(q.condition) if g.field not in UNSELECTIVE]
            if not candidates:
                if q.category is None:
                    self.always.add(rule)
                bucket.unguarded.add(rule)
                continue
            guard = max(candidates, key=rank)
            self.guard_fields.add(guard.field)
            table = bucket.guarded.setdefault(guard.field, {})
            for value in guard.values:
                table.setdefault(value, set()).add(rule)
        for by_category in self._buckets.values():
            for bucket in by_category.values():
                bucket.freeze()
        self._category_getters = {name: fields.getter(name) for name in self._buckets}

    def lookup(self, doc: Doc) -> set[int]:
        """The rules with a step whose category and guard `doc` satisfies (a superset of the rules it matches)."""
        out: set[int] = set()
        for category_field, by_category in self._buckets.items():
            any_bucket = by_category.get(None)
            if any_bucket is not None:
                any_bucket.collect(doc, out)
            value = self._category_getters[category_field](doc)
            if value is None:
                continue
            if value.__class__ is str:
                bucket = by_category.get(value)
                if bucket is not None:
                    bucket.collect(doc, out)
                continue
            seen: set[int] = set()
            for item in (value if value.__class__ is list else [value]):
                # a non-string category could equal a category name after ES's coercions: consult every bucket
                names = [item] if item.__class__ is str else [c for c in by_category if c is not None]
                for name in names:
                    bucket = by_category.get(name)
                    if bucket is not None and id(bucket) not in seen:
                        seen.add(id(bucket))
                        bucket.collect(doc, out)
        return out
