"""Declarative field mappings, compiled to straight-line Python per record *shape*.

A source's mapping is a table of steps, read like an Elastic ingest pipeline:

    Copy("ImageFileName", "process.executable")                 rename raw key → ECS field
    Copy("RawProcessId", "process.pid", to_int)                 ... with a converter (`convert`, `date`)
    Copy("aid", ("host.id", "device.id"))                       ... to several fields
    Copy("MD5HashData", "process.hash.md5", keep=True)          `set copy_from`: the vendor copy stays too
    First(("TargetProcessId", "ContextProcessId"), "process.entity_id")   first present raw key wins
    Set("event.kind", "event")                                  constant
    Lookup("event_simpleName", CATEGORIES, ("event.category", "event.type"))   value map to several fields
    Derive(("CommandLine",), ("process.args", "process.args_count"), split)  computed from raw values
    Append(("UserName", "UID"), "related.user")                  list of the distinct present values

Semantics (the reference is `interpret`): raw keys are flat (`"tgt.process.name"` is one key); None and empty strings
count as absent, as Elastic's pipelines drop them; a converter or derivation returning None leaves its field unset;
later steps overwrite earlier ones; objects are only created when something is put in them. Raw keys no step
consumed (and those read with `keep=True`) can be kept under a vendor namespace (`crowdstrike.*`).

Speed (issue #4 §7, ≥150k records/s on one core for CrowdStrike FDR): a vendor feed repeats a handful of record
*shapes* (the same keys in the same order per event type). For each shape met, `compile_shape` writes one Python
function that knows which keys are present, so every `is absent` test, every First fallback and every table lookup
is decided once, at compile time, and the document is built with nested dict literals. Only converters and
derivations run per record, most of them inlined as expressions (a converter's `inline` writer: its common case
without a call). Shapes are cached (bounded); beyond the bound, records go through `interpret`.

Projection (`fn.project(fields)`): a detection pass reads a handful of fields, and building the ~75-field document
costs more than everything else per record. A projected mapping runs only the steps that write a *needed* field
(`needed(fields)`: the field itself, anything under a listed prefix, or the objects on the way to a listed leaf) and
puts only needed paths, so `restrict(project(F)(raw), F) == restrict(fn(raw), F)` for every record. It is compiled
per shape like the full one; `.raw_keys` names the raw keys it may read (for projected decoding of the input line).
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

Converter = t.Callable[[t.Any], t.Any]

MAX_SHAPES = 512  # per mapping; a feed with more distinct key layouts than this is pathological


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


@dataclass(frozen=True, slots=True)
class Derive:
    """`fn(*values of srcs)` (None for an absent source) → the value of `dsts[0]`, or a row aligned with `dsts`
    when there are several. Skipped when all sources are absent or one of the first `needs` is; reads never consume.
    """

    srcs: tuple[str, ...]
    dsts: tuple[str, ...]
    fn: t.Callable[..., t.Any]
    needs: int = 1


@dataclass(frozen=True, slots=True)
class Append:
    """The ingest `append` processor with `allow_duplicates: false` (how Elastic fills `related.*`): the present
    values of `srcs` (each through `convert` when given; None dropped) are added to the list at `dst` unless already
    in it. Several Append steps may target one field; no other step may."""

    srcs: tuple[str, ...]
    dst: str
    convert: t.Optional[Converter] = None


Step = t.Union[Copy, First, Set, Lookup, Derive, Append]


def _dsts(dst: t.Union[str, tuple[str, ...]]) -> tuple[str, ...]:
    return (dst,) if isinstance(dst, str) else tuple(dst)


def _targets(step: Step) -> tuple[str, ...]:
    """The ECS fields a step may write."""
    if isinstance(step, (Copy, First)):
        return _dsts(step.dst)
    if isinstance(step, (Lookup, Derive)):
        return step.dsts
    return (step.dst,)


def needed(fields: t.Iterable[str]) -> t.Callable[[str], bool]:
    """`wanted(path)`: True when a document path is needed to answer reads of `fields` (dotted ECS paths).

    Needed: a listed field, anything under one (`process` covers `process.name`), and the objects on the way to
    one (listing `process.parent.name` needs the `process` and `process.parent` objects, not their other leaves).
    Used at compile time only, so a plain loop is fine."""
    listed = frozenset(fields)
    below = tuple(f + "." for f in listed)

    def wanted(path: str) -> bool:
        if path in listed or path.startswith(below):
            return True
        prefix = path + "."
        return any(f.startswith(prefix) for f in listed)

    return wanted


def restrict(doc: t.Any, fields: t.Iterable[str]) -> t.Any:
    """`doc` with only the paths `needed(fields)` keeps (the projection invariant compares documents this way).

    Keys may be dotted (a vendor namespace's raw keys, flattened ECS): a path is the dotted join of the keys
    leading to it. Under a listed field everything is kept; on the way to one, objects (also inside arrays, as
    Elasticsearch reads arrays of objects) keep only the needed keys, and an object left empty is dropped."""
    listed = frozenset(fields)
    below = tuple(f + "." for f in listed)
    wanted = needed(listed)

    def walk(node: dict, prefix: str) -> dict:
        out = {}
        for key, value in node.items():
            path = prefix + key
            if not wanted(path):
                continue
            if not (path in listed or path.startswith(below)):  # an object on the way to a listed field
                if isinstance(value, dict):
                    value = walk(value, path + ".")
                    if not value:
                        continue
                elif isinstance(value, list):
                    value = [walk(item, path + ".") if isinstance(item, dict) else item for item in value]
            out[key] = value
        return out

    return walk(doc, "") if isinstance(doc, dict) else doc


def _sources(step: Step) -> tuple[str, ...]:
    if isinstance(step, (Copy, Lookup)):
        return (step.src,)
    if isinstance(step, (First, Derive, Append)):
        return step.srcs
    return ()


def _consumed(steps: t.Sequence[Step]) -> frozenset[str]:
    """Raw keys renamed away (absent from the vendor namespace): read by at least one step without `keep`."""
    keeps: dict[str, list[bool]] = {}
    for step in steps:
        for src in _sources(step):
            keeps.setdefault(src, []).append(isinstance(step, (Derive, Append)) or getattr(step, "keep", False))
    return frozenset(src for src, flags in keeps.items() if not all(flags))


def _present(raw: dict) -> dict:
    return {key: value for key, value in raw.items() if value is not None and value != ""}


def _fresh(value: t.Any) -> t.Any:
    # Constants that are lists must not be shared between documents (a caller may append to one).
    return list(value) if isinstance(value, list) else value


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


def _row(table: t.Mapping, value: t.Any) -> t.Optional[tuple]:
    try:
        return table.get(value)
    except TypeError:  # an unhashable raw value (list, object) is in no table
        return None


def _projected_put(wanted: t.Callable[[str], bool]) -> t.Callable[[dict, str, t.Any], None]:
    def place(doc: dict, path: str, value: t.Any) -> None:
        if wanted(path):
            put(doc, path, value)

    return place


def interpret(steps: t.Sequence[Step], raw: dict, *, vendor: t.Optional[str] = None,
              vendor_convert: t.Optional[t.Mapping[str, Converter]] = None,
              consumed: t.Optional[frozenset[str]] = None,
              wanted: t.Optional[t.Callable[[str], bool]] = None) -> dict:
    """The reference semantics of a mapping, one step at a time (the fallback for shapes beyond the cache).

    `wanted` (see `needed`): only steps writing a wanted path run, and only wanted paths are put; `consumed` must
    then be given for the full step list (the vendor namespace does not depend on which steps are projected)."""
    present = _present(raw)
    doc: dict = {}
    place = put
    if wanted is not None:
        if consumed is None:
            consumed = _consumed(steps)
        steps = [step for step in steps if any(wanted(path) for path in _targets(step))]
        place = _projected_put(wanted)
    for step in steps:
        if isinstance(step, (Copy, First)):
            srcs = (step.src,) if isinstance(step, Copy) else step.srcs
            value = next((present[src] for src in srcs if src in present), None)
            if value is not None and step.convert is not None:
                value = step.convert(value)
            if value is not None:
                for path in _dsts(step.dst):
                    place(doc, path, value)
        elif isinstance(step, Set):
            place(doc, step.dst, _fresh(step.value))
        elif isinstance(step, Lookup):
            row = _row(step.table, present.get(step.src))
            if row is not None:
                for path, value in zip(step.dsts, row):
                    if value is not None:
                        place(doc, path, _fresh(value))
        elif isinstance(step, Derive):
            values = [present.get(src) for src in step.srcs]
            if all(v is None for v in values) or any(v is None for v in values[: step.needs]):
                continue
            result = step.fn(*values)
            if result is None:
                continue
            row = (result,) if len(step.dsts) == 1 else result
            for path, value in zip(step.dsts, row):
                if value is not None:
                    place(doc, path, value)
        elif isinstance(step, Append):
            for src in step.srcs:
                value = present.get(src)
                if value is not None and step.convert is not None:
                    value = step.convert(value)
                if value is not None:
                    values = lookup(doc, step.dst)
                    if values is None:
                        place(doc, step.dst, [value])
                    elif value not in values:
                        values.append(value)
        else:  # pragma: no cover - guarded by the type
            raise TypeError(f"unknown mapping step {step!r}")
    if vendor:
        if consumed is None:
            consumed = _consumed(steps)
        namespace = {key: value for key, value in present.items()
                     if key not in consumed and (wanted is None or wanted(f"{vendor}.{key}"))}
        for key, convert in (vendor_convert or {}).items():
            if key in namespace:
                value = convert(namespace[key])
                if value is None:
                    del namespace[key]
                else:
                    namespace[key] = value
        if namespace:
            doc[vendor] = namespace
    return doc


def compile_mapping(
    name: str,
    steps: t.Sequence[Step],
    *,
    vendor: t.Optional[str] = None,
    vendor_convert: t.Optional[t.Mapping[str, Converter]] = None,
    require: t.Optional[str] = None,
) -> t.Callable[[dict], t.Optional[dict]]:
    """`fn(raw: dict) -> dict` building the nested ECS document of `steps` (see the module docstring).

    `require`: a raw key without which the record is not this source's; `fn` returns None when it is absent or
    empty (tested in the generated dispatcher itself, which saves the adapter a wrapper call per record).

    `vendor`: raw keys that no step consumed (and those copied with `keep=True`) go to `doc[vendor]`, converted by
    `vendor_convert[key]` when listed. The caller's dict is never modified. `fn.shapes` holds the compiled shapes
    (their source on `.__source__`), `fn.interpret(raw)` runs the reference semantics.

    `fn.project(fields)`: the same mapping restricted to the paths `needed(fields)` (cached per field set), with
    `.fields` (the set), `.raw_keys` (the raw keys it may read, or None when it may read any: the vendor namespace
    is needed) and `.require`. `fn.fields` and `fn.raw_keys` are None on the full mapping.
    """
    steps = tuple(steps)
    spec = _Spec(name, steps, vendor, dict(vendor_convert or {}), require, _consumed(steps))
    full = _build(spec, None)
    cache: dict[frozenset[str], t.Callable[[dict], t.Optional[dict]]] = {}

    def project(fields: t.Iterable[str]) -> t.Callable[[dict], t.Optional[dict]]:
        key = frozenset(fields)
        fn = cache.get(key)
        if fn is None:
            if len(cache) >= MAX_SHAPES:  # one per rule set in practice; a caller looping over field sets is a bug
                cache.clear()
            fn = cache[key] = _build(spec, key)
            fn.project = project
        return fn

    full.project = project
    return full


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    steps: tuple[Step, ...]
    vendor: t.Optional[str]
    vendor_convert: dict[str, Converter]
    require: t.Optional[str]
    consumed: frozenset[str]  # always from the full step list: projection never changes the vendor namespace


def _build(spec: _Spec, fields: t.Optional[frozenset[str]]) -> t.Callable[[dict], t.Optional[dict]]:
    """The dispatcher of one mapping: full (`fields` None) or projected on `fields`."""
    from vigil.sources.adapters.shapes import ShapeCompiler

    name, require, consumed, vendor_convert = spec.name, spec.require, spec.consumed, spec.vendor_convert
    wanted = None if fields is None else needed(fields)
    if wanted is None:
        steps, vendor = spec.steps, spec.vendor
    else:
        # Steps writing no needed field are gone, so are their loads, converter calls and lookup-table probes.
        steps = tuple(step for step in spec.steps if any(wanted(path) for path in _targets(step)))
        vendor = spec.vendor if spec.vendor and wanted(spec.vendor) else None

    def reference(raw: dict) -> t.Optional[dict]:
        if require is not None and not raw.get(require):
            return None
        return interpret(steps, raw, vendor=vendor, vendor_convert=vendor_convert, consumed=consumed, wanted=wanted)

    compiler = ShapeCompiler(name, steps, vendor=vendor, vendor_convert=vendor_convert, consumed=consumed,
                             wanted=wanted)
    lookups = [step for step in steps if isinstance(step, Lookup)]
    shapes: dict[tuple, t.Callable[[dict], dict]] = {}

    # The dispatcher is generated too: one line per lookup table whose hit is part of the shape key.
    lines = [f"def {_identifier(name)}(raw):"]
    if require is not None:
        lines.append(f"    if not raw.get({require!r}): return None")
    lines += ["    if not all(raw.values()):",  # rare: a None, '' (or 0/False) value; drop exactly the absent ones
             "        raw = present(raw)",
             "    try:"]
    key = ["tuple(raw)"]
    for i, step in enumerate(lookups):
        lines.append(f"        l{i} = raw.get({step.src!r})")
        lines.append(f"        l{i} = l{i} if l{i} in t{i} else None")
        key.append(f"l{i}")
    lines += [f"        fn = shapes[({', '.join(key)},)]",
              "    except KeyError:",
              "        fn = new_shape(raw)",
              "    except TypeError:",  # an unhashable lookup value
              "        fn = reference",
              "    return fn(raw)"]

    def new_shape(raw: dict) -> t.Callable[[dict], dict]:
        if len(shapes) >= MAX_SHAPES:
            return reference
        # Same key as the dispatcher's: the looked-up value when the table has it, else None.
        hits = tuple(raw.get(step.src) if raw.get(step.src) in step.table else None for step in lookups)
        fn = compiler.compile(tuple(raw), tuple(None if hit is None else step.table[hit]
                                                for step, hit in zip(lookups, hits)))
        shapes[(tuple(raw), *hits)] = fn
        return fn

    namespace: dict[str, t.Any] = {"present": _present, "shapes": shapes, "new_shape": new_shape,
                                   "reference": reference}
    namespace.update({f"t{i}": step.table for i, step in enumerate(lookups)})
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<mapping {name}>", "exec"), namespace)  # noqa: S102 - source built from our own tables
    fn = namespace[_identifier(name)]
    fn.__source__ = source
    fn.shapes = shapes
    fn.interpret = reference
    fn.steps = steps
    fn.fields = fields
    fn.require = require
    if fields is None or vendor is not None:
        fn.raw_keys = None  # the vendor namespace holds every raw key no step consumed: any key may be read
    else:
        fn.raw_keys = frozenset(src for step in steps for src in _sources(step)) | (
            {require} if require is not None else set())
    return fn


def unique(values: t.Iterable[t.Any]) -> t.Optional[list]:
    """The non-None values in first-seen order without repeats, or None when there are none (`Append` at run time)."""
    out: list = []
    for value in values:
        if value is not None and value not in out:
            out.append(value)
    return out or None


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return cleaned if cleaned[:1].isalpha() else "m_" + cleaned


def literal(value: t.Any) -> t.Optional[str]:
    """Python source that rebuilds `value` (fresh lists each evaluation), or None when it has no safe literal."""
    if value is None or value is True or value is False or value.__class__ in (str, int):
        return repr(value)
    if value.__class__ is float:
        return repr(value) if math.isfinite(value) else None
    if value.__class__ in (list, tuple):
        items = [literal(item) for item in value]
        if any(item is None for item in items):
            return None
        body = ", ".join(items)
        return f"[{body}]" if value.__class__ is list else f"({body}{',' if len(items) == 1 else ''})"
    return None
