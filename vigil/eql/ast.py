"""The typed syntax tree of Elasticsearch-dialect EQL: the one contract between the parser and every backend.

Nodes are frozen dataclasses. They hold no behaviour beyond tree walking: the meaning of each node lives in
`vigil.eql.semantics` (and is compiled by backends), its text form in `vigil.eql.printer`. A node's `pos`
(line, column of its first character, 1-based) is kept for error messages and ignored by equality, so a tree
parsed from `print(tree)` compares equal to the tree it came from.

Names follow the EQL reference: `EventQuery`, `Sequence`, `Sample`, `Comparison`, `InSet`, `Match`,
`FunctionCall`, `Field`.

Example:
    >>> from vigil.eql import parse
    >>> q = parse('process where process.name == "nping"')
    >>> q.body.condition
    Comparison(op='==', left=Field(name='process.name', optional=False), right=Literal(value='nping'))
"""

from __future__ import annotations

import dataclasses
import typing as t
from dataclasses import dataclass, field

Pos = t.Optional[t.Tuple[int, int]]


def _pos() -> t.Any:
    return field(default=None, compare=False, repr=False, hash=False)


@dataclass(frozen=True, slots=True)
class Node:
    """Base class: children are the dataclass fields that hold nodes or tuples of nodes."""

    def children(self) -> t.Iterator["Node"]:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> t.Iterator["Node"]:
        """Yield this node and every descendant, parents before children."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))

    def find_all(self, kind: type[N] | tuple[type, ...]) -> t.Iterator[N]:
        return (n for n in self.walk() if isinstance(n, kind))  # type: ignore[misc]

    def transform(self, fn: t.Callable[["Node"], "Node"]) -> "Node":
        """Rebuild the tree bottom-up, replacing each node by `fn(node)` (a pure tree -> tree map)."""
        changes: dict[str, t.Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                new = value.transform(fn)
                if new is not value:
                    changes[f.name] = new
            elif isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
                new_items = tuple(v.transform(fn) if isinstance(v, Node) else v for v in value)
                if any(a is not b for a, b in zip(new_items, value)):
                    changes[f.name] = new_items
        node = dataclasses.replace(self, **changes) if changes else self
        return fn(node)

    def __str__(self) -> str:
        from vigil.eql.printer import to_eql

        return to_eql(self)


N = t.TypeVar("N", bound=Node)


# --------------------------------------------------------------------------------------------------- expressions
class Expr(Node):
    """Any value-producing expression (booleans included)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    """A constant: str, int, float, bool or None (null)."""

    value: t.Union[str, int, float, bool, None]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Field(Expr):
    """A field reference. `name` is the dotted path as written (backquotes removed); `optional` is the `?` prefix."""

    name: str
    optional: bool = False
    pos: Pos = _pos()

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))


@dataclass(frozen=True, slots=True)
class Not(Expr):
    operand: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class And(Expr):
    """n-ary conjunction (two or more operands)."""

    operands: tuple[Expr, ...]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Or(Expr):
    """n-ary disjunction (two or more operands)."""

    operands: tuple[Expr, ...]
    pos: Pos = _pos()


COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Comparison(Expr):
    """`left op right`, op one of `COMPARISON_OPS`; case-sensitive for strings."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class InSet(Expr):
    """`value in (...)`, `value in~ (...)`, and their `not in` forms."""

    value: Expr
    options: tuple[Expr, ...]
    case_insensitive: bool = False
    negated: bool = False
    pos: Pos = _pos()


MATCH_KINDS = (":", "like", "like~", "regex", "regex~")


@dataclass(frozen=True, slots=True)
class Match(Expr):
    """String matching against constant patterns.

    kind is one of `MATCH_KINDS`: `:` (case-insensitive equality with `*`/`?` wildcards), `like`/`like~` (wildcards,
    case-sensitive/insensitive), `regex`/`regex~` (Lucene regular expressions matching the whole value).
    `patterns` holds one or more literals; `list_form` records whether they were written in parentheses.
    """

    kind: str
    value: Expr
    patterns: tuple[Literal, ...]
    list_form: bool = False
    pos: Pos = _pos()

    @property
    def case_insensitive(self) -> bool:
        return self.kind in (":", "like~", "regex~")


ARITHMETIC_OPS = ("+", "-", "*", "/", "%")


@dataclass(frozen=True, slots=True)
class Arithmetic(Expr):
    op: str
    left: Expr
    right: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Negate(Expr):
    """Unary minus."""

    operand: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class FunctionCall(Expr):
    """`name(args)`; `name` is the canonical spelling from the function registry (e.g. `startsWith`),
    `case_insensitive` is the `~` suffix."""

    name: str
    args: tuple[Expr, ...]
    case_insensitive: bool = False
    pos: Pos = _pos()


# ------------------------------------------------------------------------------------------------------ queries
@dataclass(frozen=True, slots=True)
class EventQuery(Node):
    """`<category> where <condition>`; category None means `any`."""

    category: t.Optional[str]
    condition: Expr
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class TimeSpan(Node):
    """A duration as written (`5m`) and its length in milliseconds."""

    amount: t.Union[int, float]
    unit: str  # ms, s, m, h, d
    pos: Pos = _pos()

    UNIT_MS: t.ClassVar[dict[str, int]] = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

    @property
    def millis(self) -> float:
        return self.amount * self.UNIT_MS[self.unit]


@dataclass(frozen=True, slots=True)
class SequenceStep(Node):
    """One `[query] by keys with runs=N` term; `missing` marks a `![query]` step (an event that must NOT occur)."""

    query: EventQuery
    by: tuple[Expr, ...] = ()
    runs: int = 1
    missing: bool = False
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Sequence(Node):
    """`sequence [by keys] [with maxspan=T] steps... [until step]`; top-level `by` keys prefix every step's keys."""

    steps: tuple[SequenceStep, ...]
    by: tuple[Expr, ...] = ()
    maxspan: t.Optional[TimeSpan] = None
    until: t.Optional[SequenceStep] = None
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Sample(Node):
    """`sample [by keys] steps...`: steps are unordered; each step may add its own keys."""

    steps: tuple[SequenceStep, ...]
    by: tuple[Expr, ...] = ()
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Pipe(Node):
    """`| head N` or `| tail N`."""

    kind: str  # "head" | "tail"
    count: int
    pos: Pos = _pos()


Body = t.Union[EventQuery, Sequence, Sample]


@dataclass(frozen=True, slots=True)
class Query(Node):
    """A whole EQL query: a body and its pipes, in order."""

    body: Body
    pipes: tuple[Pipe, ...] = ()
    pos: Pos = _pos()
