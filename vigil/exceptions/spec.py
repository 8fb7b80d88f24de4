"""The one-line entry syntax of `vigil exceptions add --entry`, worded like Kibana's exception builder operators.

    FIELD is VALUE                FIELD is not VALUE
    FIELD is one of A, B, C       FIELD is not one of A, B, C
    FIELD matches PATTERN         FIELD does not match PATTERN        (* and ? wildcards)
    FIELD exists                  FIELD does not exist
    FIELD is in list LIST_ID      FIELD is not in list LIST_ID

Values may be quoted with double quotes to keep spaces or commas.
"""

from __future__ import annotations

import re
import shlex

from vigil.errors import Location
from vigil.exceptions.model import Entry, ExceptionError

_FORMS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^(?P<f>\S+)\s+does\s+not\s+exist$"), "exists", "excluded"),
    (re.compile(r"^(?P<f>\S+)\s+exists$"), "exists", "included"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+not\s+in\s+list\s+(?P<v>.+)$"), "list", "excluded"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+in\s+list\s+(?P<v>.+)$"), "list", "included"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+not\s+one\s+of\s+(?P<v>.+)$"), "match_any", "excluded"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+one\s+of\s+(?P<v>.+)$"), "match_any", "included"),
    (re.compile(r"^(?P<f>\S+)\s+does\s+not\s+match\s+(?P<v>.+)$"), "wildcard", "excluded"),
    (re.compile(r"^(?P<f>\S+)\s+matches\s+(?P<v>.+)$"), "wildcard", "included"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+not\s+(?P<v>.+)$"), "match", "excluded"),
    (re.compile(r"^(?P<f>\S+)\s+is\s+(?P<v>.+)$"), "match", "included"),
]


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse_entry_spec(text: str, *, list_type: str = "keyword") -> Entry:
    """`"user.name is root"` → Entry(field="user.name", type="match", value="root")."""
    spec = text.strip()
    for pattern, kind, operator in _FORMS:
        m = pattern.match(spec)
        if not m:
            continue
        field = m.group("f")
        if kind == "exists":
            return Entry(field=field, type=kind, operator=operator)
        raw = m.group("v")
        if kind == "match_any":
            try:
                parts = [p for p in shlex.split(raw.replace(",", " , ")) if p != ","]
            except ValueError as error:
                raise ExceptionError(f"cannot read the values in {text!r}: {error}") from None
            if not parts:
                break
            return Entry(field=field, type=kind, operator=operator, value=tuple(parts))
        value = _unquote(raw)
        if not value:
            break
        if kind == "list":
            return Entry(field=field, type=kind, operator=operator, list_id=value, list_type=list_type)
        return Entry(field=field, type=kind, operator=operator, value=value)
    raise ExceptionError(
        f"cannot read the entry {text!r}",
        Location(key="--entry"),
        hint="write it as `FIELD is VALUE`, `FIELD is one of A, B`, `FIELD matches PATTERN`, `FIELD exists`, "
        "`FIELD is in list ID` (or their `is not` / `does not` forms)",
    )


def describe_entry(entry: Entry) -> str:
    """The inverse of `parse_entry_spec`, for listings."""
    neg = entry.operator == "excluded"
    if entry.type == "exists":
        return f"{entry.field} {'does not exist' if neg else 'exists'}"
    if entry.type == "match":
        return f"{entry.field} is {'not ' if neg else ''}{entry.value}"
    if entry.type == "match_any":
        return f"{entry.field} is {'not ' if neg else ''}one of {', '.join(entry.value or ())}"
    if entry.type == "wildcard":
        return f"{entry.field} {'does not match' if neg else 'matches'} {entry.value}"
    if entry.type == "list":
        return f"{entry.field} is {'not ' if neg else ''}in list {entry.list_id}"
    inner = " and ".join(describe_entry(e) for e in entry.entries)
    return f"{entry.field} has an object where {inner}"
