"""Value converters used by the mapping tables: the Python side of Elastic ingest processors (`date`, `convert`, ...).

Every converter takes one raw value and returns the converted value, or None when the value cannot be converted; the
mapping then leaves the field unset, as an ingest processor with `ignore_failure: true` would.
"""

from __future__ import annotations

import time
import typing as t

# Windows FILETIME counts 100 ns ticks since 1601-01-01; this is 1970-01-01 in those ticks.
_FILETIME_EPOCH = 116444736000000000


# Events arrive clustered in time, so each wall-clock second is formatted once: "1795874400" → "2026-11-28T14:00:00".
# A plain dict keyed by the seconds *text* (no int() on the hot path), cleared when it grows past a bound.
_PREFIXES: dict[str, str] = {}
_MAX_PREFIXES = 65536


def _prefix(seconds: str) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds)))
    # Only plain ASCII digit keys are cached: inlined converters (`epoch_ms.inline`) take a cache hit as proof that
    # the text was digits, so `int()`'s extras (sign, blanks, `_`, non-ASCII digits) must never become keys.
    if seconds.isascii() and seconds.isdigit():
        if len(_PREFIXES) >= _MAX_PREFIXES:
            _PREFIXES.clear()
        _PREFIXES[seconds] = text
    return text


_INT_PREFIXES: dict[int, str] = {}  # the same, keyed by the number (sources that send epoch integers)


def _second_prefix(seconds: int) -> str:
    text = _INT_PREFIXES.get(seconds)
    if text is None:
        if len(_INT_PREFIXES) >= _MAX_PREFIXES:
            _INT_PREFIXES.clear()
        text = _INT_PREFIXES[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return text


# ".000Z" ... ".999Z": string formatting with a width spec costs more than the rest of a conversion together.
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
# "000" → ".000Z" ... : a hit proves the text was three ASCII digits (the inlined converters rely on it).
_MILLIS_TEXT = {f"{n:03d}": f".{n:03d}Z" for n in range(1000)}


def iso_from_ms(ms: int) -> str:
    """Epoch milliseconds → `2025-10-14T01:41:14.201Z`, the format Elasticsearch's `date` processor writes."""
    seconds, millis = divmod(ms, 1000)
    return _second_prefix(seconds) + _MILLIS[millis]


def epoch_ms(value: t.Any) -> t.Optional[str]:
    """`UNIX_MS`: epoch milliseconds as int or digit string → ISO-8601 UTC; an ISO string passes through."""
    if value.__class__ is str:
        # The common case, a 13-digit string: pure slicing, the seconds prefix comes from the cache.
        if len(value) == 13 and value.isascii() and value.isdigit():
            seconds = value[:10]
            return (_PREFIXES.get(seconds) or _prefix(seconds)) + "." + value[10:] + "Z"
        if value.isdigit():
            return iso_from_ms(int(value))
        return _iso_passthrough(value)
    if value.__class__ is int:
        seconds, millis = divmod(value, 1000)
        return (_INT_PREFIXES.get(seconds) or _second_prefix(seconds)) + _MILLIS[millis]
    if isinstance(value, str):
        return epoch_ms(str(value))
    if isinstance(value, float):
        return iso_from_ms(int(round(value)))
    return None


def _epoch_ms_inline(args: list[str], fallback: str, const: t.Callable[[t.Any], str]) -> str:
    # The 13-digit string case as one expression (no call): a hit in both caches proves the text was digits, which
    # is exactly the fast path above; anything else goes through the function.
    # Epoch integers (SentinelOne's `event.time`) likewise: `//` and `%` are divmod, the prefix comes from its cache.
    v, p, m = args[0], const(_PREFIXES), const(_MILLIS_TEXT)
    ip, ms = const(_INT_PREFIXES), const(_MILLIS)
    return (f"((_p + {ms}[{v} % 1000] if (_p := {ip}.get({v} // 1000)) is not None else {fallback}({v}))"
            f" if {v}.__class__ is int else "
            f"{fallback}({v}) if {v}.__class__ is not str or len({v}) != 13 or (_p := {p}.get({v}[:10])) is None"
            f" or (_m := {m}.get({v}[10:])) is None else _p + _m)")


epoch_ms.inline = _epoch_ms_inline  # type: ignore[attr-defined]


def epoch_seconds(value: t.Any) -> t.Optional[str]:
    """`UNIX`: epoch seconds with an optional fraction (`"1760406073.568"`) → ISO-8601 UTC with milliseconds.

    Parsed from the text rather than through a float so that `.568` stays 568 ms exactly.
    """
    if isinstance(value, str):
        whole, _, frac = value.partition(".")
        if len(frac) == 3 and value.isascii() and frac.isdigit() and whole.isdigit():  # the usual "1760406073.568": no arithmetic
            return (_PREFIXES.get(whole) or _prefix(whole)) + "." + frac + "Z"
        if not whole.isdigit() or (frac and not frac.isdigit()):
            return None
        return iso_from_ms(int(whole) * 1000 + int((frac + "000")[:3]))
    if value.__class__ is int:
        return iso_from_ms(value * 1000)
    if isinstance(value, float):
        return iso_from_ms(int(round(value * 1000)))
    return None


def _epoch_seconds_inline(args: list[str], fallback: str, const: t.Callable[[t.Any], str]) -> str:
    v, p, m = args[0], const(_PREFIXES), const(_MILLIS_TEXT)  # "1760406073.568", the usual FDR form, as above
    return (f"({fallback}({v}) if {v}.__class__ is not str or len({v}) != 14 or {v}[10] != '.'"
            f" or (_p := {p}.get({v}[:10])) is None or (_m := {m}.get({v}[11:])) is None else _p + _m)")


epoch_seconds.inline = _epoch_seconds_inline  # type: ignore[attr-defined]


def filetime(value: t.Any) -> t.Optional[str]:
    """Windows FILETIME (100 ns ticks since 1601, Endgame's native `timestamp`) → ISO-8601 UTC."""
    try:
        ticks = int(value)
    except (TypeError, ValueError):
        return None
    return iso_from_ms((ticks - _FILETIME_EPOCH) // 10_000)


def _iso_passthrough(value: str) -> t.Optional[str]:
    # Cheap shape check only: `YYYY-MM-DDTHH:MM...`. Full validation belongs to whoever reads the date later.
    if len(value) >= 16 and value[4] == "-" and value[7] == "-" and value[10] in "T ":
        return value
    return None


def to_int(value: t.Any) -> t.Optional[int]:
    """`convert type: long`: ints pass, digit strings parse, anything else is dropped."""
    if value.__class__ is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Digit strings of ordinary length: `int()` cannot fail on them (the length bound keeps clear of Python's limit on
# the digits of a string conversion, where `int()` raises and `to_int` returns None).
to_int.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"(int({args[0]}) if {args[0]}.__class__ is str and {args[0]}.isascii() and {args[0]}.isdigit()"
    f" and len({args[0]}) < 100 else {fallback}({args[0]}))")


def to_str(value: t.Any) -> t.Optional[str]:
    """`convert type: string` (keyword fields that some sources send as numbers)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def as_list(value: t.Any) -> list:
    """A scalar becomes a one-element list (Elasticsearch stores both the same; rules see the elements)."""
    return value if isinstance(value, list) else [value]


as_list.never_none = True  # type: ignore[attr-defined]  # lets compiled shapes set its result unconditionally
as_list.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"({args[0]} if {args[0]}.__class__ is list else {fallback}({args[0]}))")


def comma_list(value: t.Any) -> t.Optional[list]:
    """`split separator: ', '` as CrowdStrike's `Tags` gets it."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return as_list(value)


def basename(path: str) -> str:
    """The last component of a POSIX or Windows path (Elastic splits on both `/` and `\\`)."""
    if "\\" in path:
        return path[max(path.rfind("/"), path.rfind("\\")) + 1 :]
    return path.rpartition("/")[2]


def dirname(path: str) -> t.Optional[str]:
    cut = max(path.rfind("/"), path.rfind("\\"))
    if cut < 0:
        return None
    return path[:cut] if cut > 0 else path[:1]


def nonzero_hash(value: t.Any) -> t.Optional[str]:
    """Drop all-zero hashes: CrowdStrike sends `SHA1HashData` as forty zeros when it did not compute it."""
    if isinstance(value, str) and value.strip("0"):
        return value
    return None


nonzero_hash.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"({args[0]} if {args[0]}.__class__ is str and {args[0]}.strip('0') else {fallback}({args[0]}))")
