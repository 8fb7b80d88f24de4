"""Every error vigil reports to a user, each carrying where the problem is.

Hierarchy:

    VigilError                 root; `str(e)` is the full user-facing message
    ├── QueryTextError         a query's text is wrong; location is line:column inside the query, with a caret
    │   └── EqlError
    │       ├── EqlSyntaxError     it does not parse (KqlSyntaxError for KQL)
    │       └── EqlSemanticError   it parses but cannot run: unknown function, arity, type mismatch
    ├── UnsupportedError       valid input that vigil does not run (a rule type, a feature), named
    ├── RuleError              a rule file or rule field is invalid (file:line, rule key)
    ├── SourceError            an input cannot be read or recognised (file, formats tried)
    ├── StoreError             the alert store cannot be used (e.g. written by a newer vigil)
    └── ConfigError            the configuration file is invalid

The CLI catches `VigilError` and prints `str(error)`; anything else is a bug and may show a traceback.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where something is: a file path, and/or a 1-based line and column, and/or a key path (`rule.query`)."""

    path: t.Optional[str] = None
    line: t.Optional[int] = None
    column: t.Optional[int] = None
    key: t.Optional[str] = None

    def __str__(self) -> str:
        parts = []
        if self.path:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        if self.key:
            parts.append(f"[{self.key}]")
        return " ".join(parts)


def caret_snippet(text: str, line: int, column: int, width: int = 1) -> str:
    """The offending line of `text` with a caret under `column` (both 1-based)."""
    lines = text.splitlines() or [""]
    line = max(1, min(line, len(lines)))
    src = lines[line - 1].expandtabs(1)
    return f"  {src}\n  {' ' * max(0, column - 1)}{'^' * max(1, width)}"


class VigilError(Exception):
    """Root of all user-facing errors."""

    def __init__(self, message: str, location: t.Optional[Location] = None, hint: t.Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.location}: {self.message}" if self.location and str(self.location) else self.message
        return head + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, t.Any]:
        loc = self.location
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "location": None
            if loc is None
            else {"path": loc.path, "line": loc.line, "column": loc.column, "key": loc.key},
        }


class QueryTextError(VigilError):
    """An error inside a query's text (EQL or KQL), shown as `line L:C: message`, the query line and a caret."""

    def __init__(
        self,
        message: str,
        query: str = "",
        line: t.Optional[int] = None,
        column: t.Optional[int] = None,
        hint: t.Optional[str] = None,
        width: int = 1,
    ):
        super().__init__(message, Location(line=line, column=column), hint)
        self.query = query
        self.line = line
        self.column = column
        self.width = width

    def __str__(self) -> str:
        out = self.message
        if self.line is not None and self.column is not None:
            out = f"line {self.line}:{self.column}: {self.message}"
            if self.query:
                out += "\n" + caret_snippet(self.query, self.line, self.column, self.width)
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out


class EqlError(QueryTextError):
    """An error in EQL text."""


class EqlSyntaxError(EqlError):
    pass


class EqlSemanticError(EqlError):
    pass


class UnsupportedError(VigilError):
    pass


class RuleError(VigilError):
    pass


class SourceError(VigilError):
    pass


class StoreError(VigilError):
    pass


class ConfigError(VigilError):
    pass
