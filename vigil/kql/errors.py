"""Errors for KQL text, located at line:column inside the query and shown with a caret.

    KqlSyntaxError       the text does not parse as KQL (an `EqlSyntaxError`, so callers that already catch
                         query-language errors catch it too)
    KqlUnsupportedError  valid KQL that vigil does not run (free text, wildcard field names, ...), named; an
                         `UnsupportedError`, so a rule loader can skip the rule with a notice instead of failing
"""

from __future__ import annotations

from vigil.errors import EqlSyntaxError, QueryTextError, UnsupportedError

__all__ = ["KqlSyntaxError", "KqlUnsupportedError"]


class KqlSyntaxError(EqlSyntaxError):
    """KQL that Kibana's grammar rejects; `str()` is `line L:C: message`, the query line and a caret."""


class KqlUnsupportedError(UnsupportedError, QueryTextError):
    """KQL that parses but that vigil cannot evaluate with Kibana's meaning; shown like a syntax error."""
