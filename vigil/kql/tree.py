"""The KQL syntax tree: what Kibana's grammar builds, before any Elasticsearch meaning is given to it.

The shapes follow Kibana's kuery node types: `is(field, value)` for `field:value` (and for a value list, one `is`
per value, combined with the list's and/or/not), `range(field, op, value)`, `nested(path, query)`, `and`, `or`,
`not`. A `Value` keeps the wildcards apart from the text, because an escaped `\\*` is a literal star while a bare
`*` is a wildcard. Nodes are frozen; `pos` is the (line, column) of the node's first character, 1-based.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

Pos = t.Optional[t.Tuple[int, int]]


class _Wildcard:
    """The `*` of an unquoted value: any run of characters (the only KQL wildcard; `?` is an ordinary character)."""

    _instance: t.ClassVar[t.Optional["_Wildcard"]] = None

    def __new__(cls) -> "_Wildcard":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD = _Wildcard()
Part = t.Union[str, _Wildcard]


def _pos() -> t.Any:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Value:
    """A literal as written: `parts` alternate text and WILDCARD (unquoted values only).

    `constant` is True/False/None for the unquoted words `true`/`false`/`null` (Kibana turns them into JSON
    literals), else the Ellipsis marker meaning "text"."""

    parts: tuple[Part, ...]
    quoted: bool = False
    constant: t.Any = ...
    pos: Pos = _pos()

    @property
    def is_text(self) -> bool:
        return self.constant is ...

    @property
    def has_wildcard(self) -> bool:
        return any(p is WILDCARD for p in self.parts)

    @property
    def is_lone_wildcard(self) -> bool:
        return self.parts == (WILDCARD,)

    @property
    def text(self) -> str:
        """The value with each wildcard written as `*` (how Kibana prints it and sends it to range queries)."""
        return "".join("*" if p is WILDCARD else p for p in self.parts)


@dataclass(frozen=True, slots=True)
class Node:
    pass


@dataclass(frozen=True, slots=True)
class MatchAll(Node):
    """The empty query (and `*:*`): every document."""

    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Is(Node):
    """`field:value`; `field` None is a free-text value (no field named)."""

    field: t.Optional[Value]
    value: Value
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Range(Node):
    """`field < value` and friends; `op` is one of `<`, `<=`, `>`, `>=`."""

    field: Value
    op: str
    value: Value
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Nested(Node):
    """`path:{ query }`: `query` applies to the objects under `path`."""

    path: Value
    query: Node
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class And(Node):
    operands: tuple[Node, ...]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Or(Node):
    operands: tuple[Node, ...]
    pos: Pos = _pos()


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node
    pos: Pos = _pos()
