"""Errors for KQL text, located at line:column inside the query and shown with a caret.

    KqlSyntaxError       the text does not parse as KQL (an `EqlSyntaxError`, so callers that already catch
                         query-language errors catch it too)
    KqlUnsupportedError  valid KQL that vigil does not run (free text, wildcard field names, ...), named; an
                         `UnsupportedError`, so a rule loader can skip the rule with a notice instead of failing
"""

from __future__ import annotations

import typing as t

from vigil.errors import EqlSyntaxError, Location, UnsupportedError, caret_snippet

__all__ = ["KqlSyntaxError", "KqlUnsupportedError"]


class KqlSyntaxError(EqlSyntaxError):
    """KQL that Kibana's grammar rejects; `str()` is `line L:C: message`, the query line and a caret."""


class KqlUnsupportedError(UnsupportedError):
    """KQL that parses but that vigil cannot evaluate with Kibana's meaning; shown like a syntax error."""

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
