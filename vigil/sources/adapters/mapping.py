"""Declarative field mappings, compiled to one straight-line Python function per source.

A source's mapping is a table of steps, read like an Elastic ingest pipeline:

    Copy("ImageFileName", "process.executable")                 rename raw key → ECS field
    Copy("RawProcessId", "process.pid", to_int)                 ... with a converter (`convert`, `date`)
    Copy("aid", ("host.id", "device.id"))                       ... to several fields
    Copy("MD5HashData", "process.hash.md5", keep=True)          `set copy_from`: the vendor copy stays too
    First(("TargetProcessId", "ContextProcessId"), "process.entity_id")   first present raw key wins
    Set("event.kind", "event")                                  constant
    Lookup("event_simpleName", CATEGORIES, ("event.category", "event.type"))   value map to several fields

`compile_mapping` turns the table into Python source (no per-field interpretation at run time): CrowdStrike FDR has
~40 steps per record and must run at ≥150k records/s on one core, which a table-walking interpreter does not reach.
Raw keys are flat (`"tgt.process.name"` is one key, as in SentinelOne's feed); empty strings count as absent, as
Elastic's pipelines drop them. Raw keys no step consumed can be kept under a vendor namespace (`crowdstrike.*`).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

Converter = t.Callable[[t.Any], t.Any]


@dataclass(frozen=True, slots=True)
class Copy:
    src: str
    dst: t.Union[str, tuple[str, ...]]
    convert: t.Optional[Converter] = None
    keep: bool = False


@dataclass(frozen=True, slots=True)
class First:
    srcs: tuple[str, ...]
    dst: t.Union[str, tuple[str, ...]]
    convert: t.Optional[Converter] = None
    keep: bool = False


@dataclass(frozen=True, slots=True)
class Set:
    dst: str
    value: t.Any


@dataclass(frozen=True, slots=True)
class Lookup:
    """raw[src] → one row of `table` (a tuple aligned with `dsts`; None leaves that field unset)."""

    src: str
    table: t.Mapping[str, tuple]
    dsts: tuple[str, ...]
    keep: bool = True


Step = t.Union[Copy, First, Set, Lookup]


def _dsts(dst: t.Union[str, tuple[str, ...]]) -> tuple[str, ...]:
    return (dst,) if isinstance(dst, str) else tuple(dst)


def _var(container: str) -> str:
    return "d_" + container.replace(".", "__").replace("@", "at_") if container else "doc"


def _split(path: str) -> tuple[str, str]:
    container, _, leaf = path.rpartition(".")
    return container, leaf


def compile_mapping(
    name: str,
    steps: t.Sequence[Step],
    *,
    vendor: t.Optional[str] = None,
    vendor_convert: t.Optional[t.Mapping[str, Converter]] = None,
) -> t.Callable[[dict], dict]:
    """Compile `steps` into `fn(raw: dict) -> dict` building a nested ECS document.

    `vendor`: raw keys that no step consumed (and those copied with `keep=True`) go to `doc[vendor]`, converted by
    `vendor_convert[key]` when listed. The generated source is kept on `fn.__source__` for debugging.
    """
    consts: dict[str, t.Any] = {}
    lines: list[str] = []
    containers: set[str] = set()
    # A raw key is consumed (renamed away, so absent from the vendor namespace) unless every step reading it keeps it.
    readers: dict[str, list[bool]] = {}
    for step in steps:
        for src in _sources(step):
            readers.setdefault(src, []).append(getattr(step, "keep", False))
    consumed = {src for src, keeps in readers.items() if not all(keeps)}
    loaded: dict[str, str] = {}

    def load(src: str) -> str:
        # Each raw key is read once into a local; consumed keys are popped from the working copy so that what is
        # left over *is* the vendor namespace, without a second pass over the record.
        if src not in loaded:
            loaded[src] = f"s{len(loaded)}"
            how = "pop" if (vendor and src in consumed) else "get"
            lines.append(f"{loaded[src]} = {how}({src!r}, None)")
        return loaded[src]

    def const(value: t.Any) -> str:
        key = f"k{len(consts)}"
        consts[key] = value
        return key

    def assign(path: str, expr: str, indent: str) -> None:
        container, leaf = _split(path)
        parts = container.split(".") if container else []
        for i in range(len(parts) + 1):
            containers.add(".".join(parts[:i]))
        lines.append(f"{indent}{_var(container)}[{leaf!r}] = {expr}")

    def emit_value(dsts: tuple[str, ...], convert: t.Optional[Converter], indent: str) -> None:
        if convert is not None:
            lines.append(f"{indent}v = {const(convert)}(v)")
            lines.append(f"{indent}if v is not None:")
            indent += "    "
        for path in dsts:
            assign(path, "v", indent)

    for step in steps:
        if isinstance(step, Copy):
            lines.append(f"v = {load(step.src)}")
            lines.append("if v is not None and v != '':")
            emit_value(_dsts(step.dst), step.convert, "    ")
        elif isinstance(step, First):
            names = [load(src) for src in step.srcs]
            lines.append(f"v = {names[0]}")
            for name in names[1:]:
                lines.append(f"if v is None or v == '':\n    v = {name}")
            lines.append("if v is not None and v != '':")
            emit_value(_dsts(step.dst), step.convert, "    ")
        elif isinstance(step, Set):
            # A list constant is written as a literal so every document gets its own list.
            expr = repr(step.value) if isinstance(step.value, (str, int, float, bool, list)) else const(step.value)
            assign(step.dst, expr, "")
        elif isinstance(step, Lookup):
            lines.append(f"row = {const(step.table)}.get({load(step.src)})")
            lines.append("if row is not None:")
            for i, path in enumerate(step.dsts):
                column = [row[i] for row in step.table.values()]
                copy = ".copy()" if any(isinstance(x, list) for x in column) else ""
                if any(x is None for x in column):
                    lines.append(f"    if row[{i}] is not None:")
                    assign(path, f"row[{i}]{copy}", "        ")
                else:
                    assign(path, f"row[{i}]{copy}", "    ")
        else:  # pragma: no cover - guarded by the type
            raise TypeError(f"unknown mapping step {step!r}")

    # Build containers bottom-up so empty objects never appear in the output.
    body = [f"{_var(c)} = {{}}" for c in sorted(containers, key=lambda c: (c.count("."), c)) if c] + lines
    for container in sorted((c for c in containers if c), key=lambda c: -c.count(".") - 1):
        parent, leaf = _split(container)
        body.append(f"if {_var(container)}: {_var(parent)}[{leaf!r}] = {_var(container)}")
    if vendor:
        for key, convert in (vendor_convert or {}).items():
            body += [
                f"v = raw.get({key!r})",
                "if v is not None:",
                f"    v = {const(convert)}(v)",
                f"    if v is None: del raw[{key!r}]",
                f"    else: raw[{key!r}] = v",
            ]
        body += [
            "if '' in raw.values() or None in raw.values():",
            "    raw = {key: val for key, val in raw.items() if val is not None and val != ''}",
            f"if raw: doc[{vendor!r}] = raw",
        ]
    head = "    raw = dict(raw)\n    pop = raw.pop\n" if vendor else ""
    source = f"def {name}(raw):\n{head}    get = raw.get\n    doc = {{}}\n"
    source += "".join(f"    {line}\n" for chunk in body for line in chunk.split("\n"))
    source += "    return doc\n"
    namespace: dict[str, t.Any] = dict(consts)
    exec(compile(source, f"<mapping {name}>", "exec"), namespace)  # noqa: S102 - source built from our own tables
    fn = namespace[name]
    fn.__source__ = source
    return fn


def _sources(step: Step) -> tuple[str, ...]:
    if isinstance(step, (Copy, Lookup)):
        return (step.src,)
    if isinstance(step, First):
        return step.srcs
    return ()


def put(doc: dict, path: str, value: t.Any) -> None:
    """Set a dotted ECS path in a nested document, creating objects on the way (for post-mapping fix-ups)."""
    node = doc
    *parents, leaf = path.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[leaf] = value


def lookup(doc: t.Mapping, path: str, default: t.Any = None) -> t.Any:
    """Read a dotted path from a document whose keys may be nested (`{"a":{"b":1}}`) or flat (`{"a.b":1}`)."""
    value = doc.get(path, _MISSING)
    if value is not _MISSING:
        return value
    node: t.Any = doc
    parts = path.split(".")
    for i, key in enumerate(parts):
        if not isinstance(node, dict):
            return default
        if key in node:
            node = node[key]
            continue
        rest = ".".join(parts[i:])
        return node.get(rest, default)
    return node


_MISSING = object()
