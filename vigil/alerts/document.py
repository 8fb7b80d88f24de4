"""Kibana alert documents (alerts-as-data) for EQL matches: one alert per event, or a sequence's shell + blocks.

The document is the one Kibana's detection engine indexes into `.alerts-security.alerts-<space>` (kibana-engine.md
§4.2, §7; K6-K12): the source event `_source` after the ECS cleanup (`ecs_cleanup.clean_source`), with the alert fields
merged on top as *flat dotted keys* (`"kibana.alert.rule.name": ...`, `"event.kind": "signal"`), exactly as Kibana
stores them. Notable consequences:

* `@timestamp` is the alert's creation time; the event's own `@timestamp` is kept in `kibana.alert.original_time`;
* `event.*` is copied to `kibana.alert.original_event.*`, the source `event.kind` is removed;
* the alert id (`_id` = `kibana.alert.uuid`) is deterministic (`ids.py`), so re-seeing an event makes the same id.

Everything time-dependent comes from `AlertContext.created_at`, so a fixed context gives byte-identical documents.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import uuid
from dataclasses import dataclass, field

from vigil.alerts import ids
from vigil.alerts.ecs_cleanup import EcsTypes, clean_source
from vigil.alerts.reason import build_reason, get_path
from vigil.alerts.rule_fields import (
    CONSUMER,
    PRODUCER,
    RULE_CATEGORY,
    RULE_TYPE_ID,
    attr,
    rule_alert_fields,
    rule_parameters,
    rule_uuid_of,
)
from vigil.alerts.times import js_iso, parse_time, utc_now

# The Kibana version vigil's documents claim to come from (`kibana.version`): the stack the rules corpus targets
# (detection-rules' packages.yaml names package 9.6 for kibana ^9.6.0).
KIBANA_VERSION = "9.6.0"
DEFAULT_SPACE = "default"


def alerts_index(space_id: str = DEFAULT_SPACE) -> str:
    """The alerts index (alias) of a space, where Kibana writes and where `_bulk` export targets."""
    return f".alerts-security.alerts-{space_id}"


@dataclass(frozen=True)
class AlertContext:
    """Everything about one rule execution that ends up in its alerts.

    Attributes:
        created_at: the alert creation time (`@timestamp`, `kibana.alert.start`, ...). Fix it for reproducible output.
        space_id: the Kibana space (`kibana.space_ids`, part of the alert id).
        execution_uuid: the rule execution id; a random one when not given (Kibana always writes one).
        indices: the index patterns searched (`kibana.alert.rule.indices`); the rule's `index` when None.
        rule_uuid: the rule saved-object id; derived from `rule_id` when None (see `ids.rule_uuid`).
        ecs_types: ECS field types for the ECS-conflict cleanup (`ecs_cleanup.load_ecs_types`); skipped when None.
        public_base_url: Kibana's public URL; when set, `kibana.alert.url` links to the alert as Kibana would.
        intended_timestamp: for manual runs (gap fills): the time the run stands in for; marks execution `manual`.
        kibana_version: written to `kibana.version`.
    """

    created_at: dt.datetime = field(default_factory=utc_now)
    space_id: str = DEFAULT_SPACE
    execution_uuid: t.Optional[str] = None
    indices: t.Optional[t.Sequence[str]] = None
    rule_uuid: t.Optional[str] = None
    ecs_types: t.Optional[EcsTypes] = None
    public_base_url: t.Optional[str] = None
    intended_timestamp: t.Optional[dt.datetime] = None
    kibana_version: str = KIBANA_VERSION
    _execution: str = field(default_factory=lambda: str(uuid.uuid4()), repr=False)

    @property
    def execution_id(self) -> str:
        return self.execution_uuid or self._execution


class EventLike(t.Protocol):
    """A `vigil.sources.base.Record`: the event document, its index and (maybe) its `_id`."""

    doc: dict
    index: str
    id: t.Optional[str]


def event_id(record: EventLike) -> str:
    """The event's `_id`, or its content hash when it has none (see `ids.content_id`)."""
    return record.id if record.id else ids.content_id(record.doc)


def _alert_url(ctx: AlertContext, alert_id: str, timestamp: str) -> t.Optional[str]:
    """`getAlertDetailsUrl`: only when Kibana's public base URL is known; the default space has no `/s/<space>`."""
    if not ctx.public_base_url:
        return None
    base = ctx.public_base_url.rstrip("/")
    space = "" if ctx.space_id == DEFAULT_SPACE else f"/s/{ctx.space_id}"
    return (
        f"{base}{space}/app/security/alerts/redirect/{alert_id}"
        f"?index={alerts_index(ctx.space_id)}&timestamp={timestamp}"
    )


def _parent(doc: t.Mapping[str, t.Any], doc_id: str, index: str) -> dict[str, t.Any]:
    """`buildParent`: an alert as parent is a `signal` (with its depth and rule), anything else an `event`."""
    if "kibana.alert.uuid" in doc or "kibana.alert.rule.uuid" in doc or isinstance(doc.get("kibana"), dict):
        depth = get_path(doc, "kibana.alert.depth")
        return {
            "id": doc_id,
            "type": "signal",
            "index": index,
            "depth": depth if isinstance(depth, int) else 1,
            "rule": get_path(doc, "kibana.alert.rule.uuid"),
        }
    return {"id": doc_id, "type": "event", "index": index, "depth": 0}


def _ancestors(doc: t.Mapping[str, t.Any], doc_id: str, index: str) -> list[dict[str, t.Any]]:
    """`buildAncestors`: the parent's own ancestors (if it is an alert) followed by the parent."""
    existing = get_path(doc, "kibana.alert.ancestors")
    return [*(existing if isinstance(existing, list) else []), _parent(doc, doc_id, index)]


def _alert_fields(
    rule: t.Any,
    ctx: AlertContext,
    parents: list[tuple[t.Mapping[str, t.Any], str, str]],
    reason: str,
    alert_uuid: str,
) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """For alerts built from `parents`: (the framework fields `augmentAlerts` puts first, `buildAlertFields`)."""
    created = js_iso(ctx.created_at)
    rule_uuid = ctx.rule_uuid or rule_uuid_of(rule)
    params = rule_parameters(rule)
    indices = list(ctx.indices) if ctx.indices is not None else list(attr(rule, "index", []))
    parent_list = [_parent(doc, doc_id, index) for doc, doc_id, index in parents]
    ancestors = [a for doc, doc_id, index in parents for a in _ancestors(doc, doc_id, index)]
    original = parse_time(get_path(parents[0][0], "@timestamp")) if parents else None
    severity, risk_score = attr(rule, "severity"), attr(rule, "risk_score")
    bbt = attr(rule, "building_block_type")
    intended = js_iso(ctx.intended_timestamp) if ctx.intended_timestamp else created

    framework = {
        "kibana.alert.rule.execution.timestamp": created,
        "kibana.alert.start": created,
        "kibana.alert.last_detected": created,
        "kibana.version": ctx.kibana_version,
        "kibana.alert.rule.category": RULE_CATEGORY,
        "kibana.alert.rule.execution.uuid": ctx.execution_id,
        "kibana.alert.rule.producer": PRODUCER,
        "kibana.alert.rule.revision": int(attr(rule, "revision", 0)),
        "kibana.alert.rule.rule_type_id": RULE_TYPE_ID,
    }
    fields: dict[str, t.Any] = {
        "@timestamp": created,
        "kibana.space_ids": [ctx.space_id],
        "event.kind": "signal",
    }
    if original is not None:
        fields["kibana.alert.original_time"] = js_iso(original)
    fields |= {
        "kibana.alert.rule.consumer": CONSUMER,
        "kibana.alert.ancestors": ancestors,
        "kibana.alert.status": "active",
        "kibana.alert.workflow_status": "open",
        "kibana.alert.depth": max((p["depth"] for p in parent_list), default=0) + 1,
        "kibana.alert.reason": reason,
    }
    if bbt is not None:
        fields["kibana.alert.building_block_type"] = bbt
    fields |= {"kibana.alert.severity": severity, "kibana.alert.risk_score": risk_score}
    fields |= rule_alert_fields(rule, rule_uuid=rule_uuid, indices=indices, created_at=created, params=params)
    url = _alert_url(ctx, alert_uuid, created)
    if url is not None:
        fields["kibana.alert.url"] = url
    fields |= {
        "kibana.alert.uuid": alert_uuid,
        "kibana.alert.workflow_tags": [],
        "kibana.alert.workflow_assignee_ids": [],
        "kibana.alert.rule.risk_score": risk_score,
        "kibana.alert.rule.severity": severity,
    }
    if bbt is not None:
        fields["kibana.alert.rule.building_block_type"] = bbt
    fields |= {
        "kibana.alert.intended_timestamp": intended,
        "kibana.alert.rule.execution.type": "manual" if ctx.intended_timestamp else "scheduled",
    }
    return framework, fields


def _alert_from_event(
    record: EventLike, rule: t.Any, ctx: AlertContext, alert_uuid: str
) -> dict[str, t.Any]:
    """`transformHitToAlert`: cleaned event source + alert fields (framework fields first, source, alert fields)."""
    doc_id = event_id(record)
    reason = build_reason(record.doc, str(attr(rule, "name", "")), str(attr(rule, "severity", "")))
    framework, fields = _alert_fields(rule, ctx, [(record.doc, doc_id, record.index)], reason, alert_uuid)
    source, _removed = clean_source(record.doc, ctx.ecs_types)
    # JavaScript spread semantics, same as Python's: a later value replaces an earlier one in its first position
    return {**framework, **source, **fields}


def _alerts_on_own_alert(record: EventLike, rule_uuid: str) -> bool:
    """A rule never alerts on its own alerts: `wrapHits` drops a new alert whose ancestors include this rule."""
    chain = _ancestors(record.doc, event_id(record), record.index)
    return any(isinstance(a, dict) and a.get("rule") == rule_uuid for a in chain)


def build_event_alert(record: EventLike, rule: t.Any, ctx: AlertContext) -> t.Optional[dict[str, t.Any]]:
    """The alert document for one matching event, or None when the event is an alert of this same rule."""
    rule_uuid = ctx.rule_uuid or rule_uuid_of(rule)
    if _alerts_on_own_alert(record, rule_uuid):
        return None
    version = getattr(record, "version", None)
    alert_uuid = ids.event_alert_id(record.index, event_id(record), version, ctx.space_id, rule_uuid)
    return _alert_from_event(record, rule, ctx, alert_uuid)


def build_sequence_alerts(
    records: t.Sequence[t.Optional[EventLike]], rule: t.Any, ctx: AlertContext
) -> list[dict[str, t.Any]]:
    """A sequence match: `[shell, block_0, ..., block_n-1]`, or `[]` when an event is an alert of this rule.

    `None` entries (the placeholders of missing `![...]` steps) have no document and produce no block.
    """
    events = [r for r in records if r is not None]
    rule_uuid = ctx.rule_uuid or rule_uuid_of(rule)
    if not events or any(_alerts_on_own_alert(r, rule_uuid) for r in events):
        return []
    blocks = [_alert_from_event(r, rule, ctx, "placeholder-alert-uuid") for r in events]
    block_ids = ids.building_block_ids(blocks)
    for block, block_id in zip(blocks, block_ids):
        block["kibana.alert.uuid"] = block_id

    merged = object_array_intersection(blocks) or {}
    reason = build_reason(merged, str(attr(rule, "name", "")), str(attr(rule, "severity", "")))
    # Kibana wraps each block as a hit with `_index: ''`: that empty index is what the shell's ancestors record.
    parents = [(b, b["kibana.alert.uuid"], "") for b in blocks]
    framework, fields = _alert_fields(rule, ctx, parents, reason, "placeholder")
    shell_id = ids.shell_alert_id(fields["kibana.alert.ancestors"], rule_uuid)
    shell = {**framework, **merged, **fields, "kibana.alert.uuid": shell_id, "kibana.alert.group.id": shell_id}
    shell.pop("kibana.alert.url", None)
    url = _alert_url(ctx, shell_id, shell["@timestamp"])
    if url is not None:
        shell["kibana.alert.url"] = url

    out = [shell]
    for i, block in enumerate(blocks):
        block.pop("kibana.alert.url", None)
        block |= {
            "kibana.alert.building_block_type": "default",
            "kibana.alert.group.id": shell_id,
            "kibana.alert.group.index": i,
        }
        url = _alert_url(ctx, block["kibana.alert.uuid"], block["@timestamp"])
        if url is not None:
            block["kibana.alert.url"] = url
        out.append(block)
    return out


def build_alerts(records: t.Sequence[t.Optional[EventLike]], rule: t.Any, ctx: AlertContext) -> list[dict[str, t.Any]]:
    """Alerts for one match: one event → its alert; several (a sequence) → shell + building blocks."""
    if len(records) == 1 and records[0] is not None:
        alert = build_event_alert(records[0], rule, ctx)
        return [alert] if alert is not None else []
    return build_sequence_alerts(records, rule, ctx)


# --- the shell alert's source: the recursive intersection of its building blocks (`objectArrayIntersection`) ---

_UNDEFINED = object()


def _same(a: t.Any, b: t.Any) -> bool:
    """JavaScript `===` / SameValueZero between two JSON values: objects and arrays are never equal by value."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _array_intersection(a: list, b: list) -> list:
    """lodash `intersection(a, b)`: unique values of `a` (in order) also in `b`."""
    out: list = []
    for value in a:
        if any(_same(value, other) for other in b) and not any(_same(value, seen) for seen in out):
            out.append(value)
    return out


def _pair_intersection(a: t.Any, b: t.Any) -> t.Any:
    if a is _UNDEFINED or b is _UNDEFINED:
        return _UNDEFINED
    out: dict[str, t.Any] = {}
    for key, a_val in a.items():
        if key not in b:
            continue
        b_val = b[key]
        if isinstance(a_val, dict) and isinstance(b_val, dict):
            value = _pair_intersection(a_val, b_val)
            if value is not _UNDEFINED:
                out[key] = value
        elif _same(a_val, b_val):
            out[key] = a_val
        elif isinstance(a_val, list) or isinstance(b_val, list):
            out[key] = _array_intersection(
                a_val if isinstance(a_val, list) else [a_val], b_val if isinstance(b_val, list) else [b_val]
            )
    return out if out else _UNDEFINED


def object_array_intersection(objects: t.Sequence[dict[str, t.Any]]) -> t.Optional[dict[str, t.Any]]:
    """The keys (recursively) on which all `objects` agree; arrays are intersected. None when nothing is shared."""
    if not objects:
        return None
    acc: t.Any = objects[0]
    for obj in objects[1:]:
        acc = _pair_intersection(acc, obj)
    return None if acc is _UNDEFINED else acc
