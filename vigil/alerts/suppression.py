"""Alert suppression (`alert_suppression`): the rule setting, and the suppression fields of one alert.

Kibana (kibana-engine.md §9; `getSuppressionTerms`, `getSuppressionAlertFields`, `wrapSuppressedAlerts`):

* `alert_suppression = {group_by: [1-3 fields], duration?: {value >= 1, unit s|m|h},
  missing_fields_strategy?: suppress | doNotSuppress}` (`suppress` when absent);
* every alert of a suppressing rule carries
  `kibana.alert.instance.id = objectHash([terms, rule saved-object id, space id])`,
  `kibana.alert.suppression.terms = [{field, value}]` (one per group_by field, in rule order),
  `kibana.alert.suppression.start` = `.end` = the event time (the rule's timestamp override, then `@timestamp`, then
  the alert creation time) and `kibana.alert.suppression.docs_count = 0`. Grouping and updating existing alerts is
  the executor's job (`vigil.runs.suppress`).

A term's value is what Elasticsearch's fields API returns for the event, which Kibana reads it from: an *array* of the
field's leaf values (`["web-01"]`, `[1234]`), sorted with lodash's `sortBy` (so identical arrays group together
whatever their order in the event), or `null` when the field is missing, null, empty or an object.

`object_hash` reproduces the npm `object-hash` package (v3, Kibana's dependency) with its default options for JSON
values, so instance ids are the ones Kibana computes for the same terms, rule saved-object id and space. The only
identity-dependent part of that algorithm (its `[CIRCULAR:n]` back-references) is reproduced for the shared
prototype objects every plain object carries; JSON values vigil hashes never share containers.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import typing as t
from dataclasses import dataclass

from vigil.alerts.times import js_iso, parse_time
from vigil.engine import fields as field_paths
from vigil.errors import Location, RuleError

STRATEGIES = ("suppress", "doNotSuppress")
DEFAULT_STRATEGY = "suppress"
UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}
MAX_GROUP_BY = 3
KNOWN_KEYS = ("group_by", "duration", "missing_fields_strategy")

INSTANCE_ID = "kibana.alert.instance.id"
TERMS = "kibana.alert.suppression.terms"
START = "kibana.alert.suppression.start"
END = "kibana.alert.suppression.end"
DOCS_COUNT = "kibana.alert.suppression.docs_count"
LAST_DETECTED = "kibana.alert.last_detected"

Term = dict  # {"field": str, "value": list | None}


# --------------------------------------------------------------------------------------------- the rule setting

@dataclass(frozen=True)
class SuppressionSpec:
    """A validated `alert_suppression`. `duration` None means: suppress per rule execution."""

    group_by: tuple[str, ...]
    duration: t.Optional[dt.timedelta] = None
    duration_text: t.Optional[str] = None  # "5m": Kibana's `now-<value><unit>` window, for messages
    missing_fields_strategy: str = DEFAULT_STRATEGY

    @property
    def suppress_missing(self) -> bool:
        return self.missing_fields_strategy == "suppress"


LocationOf = t.Callable[[str], Location]


def parse_suppression(raw: t.Any, location_of: LocationOf = lambda key: Location(key=key),
                      prefix: str = "rule.alert_suppression") -> SuppressionSpec:
    """Validate a raw `alert_suppression` mapping (Kibana's schema); every error names its key and line."""

    def fail(key: str, message: str, hint: t.Optional[str] = None) -> t.NoReturn:
        raise RuleError(message, location_of(f"{prefix}{key}"), hint)

    if not isinstance(raw, t.Mapping):
        fail("", f"alert_suppression must be a table, not {type(raw).__name__}",
             "e.g. [rule.alert_suppression] group_by = [\"host.name\"]")
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        fail(f".{unknown[0]}", f"unknown alert_suppression key {unknown[0]!r}",
             f"alert_suppression takes {', '.join(KNOWN_KEYS)}")
    group_by = raw.get("group_by")
    if isinstance(group_by, str) or not isinstance(group_by, t.Sequence) or not group_by:
        fail(".group_by", "alert_suppression.group_by must list 1 to 3 field names",
             'e.g. group_by = ["host.name", "user.name"]')
    if len(group_by) > MAX_GROUP_BY:
        fail(".group_by", f"alert_suppression.group_by takes at most {MAX_GROUP_BY} fields, not {len(group_by)}")
    for i, name in enumerate(group_by):
        if not isinstance(name, str) or not name.strip():
            fail(f".group_by[{i}]", f"alert_suppression.group_by[{i}] must be a field name, not {name!r}")

    duration = duration_text = None
    if raw.get("duration") is not None:
        duration, duration_text = _duration(raw["duration"], fail)

    strategy = raw.get("missing_fields_strategy", DEFAULT_STRATEGY)
    if strategy is None:
        strategy = DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        fail(".missing_fields_strategy", f"alert_suppression.missing_fields_strategy must be one of "
             f"{', '.join(STRATEGIES)}, not {strategy!r}")
    return SuppressionSpec(tuple(group_by), duration, duration_text, strategy)


def _duration(raw: t.Any, fail: t.Callable[..., t.NoReturn]) -> tuple[dt.timedelta, str]:
    if not isinstance(raw, t.Mapping):
        fail(".duration", "alert_suppression.duration must be a table with value and unit",
             'e.g. duration = { value = 5, unit = "m" }')
    unknown = sorted(set(raw) - {"value", "unit"})
    if unknown:
        fail(f".duration.{unknown[0]}", f"unknown alert_suppression.duration key {unknown[0]!r}")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(".duration.value", f"alert_suppression.duration.value must be a whole number >= 1, not {value!r}")
    unit = raw.get("unit")
    if unit not in UNITS:
        fail(".duration.unit", f"alert_suppression.duration.unit must be s, m or h, not {unit!r}")
    return dt.timedelta(**{UNITS[unit]: value}), f"{value}{unit}"


def rule_suppression(rule: t.Any) -> t.Optional[SuppressionSpec]:
    """The rule's suppression setting, validated; None when the rule has none (an empty table counts as none)."""
    raw = getattr(rule, "alert_suppression", None)
    if raw is None or (isinstance(raw, t.Mapping) and not raw):
        return None
    location_of = getattr(rule, "location_of", None) or (lambda key: Location(key=key))
    return parse_suppression(raw, location_of)


# --------------------------------------------------------------------------------------------- alert fields

def term_value(doc: t.Any, field: str) -> t.Optional[list]:
    """The fields-API value of `field` in `doc`: its leaf values as a sorted array, or None when it has none."""
    values = [v for v in field_paths.values_of(field_paths.getter(field)(doc))
              if v is not None and not isinstance(v, (dict, list))]
    if not values:
        return None
    return sorted(values, key=functools.cmp_to_key(_js_compare))  # stable, like lodash sortBy


def suppression_terms(doc: t.Any, group_by: t.Sequence[str]) -> list[Term]:
    """`[{field, value}]` for each group_by field, in the rule's order."""
    return [{"field": field, "value": term_value(doc, field)} for field in group_by]


def has_every_term(terms: t.Sequence[Term]) -> bool:
    """Whether every group_by field has a value (`doNotSuppress` only suppresses such events)."""
    return all(term["value"] is not None for term in terms)


def instance_id(terms: t.Sequence[Term], rule_uuid: str, space_id: str) -> str:
    """Kibana's `objectHash([suppressionTerms, completeRule.alertId, spaceId])`."""
    return object_hash([list(terms), rule_uuid, space_id])


def suppression_time(doc: t.Any, primary: str, secondary: t.Optional[str], fallback: dt.datetime) -> dt.datetime:
    """The event time suppression uses: the primary timestamp (the override), the secondary, else `fallback`."""
    for field in (primary, secondary):
        if not field:
            continue
        values = field_paths.values_of(field_paths.getter(field)(doc))
        if values:
            moment = parse_time(values[0])
            if moment is not None:
                return moment
    return fallback


def suppression_fields(terms: t.Sequence[Term], instance: str, at: dt.datetime) -> dict[str, t.Any]:
    """The fields `getSuppressionAlertFields` adds to a new alert (before any grouping)."""
    when = js_iso(at)
    return {INSTANCE_ID: instance, TERMS: [dict(term) for term in terms], START: when, END: when, DOCS_COUNT: 0}


# --------------------------------------------------------------------------------------------- objectHash

def object_hash(value: t.Any) -> str:
    """npm `object-hash` v3 with default options (sha1, hex, respectType, ordered arrays, sorted keys) for a JSON
    value (dict with str keys, list, str, int, float, bool, None)."""
    digest = hashlib.sha1()
    _ObjectHasher(digest.update).dispatch(value)
    return digest.hexdigest()


class _ObjectHasher:
    """The serialisation `object-hash` feeds to its digest, written out for JSON values.

    A plain object hashes its three "special" keys first (`prototype`, `__proto__`, `constructor`), which drags in
    `Object.prototype` and the `Object` function; both are pushed on the hasher's context the first time and are
    written as `[CIRCULAR:n]` afterwards, which is why the context must be tracked to get the same bytes.
    """

    _OBJECT_PROTOTYPE = "Object.prototype"
    _OBJECT_FUNCTION = "Object"

    def __init__(self, write: t.Callable[[bytes], t.Any]):
        self._write = write
        self.context: list[t.Any] = []

    def write(self, text: str) -> None:
        self._write(text.encode("utf-8"))

    def dispatch(self, value: t.Any) -> None:
        if value is None:
            self.write("Null")
        elif isinstance(value, bool):
            self.write("bool:" + ("true" if value else "false"))
        elif isinstance(value, str):
            self.string(value)
        elif isinstance(value, (int, float)):
            self.write("number:" + js_number(value))
        elif isinstance(value, (list, tuple)):
            if self._seen(value):
                return
            self.write(f"array:{len(value)}:")
            for item in value:
                self.dispatch(item)
        elif isinstance(value, t.Mapping):
            if self._seen(value):
                return
            self.plain_object(value)
        else:
            raise TypeError(f"object_hash: not a JSON value: {type(value).__name__}")

    def string(self, text: str) -> None:
        self.write(f"string:{len(text.encode('utf-16-le')) // 2}:")  # JavaScript length: UTF-16 code units
        self.write(text)

    def _seen(self, marker: t.Any) -> bool:
        """`context.indexOf(object)`: a container already hashed is written as a back-reference."""
        for i, seen in enumerate(self.context):
            if seen is marker:
                self.string(f"[CIRCULAR:{i}]")
                return True
        self.context.append(marker)
        return False

    def plain_object(self, obj: t.Mapping[str, t.Any]) -> None:
        keys = sorted(obj, key=lambda k: k.encode("utf-16-be"))
        self.write(f"object:{len(keys) + 3}:")
        self._special_keys()
        for key in keys:
            self.string(key)
            self.write(":")
            self.dispatch(obj[key])
            self.write(",")

    def _special_keys(self) -> None:
        """`prototype: undefined`, `__proto__: Object.prototype`, `constructor: Object` of a plain object."""
        self.string("prototype")
        self.write(":Undefined,")
        self.string("__proto__")
        self.write(":")
        if not self._seen(self._OBJECT_PROTOTYPE):
            # Object.prototype is itself a non-native object: its own special keys, no own enumerable keys
            self.write("object:3:")
            self.string("prototype")
            self.write(":Undefined,")
            self.string("__proto__")
            self.write(":Null,")
            self.string("constructor")
            self.write(":")
            self._object_function()
            self.write(",")
        self.write(",")
        self.string("constructor")
        self.write(":")
        self._object_function()
        self.write(",")

    def _object_function(self) -> None:
        """`_function(Object)`: native, named "Object", then its own (no) properties as an object."""
        self.write("fn:")
        self.string("[native]")
        self.string("function-name:Object")
        if not self._seen(self._OBJECT_FUNCTION):
            self.write("object:0:")


def js_number(value: t.Union[int, float]) -> str:
    """JavaScript's `Number.prototype.toString()` (ECMAScript Number::toString, radix 10)."""
    if isinstance(value, int):
        value = float(value) if abs(value) >= 2**53 else value
        if isinstance(value, int):
            return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(abs(value))
    k, n = len(digits), exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """(digits, n) with value = 0.d1d2... × 10^n, digits the shortest round-tripping ones (Python's repr)."""
    mantissa, _, exp = repr(value).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    n = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    return digits, n + (int(exp) if exp else 0)


def _js_compare(a: t.Any, b: t.Any) -> int:
    """lodash `compareAscending` for the scalars of a field: JavaScript `<` / `>` (strings by UTF-16 units,
    otherwise numerically; incomparable pairs keep their order)."""
    if isinstance(a, str) and isinstance(b, str):
        ka, kb = a.encode("utf-16-be"), b.encode("utf-16-be")
        return (ka > kb) - (ka < kb)
    na, nb = _to_number(a), _to_number(b)
    if math.isnan(na) or math.isnan(nb):
        return 0
    return (na > nb) - (na < nb)


def _to_number(value: t.Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan
