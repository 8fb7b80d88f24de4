"""Field definitions (ECS, Elastic Defend, Endgame, Beats) used to check that a rule's query names real fields.

The definitions are data that vigil does not ship: they are read from a schemas directory holding the files of
elastic/detection-rules `detection_rules/etc/` (ecs_flat-*.json.gz, endpoint_*.json.gz, endgame_ecs_mapping-*.json.gz,
beats-*.json.gz). The directory comes from `--schemas DIR` or the `VIGIL_SCHEMAS` environment variable; without one
the field check is skipped with a one-line note.
"""

from __future__ import annotations

import gzip
import json
import os
import typing as t
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import ConfigError, Location

SCHEMAS_ENV = "VIGIL_SCHEMAS"


@dataclass(frozen=True)
class FieldSchema:
    """Known field names and their types, merged from every definition file found."""

    types: t.Mapping[str, str]
    sources: tuple[str, ...]

    def has(self, name: str) -> bool:
        return name in self.types

    def type_of(self, name: str) -> t.Optional[str]:
        return self.types.get(name)

    def __len__(self) -> int:
        return len(self.types)


def schemas_dir_from_env() -> t.Optional[Path]:
    value = os.environ.get(SCHEMAS_ENV)
    return Path(value) if value else None


def load_field_schema(directory: Path) -> FieldSchema:
    """Read every known definition file in `directory`. Raises ConfigError if it holds none."""
    if not directory.is_dir():
        raise ConfigError("schemas directory not found", Location(path=str(directory)))
    types: dict[str, str] = {}
    sources: list[str] = []
    # ECS first so its types win over Beats aliases of the same name.
    order = ("ecs_flat", "endpoint_", "endgame_", "beats")

    def rank(path: Path) -> tuple[int, str]:
        return next((i for i, o in enumerate(order) if path.name.startswith(o)), len(order)), path.name

    ranked = sorted(directory.iterdir(), key=rank)
    for path in ranked:
        name = path.name
        loader = None
        if name.startswith("ecs_flat"):
            loader = _ecs_flat
        elif name.startswith("endpoint_") or name.startswith("endgame_"):
            loader = _flat_types
        elif name.startswith("beats"):
            loader = _beats
        if loader is None or not name.endswith((".json", ".json.gz")):
            continue
        try:
            data = _read_json(path)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read field definitions: {error}", Location(path=str(path))) from None
        for field_name, field_type in loader(data):
            types.setdefault(field_name, field_type)
        sources.append(name)
    if not sources:
        raise ConfigError(
            "no field definitions found (expected ecs_flat-*.json.gz, beats-*.json.gz, ...)",
            Location(path=str(directory)),
        )
    return FieldSchema(types, tuple(sources))


def _read_json(path: Path) -> t.Any:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def _ecs_flat(data: t.Mapping[str, t.Any]) -> t.Iterator[tuple[str, str]]:
    for name, spec in data.items():
        yield name, spec.get("type", "object") if isinstance(spec, dict) else str(spec)
        for multi in spec.get("multi_fields", ()) if isinstance(spec, dict) else ():
            yield f"{name}.{multi.get('name')}", multi.get("type", "text")


def _flat_types(data: t.Mapping[str, t.Any]) -> t.Iterator[tuple[str, str]]:
    for name, spec in data.items():
        yield name, spec if isinstance(spec, str) else str(spec.get("type", "object"))


def _beats(data: t.Any) -> t.Iterator[tuple[str, str]]:
    """Beats definitions are folder trees of fields.yml lists; group names prefix their children."""

    def fields(entries: t.Any, prefix: str) -> t.Iterator[tuple[str, str]]:
        for entry in entries or ():
            if not isinstance(entry, dict):
                continue
            name = entry.get("name")
            if not isinstance(name, (str, type(None))):
                continue
            full = f"{prefix}.{name}" if prefix and name else (name or prefix)
            if entry.get("fields") is not None:
                yield from fields(entry["fields"], full if name else prefix)
            elif name:
                yield full, str(entry.get("type", "keyword"))

    def walk(node: t.Any) -> t.Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for key in ("folders", "files"):
                for child in (node.get(key) or {}).values():
                    if isinstance(child, list):
                        # top-level entries are keyed modules (`key:`), not name prefixes
                        for top in child:
                            if isinstance(top, dict):
                                yield from fields(top.get("fields"), top.get("name") or "")
                    else:
                        yield from walk(child)

    for beat in (data or {}).values():
        yield from walk(beat)
