"""The configuration file: one TOML file saying what to read, where to store alerts, and which rules to run.

Where it is: `--config PATH`, else the `VIGIL_CONFIG` environment variable, else `<data dir>/vigil.toml` (data dir:
`$VIGIL_HOME` or `~/.local/share/vigil`). An explicitly named file must exist; the default one is optional (no file
means built-in defaults). Relative paths inside the file are relative to the file's own directory, so a config
and its rules can move together. There are no time zones to configure: every time vigil reads or writes is UTC.

Every mistake is a `ConfigError` naming `file:line [key]` (see docs/config.md for the format).
"""

from __future__ import annotations

import os
import re
import tomllib
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import ConfigError, Location, SourceError
from vigil.paths import data_dir

ENV_VAR = "VIGIL_CONFIG"
DEFAULT_NAME = "vigil.toml"

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "store": {"path": str},
    "rules": {"dirs": list, "enabled": list, "disabled": list},
    "exceptions": {"dir": str},
    "sources": {"paths": list, "format": str, "follow": bool},
    "outputs": {},  # notification channels: validated by vigil.notify (docs/notify.md)
    "response": {},  # response actions: validated by vigil.response (docs/response.md)
}
_PASS_THROUGH = ("outputs", "response")  # sections whose owners validate them, with the same located errors
_ARRAY_TABLES = {"sources"}


@dataclass(frozen=True)
class SourceConfig:
    """One `[[sources]]` entry: files, directories or globs read with one (detected or forced) format."""

    paths: tuple[str, ...]
    format: t.Optional[str] = None
    follow: bool = False
    location: t.Optional[Location] = None


@dataclass(frozen=True)
class Config:
    path: t.Optional[Path] = None  # None: no file, defaults only
    store_path: t.Optional[Path] = None
    rule_dirs: tuple[Path, ...] = ()
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    exceptions_dir: t.Optional[Path] = None
    sources: tuple[SourceConfig, ...] = ()
    outputs: t.Mapping[str, t.Any] = field(default_factory=dict)
    response: t.Mapping[str, t.Any] = field(default_factory=dict)

    def rule_enabled(self, rule_id: str, default: bool) -> bool:
        """The configured enabled state of a rule; `default` (the registry's state) when the file says nothing."""
        if rule_id in self.disabled:
            return False
        if rule_id in self.enabled:
            return True
        return default


def config_path(explicit: t.Union[str, Path, None] = None) -> tuple[t.Optional[Path], bool]:
    """(the path to read, whether it must exist)."""
    if explicit:
        return Path(explicit), True
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env), True
    return data_dir() / DEFAULT_NAME, False


def load_config(explicit: t.Union[str, Path, None] = None) -> Config:
    """The configuration (see the module docstring for where it is looked for)."""
    path, required = config_path(explicit)
    assert path is not None
    if not path.exists():
        if required:
            raise ConfigError("configuration file not found", Location(path=str(path)),
                              hint=f"check --config / ${ENV_VAR}; see docs/config.md for an example")
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the configuration: {error}", Location(path=str(path))) from None
    return parse_config(text, path)


def parse_config(text: str, path: t.Union[str, Path] = "vigil.toml") -> Config:
    path = Path(path)
    lines = _KeyLines(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        raise ConfigError(f"not valid TOML: {message}", Location(path=str(path), line=line, column=column)) from None

    def loc(key: str) -> Location:
        return Location(path=str(path), line=lines.line_of(key), key=key)

    _check_shape(data, loc)
    base = path.resolve().parent

    def resolve_path(value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    store = data.get("store", {})
    rules = data.get("rules", {})
    sources = []
    for i, entry in enumerate(data.get("sources", [])):
        key = f"sources[{i}]"
        if "paths" not in entry:
            raise ConfigError("a [[sources]] entry needs `paths` (files, directories or globs)", loc(key))
        paths = _strings(entry["paths"], f"{key}.paths", loc)
        if not paths:
            raise ConfigError("`paths` is empty", loc(f"{key}.paths"))
        fmt = entry.get("format")
        if fmt is not None:
            _check_format(fmt, loc(f"{key}.format"))
        resolved = tuple(p if p == "-" else str(resolve_path(p)) for p in paths)
        sources.append(SourceConfig(resolved, fmt, bool(entry.get("follow", False)), loc(key)))
    enabled = _strings(rules.get("enabled", []), "rules.enabled", loc)
    disabled = _strings(rules.get("disabled", []), "rules.disabled", loc)
    both = sorted(set(enabled) & set(disabled))
    if both:
        raise ConfigError(f"rule {both[0]} is both enabled and disabled", loc("rules.disabled"))
    exceptions = data.get("exceptions", {})
    return Config(
        path=path,
        store_path=resolve_path(store["path"]) if "path" in store else None,
        rule_dirs=tuple(resolve_path(d) for d in _strings(rules.get("dirs", []), "rules.dirs", loc)),
        enabled=tuple(enabled),
        disabled=tuple(disabled),
        exceptions_dir=resolve_path(exceptions["dir"]) if "dir" in exceptions else None,
        sources=tuple(sources),
        outputs=data.get("outputs", {}),
        response=data.get("response", {}),
    )


def _check_shape(data: dict, loc: t.Callable[[str], Location]) -> None:
    for section, value in data.items():
        if section not in _SCHEMA:
            raise ConfigError(f"unknown section [{section}]", loc(section),
                              hint="known sections: " + ", ".join(f"[{s}]" for s in _SCHEMA))
        if section in _PASS_THROUGH:
            if not isinstance(value, dict):
                raise ConfigError(f"[{section}] must be a table", loc(section))
            continue
        entries = value if section in _ARRAY_TABLES else [value]
        if section in _ARRAY_TABLES and not (isinstance(value, list) and all(isinstance(e, dict) for e in value)):
            raise ConfigError(f"write sources as [[{section}]] tables", loc(section))
        if section not in _ARRAY_TABLES and not isinstance(value, dict):
            raise ConfigError(f"[{section}] must be a table", loc(section))
        for i, entry in enumerate(entries):
            prefix = f"{section}[{i}]" if section in _ARRAY_TABLES else section
            for key, item in entry.items():
                kind = _SCHEMA[section].get(key)
                if kind is None:
                    known = ", ".join(_SCHEMA[section])
                    raise ConfigError(f"unknown key {key!r} in [{section}]", loc(f"{prefix}.{key}"),
                                      hint=f"known keys: {known}")
                if not isinstance(item, kind) or (kind is not bool and isinstance(item, bool)):
                    raise ConfigError(f"{key} must be {_KIND_NAMES[kind]}, not {type(item).__name__}",
                                      loc(f"{prefix}.{key}"))


_KIND_NAMES = {str: "a string", list: "a list of strings", bool: "true or false"}


def _strings(value: t.Any, key: str, loc: t.Callable[[str], Location]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("must be a list of non-empty strings", loc(key))
    return list(value)


def _check_format(name: str, location: Location) -> None:
    from vigil.sources import resolve

    try:
        resolve(name)
    except SourceError as error:
        raise ConfigError(error.message, location, hint=error.hint) from None


class _KeyLines:
    """The line of each key (`store.path`, `sources[1].paths`) in TOML text, for error locations.

    tomllib keeps no positions, so this scans the text for table headers and `key =` lines: enough for the flat
    layout a configuration has (no inline tables, no dotted keys).
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str):
        self.lines: dict[str, int] = {}
        table, counts = "", {}  # type: ignore[var-annotated]
        in_multiline = False
        for number, raw in enumerate(text.splitlines(), start=1):
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                continue
            if in_multiline:
                continue
            header = self._HEADER.match(raw)
            if header:
                name = header.group(2)
                if header.group(1) == "[[":
                    counts[name] = counts.get(name, -1) + 1
                    table = f"{name}[{counts[name]}]"
                else:
                    table = name
                self.lines.setdefault(table, number)
                self.lines.setdefault(name, number)
                continue
            key = self._KEY.match(raw)
            if key:
                full = f"{table}.{key.group(1)}" if table else key.group(1)
                self.lines.setdefault(full, number)

    def line_of(self, key: str) -> t.Optional[int]:
        probe = key
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe.rpartition(".")[0] if "." in probe else ""
        return None
