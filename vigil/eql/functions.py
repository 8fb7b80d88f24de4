"""The EQL function catalogue: names, arity, argument kinds and `~` support — what the checker validates against.

Implementations live in `vigil.eql.semantics` (`FUNCTIONS`), keyed by the canonical names below, so every backend
evaluates a function the same way. Names are matched case-insensitively, as in Elasticsearch
(`STARTSWITH(...)` is `startsWith(...)`).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

# Argument kinds the checker can verify on literals. "any" accepts everything.
STRING, NUMBER, INTEGER, BOOLEAN, ANY = "string", "number", "integer", "boolean", "any"


@dataclass(frozen=True, slots=True)
class Signature:
    """name(args...): `params` are the kinds of the positional parameters; the last `optional` of them may be left
    out; `variadic` means the last kind repeats without limit. `insensitive_ok` allows the `name~(...)` form.
    `literal_only` lists parameter positions that must be constants (as Elasticsearch requires)."""

    name: str
    params: tuple[str, ...]
    returns: str
    optional: int = 0
    variadic: bool = False
    insensitive_ok: bool = False
    literal_only: tuple[int, ...] = ()

    @property
    def min_args(self) -> int:
        return len(self.params) - self.optional

    @property
    def max_args(self) -> t.Optional[int]:
        return None if self.variadic else len(self.params)

    def arity_text(self) -> str:
        if self.variadic:
            return f"at least {self.min_args}"
        if self.optional:
            return f"{self.min_args} to {self.max_args}"
        return str(self.min_args)


SIGNATURES: dict[str, Signature] = {
    s.name.lower(): s
    for s in (
        Signature("add", (NUMBER, NUMBER), NUMBER),
        Signature("between", (STRING, STRING, STRING, BOOLEAN), STRING, optional=1, insensitive_ok=True,
                  literal_only=(3,)),
        Signature("cidrMatch", (STRING, STRING), BOOLEAN, variadic=True, literal_only=(1,)),
        Signature("concat", (ANY,), STRING, variadic=True),
        Signature("divide", (NUMBER, NUMBER), NUMBER),
        Signature("endsWith", (STRING, STRING), BOOLEAN, insensitive_ok=True),
        Signature("indexOf", (STRING, STRING, INTEGER), INTEGER, optional=1, insensitive_ok=True),
        Signature("length", (STRING,), INTEGER),
        Signature("modulo", (NUMBER, NUMBER), NUMBER),
        Signature("multiply", (NUMBER, NUMBER), NUMBER),
        Signature("number", (STRING, INTEGER), NUMBER, optional=1),
        Signature("startsWith", (STRING, STRING), BOOLEAN, insensitive_ok=True),
        Signature("string", (ANY,), STRING),
        Signature("stringContains", (STRING, STRING), BOOLEAN, insensitive_ok=True),
        Signature("substring", (STRING, INTEGER, INTEGER), STRING, optional=1),
        Signature("subtract", (NUMBER, NUMBER), NUMBER),
    )
}


def lookup(name: str) -> t.Optional[Signature]:
    """The signature for a function name in any case, or None when Elasticsearch has no such function."""
    return SIGNATURES.get(name.lower())
