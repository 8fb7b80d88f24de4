"""Reading and writing detection-rules TOML: parse with the line of every key, report syntax errors located.

`tomllib` gives the data but no positions, so `key_lines()` scans the text once to map each dotted key path
(`rule.query`, `rule.threat[1].tactic.id`) to its 1-based line. Arrays of tables get an index per entry, counted the
way TOML assigns them, so the path of a value in the parsed data is also its key in the line map.
"""

from __future__ import annotations

import re
import tomllib
import typing as t
from pathlib import Path

import tomli_w

from vigil.errors import Location, RuleError, caret_snippet

_TOMLLIB_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_AOT_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def parse_toml(text: str, path: t.Optional[str] = None) -> tuple[dict[str, t.Any], dict[str, int]]:
    """Parse TOML text. Returns (data, key_lines). A syntax error raises RuleError at file:line:column."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        m = _TOMLLIB_POS.search(message)
        line = int(m.group(1)) if m else None
        column = int(m.group(2)) if m else None
        reason = _TOMLLIB_POS.sub("", message).strip()
        if line is None and "end of document" in message:
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            reason = reason.replace("(at end of document)", "").strip() + " (at end of file)"
        snippet = "\n" + caret_snippet(text, line, column or 1) if line else ""
        raise RuleError(f"invalid TOML: {reason}{snippet}", Location(path=path, line=line, column=column)) from None
    return data, key_lines(text)


def read_text(path: Path) -> str:
    """The text of a rule file. Unreadable or non-UTF-8 files raise RuleError."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as error:
        raise RuleError(f"cannot read rule file: {error.strerror or error}", Location(path=str(path))) from None
    except UnicodeDecodeError as error:
        raise RuleError(f"rule file is not UTF-8 (byte {error.start})", Location(path=str(path))) from None


def _split_dotted(name: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", name)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[str, int]:
    """Map every key path and table path to the line where it is written (first occurrence)."""
    lines: dict[str, int] = {}
    aot_current: dict[str, str] = {}  # unindexed array-of-tables path -> indexed path of its current entry
    aot_count: dict[str, int] = {}  # indexed parent path + name -> entries so far
    table = ""
    in_string: t.Optional[str] = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in raw:
                in_string = None if raw.count(in_string) % 2 == 1 else in_string
            continue
        stripped = raw.lstrip()
        if stripped.startswith("#") or not stripped:
            continue
        aot = _AOT_HEADER.match(raw)
        header = None if aot else _TABLE_HEADER.match(raw)
        if aot or header:
            parts = _split_dotted((aot or header).group(1))  # type: ignore[union-attr]
            indexed, plain = "", ""
            for i, part in enumerate(parts):
                plain = f"{plain}.{part}" if plain else part
                indexed = f"{indexed}.{part}" if indexed else part
                last = i == len(parts) - 1
                if aot and last:
                    count = aot_count.get(indexed, -1) + 1
                    aot_count[indexed] = count
                    indexed = f"{indexed}[{count}]"
                    aot_current[plain] = indexed
                elif plain in aot_current:
                    indexed = aot_current[plain]
            table = indexed
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            path = ".".join(_split_dotted(key.group(1)))
            lines.setdefault(f"{table}.{path}" if table else path, number)
        # Track multi-line strings so their contents are never read as keys.
        for delim in ('"""', "'''"):
            if raw.count(delim) % 2 == 1:
                in_string = delim
                break
    return lines


def query_line_offset(text: str, key_line: int) -> int:
    """How many file lines come before line 1 of a string value written on `key_line`.

    TOML trims the newline right after an opening triple quote, so `query = '''` + newline puts the query's first
    line on the next file line.
    """
    source = text.splitlines()[key_line - 1] if 0 < key_line <= len(text.splitlines()) else ""
    after = source.split("=", 1)[1].strip() if "=" in source else ""
    return key_line if after in ('"""', "'''") else key_line - 1


def dumps_document(document: t.Mapping[str, t.Any]) -> str:
    """TOML text for a rule document; multi-line strings stay readable. JSON nulls (no TOML form) are dropped."""
    return tomli_w.dumps(_drop_nulls(document), multiline_strings=True)


def _drop_nulls(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_nulls(v) for v in value if v is not None]
    return value
