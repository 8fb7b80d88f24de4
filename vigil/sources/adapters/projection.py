"""Projected normalization for adapters built on a mapping table: run only the steps the enabled rules read.

Issue #4 asks ≥150k FDR events/s on one core. Decoding a whole ~800-byte FDR line and building its ~75-field ECS
document costs more than that budget in Python (the nested dict literal alone is ~5 µs), so while detecting, vigil
builds only the fields the rules read (`mapping`'s `fn.project(fields)`) and decodes only the raw keys those steps
read: msgspec skips the rest of the line at C speed (the approach of vigil/io/projection.py for ECS documents). The
full document is built later, for the few events that become alerts (`Record.complete()`).

`projector(mapping, marker=...)` gives an `Adapter.projector`: fields → normalize callable, cached per field set.
The callable has `.decode`: when the raw keys it reads are known, a `decode(line: bytes) -> dict | None` giving the
projected raw record, or None when the line is anything but a plain record of this source (a search hit, a bulk
action, an array, invalid JSON, a value orjson would decode differently); the reader then decodes that line in
full with orjson, as without projection. So the projected record is always the one orjson would give, restricted
to the keys read. One difference remains, on purpose: a line that orjson rejects only because of a skipped value
(a number out of double range, `1e400`) is read instead of being counted as bad.
"""

from __future__ import annotations

import math
import typing as t

import msgspec
import orjson

Normalize = t.Callable[[dict], t.Optional[dict]]

_I64_MIN, _U64_END = -(2**63), 2**64
# Top-level keys that make a line something other than one plain record (a hit, a search or multi-search response:
# see exports.unwrap). Projected decoders decline such lines; the reader unwraps them.
_WRAPPING = ("_source", "hits", "responses")


def _as_orjson(value: t.Any) -> bool:
    """True when orjson decodes this value's JSON text to an equal value (msgspec keeps big ints exact, orjson
    turns integers beyond 64 bits into floats and rejects infinite numbers)."""
    cls = value.__class__
    if cls is str or value is None or cls is bool:
        return True
    if cls is int:
        return _I64_MIN <= value < _U64_END
    if cls is float:
        return math.isfinite(value)
    if cls is list:
        return all(_as_orjson(item) for item in value)
    if cls is dict:
        return all(_as_orjson(item) for item in value.values())
    return False


def raw_decoder(keys: t.Collection[str], marker: str) -> t.Callable[[bytes], t.Optional[dict]]:
    """`decode(line)`: the top-level `keys` of a JSON object line (others skipped), or None when the line is not an
    object holding `marker` or holds a value orjson would read differently. Keys are flat (vendor raw records)."""
    wanted = sorted(set(keys) | {marker})
    # TypedDict's functional form takes any string as a key ("tgt.process.name"); `Any` keeps JSON types as they are.
    # The wrapper keys are decoded too, only to decline the (odd) line that has them: the reader unwraps those.
    shape = t.TypedDict("RawProjection", {key: t.Any for key in {*wanted, *_WRAPPING}},  # type: ignore[misc]
                        total=False)
    decode_line = msgspec.json.Decoder(shape).decode
    errors = (msgspec.DecodeError, UnicodeDecodeError)  # ValidationError is a DecodeError

    def decode(line: bytes) -> t.Optional[dict]:
        try:
            raw = decode_line(line)
        except errors:
            return None
        if marker not in raw or "_source" in raw or "hits" in raw or "responses" in raw:
            return None
        for value in raw.values():
            if value.__class__ is not str and not _as_orjson(value):
                return None
        return raw

    decode.keys = frozenset(wanted)  # type: ignore[attr-defined]
    return decode


def full_decode(line: bytes) -> dict:
    """The whole record of a line `raw_decoder` accepted (orjson, as the unprojected reader decodes)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        # Only a line whose skipped part orjson rejects (see the module docstring) gets here; msgspec read it once.
        return msgspec.json.decode(line)


def projector(
    mapping: t.Any,
    *,
    marker: t.Optional[str] = None,
    extra: t.Iterable[str] = (),
    wrap: t.Optional[t.Callable[[Normalize], Normalize]] = None,
) -> t.Callable[[t.Iterable[str]], Normalize]:
    """An `Adapter.projector` for an adapter whose normalize is `mapping` (a `compile_mapping` result), possibly
    wrapped: `wrap(projected_mapping)` builds the adapter's normalize around it (the wrapper must read only the
    fields in `extra`, which are always projected). `marker`: a raw key every plain record of the source carries,
    which makes projected decoding possible (None: lines are always decoded in full)."""
    extra = frozenset(extra)
    cache: dict[frozenset[str], Normalize] = {}

    def project(fields: t.Iterable[str]) -> Normalize:
        key = frozenset(fields)
        found = cache.get(key)
        if found is not None:
            return found
        mapped = mapping.project(key | extra)
        fn: t.Any = wrap(mapped) if wrap is not None else mapped
        # `.decode` goes on the function itself: a call through a wrapper would cost as much as it saves.
        if marker is not None and mapped.raw_keys is not None:
            fn.decode = raw_decoder(mapped.raw_keys, marker)
        else:
            fn.decode = None
        cache[key] = fn
        return fn

    return project


def _finite(text: str) -> float:
    # msgspec's float_hook: orjson rejects a line holding a number beyond double range; so does a projected decoder.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of double range")
    return value


def document_decoder(fields: t.Collection[str]) -> t.Callable[[bytes], t.Optional[dict]]:
    """`decode(line)` for sources whose records are ECS documents already: only `fields` (dotted paths, in any
    spelling, as vigil/io/projection.py declares them), or None when the line is not a plain document (no
    top-level `@timestamp`, or a wrapper key) or holds a value orjson would read differently."""
    from vigil.io.projection import projected_type

    wanted = sorted(set(fields) | {"@timestamp", *_WRAPPING})
    # As vigil.io.projection.projected_decoder: the common shape first, arrays of objects and nulls on failure.
    strict = msgspec.json.Decoder(projected_type(wanted, strict=True), float_hook=_finite).decode
    general = msgspec.json.Decoder(projected_type(wanted), float_hook=_finite).decode
    errors = (msgspec.DecodeError, UnicodeDecodeError)  # ValidationError is a DecodeError
    encode = orjson.dumps

    def decode(line: bytes) -> t.Optional[dict]:
        try:
            doc = strict(line)
        except errors:
            try:
                doc = general(line)
            except errors:
                return None
        if "@timestamp" not in doc or "_source" in doc or "hits" in doc or "responses" in doc:
            return None
        try:
            encode(doc)  # raises on integers beyond 64 bits, which orjson would have decoded as floats
        except TypeError:
            return None
        return doc

    decode.fields = frozenset(fields)  # type: ignore[attr-defined]
    return decode


def passthrough_projector(
    normalize: Normalize, *, reads: t.Iterable[str] = ()
) -> t.Callable[[t.Iterable[str]], Normalize]:
    """An `Adapter.projector` for adapters that pass ECS documents through (`normalize` checks, never rewrites):
    the document is the projection, so the gain is all in decoding only the fields read. `reads`: the fields
    `normalize` itself looks at (always decoded)."""
    reads = frozenset(reads)
    cache: dict[frozenset[str], Normalize] = {}

    def project(fields: t.Iterable[str]) -> Normalize:
        key = frozenset(fields)
        found = cache.get(key)
        if found is None:
            # A function of its own (not `normalize`): it marks the stream as projected, so records get completed.
            def found(raw: dict) -> t.Optional[dict]:
                return normalize(raw)

            found.decode = document_decoder(key | reads)  # type: ignore[attr-defined]
            cache[key] = found
        return found

    return project
