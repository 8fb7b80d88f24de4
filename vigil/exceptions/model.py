"""Elastic exception lists as data: lists, items and entries, read from and written to Kibana's API/NDJSON shape.

An exception *list* groups *items*; a rule is silenced for an event when ANY item of its lists matches it, and an item
matches when ALL its entries do (Kibana `build_exception_filter.ts`). Entry kinds: match, match_any, wildcard, exists,
list (a value list) and nested (entries evaluated on the same object of an array of objects). `operator: excluded`
negates an entry. `os_types` restricts an item to hosts of those OS types; `expire_time` ends it.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import uuid
from dataclasses import dataclass, field, replace

from vigil.errors import Location, RuleError

ENTRY_TYPES = ("match", "match_any", "wildcard", "exists", "list", "nested")
OPERATORS = ("included", "excluded")
LIST_TYPES = ("detection", "rule_default", "endpoint", "endpoint_trusted_apps", "endpoint_events", "endpoint_host_isolation_exceptions", "endpoint_blocklists")
NAMESPACE_TYPES = ("single", "agnostic")
VALUE_LIST_TYPES = ("keyword", "ip", "ip_range", "text", "long", "double", "date", "boolean")


class ExceptionError(RuleError):
    """An exception list, item or entry is invalid."""


@dataclass(frozen=True, slots=True)
class Entry:
    field: str
    type: str
    operator: str = "included"
    value: t.Union[str, tuple[str, ...], None] = None
    list_id: t.Optional[str] = None  # type "list": the value list's id
    list_type: t.Optional[str] = None
    entries: tuple["Entry", ...] = ()  # type "nested"

    def to_dict(self) -> dict:
        out: dict[str, t.Any] = {"field": self.field, "type": self.type}
        if self.type == "nested":
            out["entries"] = [e.to_dict() for e in self.entries]
            return out
        out["operator"] = self.operator
        if self.type == "list":
            out["list"] = {"id": self.list_id, "type": self.list_type}
        elif self.type == "match_any":
            out["value"] = list(self.value or ())
        elif self.type in ("match", "wildcard"):
            out["value"] = self.value
        return out


@dataclass(frozen=True, slots=True)
class ExceptionItem:
    item_id: str
    list_id: str
    name: str
    entries: tuple[Entry, ...]
    description: str = ""
    os_types: tuple[str, ...] = ()
    expire_time: t.Optional[dt.datetime] = None
    comments: tuple[dict, ...] = ()
    tags: tuple[str, ...] = ()
    namespace_type: str = "single"
    type: str = "simple"
    extra: dict = field(default_factory=dict, compare=False)  # every other key of the source, kept for export

    def expired(self, at: dt.datetime) -> bool:
        return self.expire_time is not None and self.expire_time < at

    def to_dict(self) -> dict:
        out = dict(self.extra)
        out.update(
            item_id=self.item_id,
            list_id=self.list_id,
            name=self.name,
            description=self.description,
            type=self.type,
            namespace_type=self.namespace_type,
            os_types=list(self.os_types),
            tags=list(self.tags),
            comments=list(self.comments),
            entries=[e.to_dict() for e in self.entries],
        )
        if self.expire_time is not None:
            out["expire_time"] = self.expire_time.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return out


@dataclass(frozen=True, slots=True)
class ExceptionList:
    list_id: str
    name: str
    description: str = ""
    type: str = "detection"
    namespace_type: str = "single"
    os_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()  # rules this list applies to (besides rules naming it in `exceptions_list`)
    items: tuple[ExceptionItem, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    def with_items(self, items: t.Iterable[ExceptionItem]) -> "ExceptionList":
        return replace(self, items=tuple(items))

    def header_dict(self) -> dict:
        out = dict(self.extra)
        out.update(
            list_id=self.list_id,
            name=self.name,
            description=self.description,
            type=self.type,
            namespace_type=self.namespace_type,
            os_types=list(self.os_types),
            tags=list(self.tags),
        )
        if self.rule_ids:
            out.setdefault("meta", {})
            out["meta"] = {**(out.get("meta") or {}), "vigil_rule_ids": list(self.rule_ids)}
        return out


# ---------------------------------------------------------------------------------------------------------- parsing
def _require(obj: dict, key: str, kind: type | tuple[type, ...], loc: Location) -> t.Any:
    if key not in obj:
        raise ExceptionError(f"missing required key `{key}`", _at(loc, key))
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ExceptionError(f"`{key}` must be a {names}, got {type(value).__name__}", _at(loc, key))
    return value


def _at(loc: Location, key: str) -> Location:
    return replace(loc, key=f"{loc.key}.{key}" if loc.key else key)


def parse_time(value: t.Any, loc: Location) -> t.Optional[dt.datetime]:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ExceptionError("expire_time must be an ISO-8601 date-time string", loc)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExceptionError(f"expire_time {value!r} is not an ISO-8601 date-time", loc) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def entry_from_dict(obj: t.Any, loc: Location, *, nested: bool = False) -> Entry:
    if not isinstance(obj, dict):
        raise ExceptionError("an entry must be an object", loc)
    field_name = _require(obj, "field", str, loc)
    if not field_name.strip():
        raise ExceptionError("`field` must not be empty", _at(loc, "field"))
    kind = _require(obj, "type", str, loc)
    allowed = ("match", "match_any", "exists") if nested else ENTRY_TYPES
    if kind not in allowed:
        where = "inside a nested entry " if nested else ""
        raise ExceptionError(
            f"unknown entry type {kind!r} {where}(expected one of {', '.join(allowed)})", _at(loc, "type")
        )
    if kind == "nested":
        subs = _require(obj, "entries", list, loc)
        if not subs:
            raise ExceptionError("a nested entry needs at least one entry", _at(loc, "entries"))
        return Entry(
            field=field_name,
            type=kind,
            entries=tuple(entry_from_dict(s, _at(loc, f"entries[{i}]"), nested=True) for i, s in enumerate(subs)),
        )
    operator = obj.get("operator", "included")
    if operator not in OPERATORS:
        raise ExceptionError(f"operator must be `included` or `excluded`, got {operator!r}", _at(loc, "operator"))
    if kind in ("match", "wildcard"):
        value = obj.get("value")
        if isinstance(value, (int, float, bool)):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str) or value == "":
            raise ExceptionError(f"a {kind} entry needs a non-empty string `value`", _at(loc, "value"))
        return Entry(field=field_name, type=kind, operator=operator, value=value)
    if kind == "match_any":
        values = obj.get("value")
        if not isinstance(values, list) or not values or not all(isinstance(v, (str, int, float)) for v in values):
            raise ExceptionError("a match_any entry needs a non-empty list of strings as `value`", _at(loc, "value"))
        return Entry(field=field_name, type=kind, operator=operator, value=tuple(str(v) for v in values))
    if kind == "list":
        ref = _require(obj, "list", dict, loc)
        list_id = ref.get("id")
        list_type = ref.get("type", "keyword")
        if not isinstance(list_id, str) or not list_id:
            raise ExceptionError("a list entry needs `list.id`", _at(loc, "list.id"))
        if list_type not in VALUE_LIST_TYPES:
            raise ExceptionError(
                f"unknown value list type {list_type!r} (expected one of {', '.join(VALUE_LIST_TYPES)})",
                _at(loc, "list.type"),
            )
        return Entry(field=field_name, type=kind, operator=operator, list_id=list_id, list_type=list_type)
    return Entry(field=field_name, type=kind, operator=operator)  # exists


_ITEM_KEYS = {"item_id", "list_id", "name", "description", "entries", "os_types", "expire_time", "comments", "tags",
              "namespace_type", "type"}


def item_from_dict(obj: t.Any, loc: Location, *, list_id: t.Optional[str] = None) -> ExceptionItem:
    if not isinstance(obj, dict):
        raise ExceptionError("an exception item must be an object", loc)
    entries = _require(obj, "entries", list, loc)
    if not entries:
        raise ExceptionError("an exception item needs at least one entry", _at(loc, "entries"))
    os_types = obj.get("os_types") or []
    if not isinstance(os_types, list) or not all(o in ("linux", "macos", "windows") for o in os_types):
        raise ExceptionError("os_types must be a list of linux, macos, windows", _at(loc, "os_types"))
    return ExceptionItem(
        item_id=str(obj.get("item_id") or obj.get("id") or uuid.uuid4()),
        list_id=str(obj.get("list_id") or list_id or ""),
        name=str(obj.get("name") or ""),
        description=str(obj.get("description") or ""),
        entries=tuple(entry_from_dict(e, _at(loc, f"entries[{i}]")) for i, e in enumerate(entries)),
        os_types=tuple(os_types),
        expire_time=parse_time(obj.get("expire_time"), _at(loc, "expire_time")),
        comments=tuple(c if isinstance(c, dict) else {"comment": str(c)} for c in obj.get("comments") or ()),
        tags=tuple(obj.get("tags") or ()),
        namespace_type=str(obj.get("namespace_type") or "single"),
        type=str(obj.get("type") or "simple"),
        extra={k: v for k, v in obj.items() if k not in _ITEM_KEYS},
    )


_LIST_KEYS = {"list_id", "name", "description", "type", "namespace_type", "os_types", "tags"}


def list_from_dict(obj: t.Any, loc: Location) -> ExceptionList:
    if not isinstance(obj, dict):
        raise ExceptionError("an exception list must be an object", loc)
    list_id = _require(obj, "list_id", str, loc)
    kind = obj.get("type", "detection")
    if kind not in LIST_TYPES:
        raise ExceptionError(f"unknown exception list type {kind!r}", _at(loc, "type"))
    meta = obj.get("meta") or {}
    return ExceptionList(
        list_id=list_id,
        name=str(obj.get("name") or list_id),
        description=str(obj.get("description") or ""),
        type=kind,
        namespace_type=str(obj.get("namespace_type") or "single"),
        os_types=tuple(obj.get("os_types") or ()),
        tags=tuple(obj.get("tags") or ()),
        rule_ids=tuple(meta.get("vigil_rule_ids") or ()) if isinstance(meta, dict) else (),
        extra={k: v for k, v in obj.items() if k not in _LIST_KEYS},
    )
