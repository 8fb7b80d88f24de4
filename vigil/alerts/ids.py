"""Deterministic alert ids, computed exactly as Kibana's detection engine computes them.

Kibana (kibana-engine.md §4.1, §7; `generateId`, `generateAlertId`, `generateBuildingBlockIds`):

* event alert:  sha256_hex(_index + _id + String(_version) + "<space>:<rule saved-object id>")
* shell alert:  sha256_hex(concat(ancestor.id + ancestor.index for every ancestor) + rule uuid)
* building block i of a sequence: sha256_hex(base + String(i)) where
  base = concat over blocks of (concat(ancestor.id + ancestor.index) + rule uuid)

Because the id depends only on the source event and the rule, an event seen again by an overlapping window gets the
same id, and the store ignores an id it already has: no duplicates.

Two choices vigil has to make because it has no Elasticsearch / Kibana:

* `_version`: EQL hits may not carry one; JavaScript's `String(undefined)` is the literal "undefined", so that is what
  an absent version hashes as (the same string Kibana would hash).
* an event without `_id` (a file line, a live event): its id is `content_id(doc)`, the sha256 of the document's
  canonical JSON (keys sorted, no whitespace). The same event read twice gets the same id; any change in content gives
  a different one. It is used as the event's `_id` everywhere (ancestors, alert id).
* the rule's saved-object id (`kibana.alert.rule.uuid`): Kibana draws a random UUID when a rule is installed. vigil
  derives a UUIDv5 from the `rule_id`, so every vigil install names the same rule the same way and ids stay stable
  across restarts.
"""

from __future__ import annotations

import hashlib
import typing as t
import uuid

import orjson

# UUIDv5 namespace for rule saved-object ids: uuid5(NAMESPACE_DNS, "vigil.rules"). Never change it: it is part of
# every stored alert id.
RULE_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "vigil.rules")


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def js_string(value: t.Any) -> str:
    """JavaScript's `String(value)` for the scalars that reach an id (versions are numbers or absent)."""
    if value is None:
        return "undefined"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rule_uuid(rule_id: str) -> str:
    """The stable stand-in for Kibana's rule saved-object id."""
    return str(uuid.uuid5(RULE_UUID_NAMESPACE, rule_id))


def content_id(doc: t.Mapping[str, t.Any]) -> str:
    """The id of an event that has no `_id`: sha256 of its canonical JSON (sorted keys, compact)."""
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()


def event_alert_id(index: str, event_id: str, version: t.Any, space_id: str, rule_uuid_: str) -> str:
    """Kibana's `generateId(_index, _id, String(_version), `${spaceId}:${ruleSavedObjectId}`)`."""
    return _sha256_hex(f"{index}{event_id}{js_string(version)}{space_id}:{rule_uuid_}")


def _ancestor_chain(ancestors: t.Iterable[t.Mapping[str, t.Any]]) -> str:
    # `acc.concat(ancestor.id, ancestor.index)`: a missing part is JavaScript's "undefined".
    return "".join(js_string(a.get("id")) + js_string(a.get("index")) for a in ancestors)


def shell_alert_id(ancestors: t.Sequence[t.Mapping[str, t.Any]], rule_uuid_: str) -> str:
    """Kibana's `generateAlertId(alert)`: the id of a sequence's shell alert (also its `kibana.alert.group.id`)."""
    return _sha256_hex(_ancestor_chain(ancestors) + rule_uuid_)


def building_block_ids(blocks: t.Sequence[t.Mapping[str, t.Any]]) -> list[str]:
    """Kibana's `generateBuildingBlockIds(blocks)`: ids of a sequence's building-block alerts, in order.

    Each id depends on every block of the sequence, so the same event in two sequences gets two ids.
    """
    base = "".join(
        _ancestor_chain(block["kibana.alert.ancestors"]) + str(block["kibana.alert.rule.uuid"]) for block in blocks
    )
    return [_sha256_hex(base + str(i)) for i in range(len(blocks))]
