"""The alert document: golden Nping alert, ids, reason text, ECS cleanup, sequences."""

from __future__ import annotations

import copy
import hashlib
import json
import os

import pytest

from tests.alerts.alert_fixtures import DATA, fixed_context, nping_event, nping_rule
from vigil.alerts import build_alerts, build_event_alert, build_reason, build_sequence_alerts, ids
from vigil.alerts.ecs_cleanup import clean_source, load_ecs_types
from vigil.sources.base import Record

GOLDEN = DATA / "nping_alert.golden.json"


def test_nping_alert_matches_golden(rule, event):
    alert = build_event_alert(event, rule, fixed_context())
    if os.environ.get("VIGIL_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(alert, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(alert) == sorted(golden)
    for key in golden:
        assert alert[key] == golden[key], key


def test_nping_alert_fields_follow_kibana(rule, event):
    alert = build_event_alert(event, rule, fixed_context())
    rule_uuid = ids.rule_uuid(rule.rule_id)
    # §4.1: sha256(_index + _id + String(_version) + "<space>:<rule saved-object id>"); no _version → "undefined"
    expected = hashlib.sha256(
        f"{event.index}{event.id}undefineddefault:{rule_uuid}".encode()
    ).hexdigest()
    assert alert["kibana.alert.uuid"] == expected
    assert alert["kibana.alert.rule.uuid"] == rule_uuid
    assert alert["@timestamp"] == "2026-09-01T12:05:00.017Z"
    assert alert["kibana.alert.original_time"] == "2026-09-01T12:01:10.482Z"
    assert alert["event.kind"] == "signal" and "kind" not in alert["event"]
    assert alert["kibana.alert.original_event.kind"] == "event"
    assert alert["kibana.alert.original_event.category"] == ["process"]
    assert alert["kibana.alert.original_data_stream.dataset"] == "endpoint.events.process"
    assert alert["kibana.alert.ancestors"] == [
        {"id": event.id, "type": "event", "index": event.index, "depth": 0}
    ]
    assert alert["kibana.alert.depth"] == 1
    assert alert["kibana.alert.workflow_status"] == "open" and alert["kibana.alert.status"] == "active"
    assert alert["kibana.alert.severity"] == "medium" and alert["kibana.alert.risk_score"] == 47
    assert alert["kibana.alert.reason"] == (
        "process event with process nping, parent process bash, by root on web-01 "
        "created medium alert Nping Process Activity."
    )
    assert alert["kibana.alert.rule.rule_type_id"] == "siem.eqlRule"
    assert alert["kibana.alert.rule.parameters"]["language"] == "eql"
    assert "kibana.alert.building_block_type" not in alert
    assert alert["process"]["name"] == "nping" and alert["host"]["name"] == "web-01"
    # the input event is not modified
    assert nping_event().doc == event.doc


def test_document_is_deterministic_for_a_fixed_context(rule, event, shared):
    a = build_event_alert(event, rule, fixed_context())
    b = build_event_alert(nping_event(), nping_rule(shared), fixed_context())
    assert json.dumps(a) == json.dumps(b)


def test_event_without_id_uses_content_hash(rule, event):
    anonymous = Record(doc=copy.deepcopy(event.doc), index="logs-endpoint.events.process-default")
    alert = build_event_alert(anonymous, rule, fixed_context())
    content = ids.content_id(event.doc)
    assert alert["kibana.alert.ancestors"][0]["id"] == content
    assert build_event_alert(anonymous, rule, fixed_context())["kibana.alert.uuid"] == alert["kibana.alert.uuid"]
    changed = copy.deepcopy(event.doc)
    changed["process"]["pid"] = 1
    other = build_event_alert(Record(doc=changed, index=anonymous.index), rule, fixed_context())
    assert other["kibana.alert.uuid"] != alert["kibana.alert.uuid"]


def test_rule_never_alerts_on_its_own_alert(rule, event):
    alert = build_event_alert(event, rule, fixed_context())
    again = Record(doc=alert, index=".internal.alerts-security.alerts-default-000001", id=alert["kibana.alert.uuid"])
    assert build_event_alert(again, rule, fixed_context()) is None
    assert build_alerts([again], rule, fixed_context()) == []


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({}, "event created low alert R."),
        ({"host": {"name": "h"}}, "event on h created low alert R."),
        ({"event": {"category": ["process", "network"]}, "process": {"name": "p"}},
         "process, network event with process p, created low alert R."),
        # numbers have no JavaScript `length`: a numeric port is left out, a string port is shown
        ({"source": {"ip": "10.0.0.1", "port": 4444}}, "event with source 10.0.0.1 created low alert R."),
        ({"source": {"ip": "10.0.0.1", "port": "4444"}, "destination": {"ip": "10.0.0.2"}},
         "event with source 10.0.0.1:4444, destination 10.0.0.2 created low alert R."),
        ({"user": {"name": "-"}, "file.name": "x.sh"}, "event with file x.sh, created low alert R."),
        ({"user": {"name": ["a", "b"]}, "host": {"name": ""}}, "event by a, b created low alert R."),
    ],
)
def test_reason_text(doc, expected):
    assert build_reason(doc, "R", "low") == expected


def test_ecs_cleanup_with_the_ecs_schema(shared):
    types = load_ecs_types(shared("schemas", "ecs_flat-9.5.0.json.gz"))
    source = {
        "kibana": {"alert": {"uuid": "stale"}},
        "signal": {"rule": {}},
        "event": {"kind": "event", "category": ["process"]},
        "process": {"pid": "not a number", "name": "nping", "args": ["a", {"bad": 1}]},
        "host": {"name": {"nested": "object where ECS has a keyword"}, "ip": ["10.0.0.1", "not-an-ip"]},
        "agent": {"name": "a"},
        "custom": {"anything": [1, "x"]},
        "@timestamp": "2015-20-20",
    }
    cleaned, removed = clean_source(source, types)
    assert "kibana" not in cleaned and "signal" not in cleaned
    assert cleaned["process"] == {"name": "nping", "args": ["a"]}
    assert cleaned["host"] == {"ip": ["10.0.0.1"]}
    assert cleaned["custom"] == {"anything": [1, "x"]}
    assert "@timestamp" not in cleaned
    assert cleaned["kibana.alert.original_event.kind"] == "event"
    assert cleaned["event"] == {"category": ["process"]}
    assert {path for path, _ in removed} >= {"kibana", "signal", "process.pid", "host.name", "host.ip", "@timestamp"}
    assert source["process"]["pid"] == "not a number"  # input untouched


def _seq_records(event: Record) -> list[Record]:
    first = copy.deepcopy(event.doc)
    second = copy.deepcopy(event.doc)
    second["@timestamp"] = "2026-09-01T12:01:11.000Z"
    second["process"]["pid"] = 2389
    second["process"]["args"] = ["nping", "--udp", "10.0.2.21"]
    second["event"]["type"] = ["start", "info"]
    return [Record(first, event.index, "ev-1"), Record(second, event.index, "ev-2")]


def test_sequence_shell_and_building_blocks(rule, event):
    records = _seq_records(event)
    docs = build_sequence_alerts(records, rule, fixed_context())
    assert len(docs) == 3
    shell, *blocks = docs
    rule_uuid = ids.rule_uuid(rule.rule_id)
    base = "".join(f"{r.id}{r.index}{rule_uuid}" for r in records)
    assert [b["kibana.alert.uuid"] for b in blocks] == [
        hashlib.sha256(f"{base}{i}".encode()).hexdigest() for i in range(2)
    ]
    chain = "".join(f"{r.id}{r.index}{b['kibana.alert.uuid']}" for r, b in zip(records, blocks))
    shell_id = hashlib.sha256((chain + rule_uuid).encode()).hexdigest()
    assert shell["kibana.alert.uuid"] == shell["kibana.alert.group.id"] == shell_id
    for i, block in enumerate(blocks):
        assert block["kibana.alert.group.id"] == shell_id
        assert block["kibana.alert.group.index"] == i
        assert block["kibana.alert.building_block_type"] == "default"
        assert block["kibana.alert.depth"] == 1
    assert "kibana.alert.building_block_type" not in shell
    assert shell["kibana.alert.depth"] == 2
    assert [a["type"] for a in shell["kibana.alert.ancestors"]] == ["event", "signal", "event", "signal"]
    assert shell["kibana.alert.ancestors"][1] == {
        "id": blocks[0]["kibana.alert.uuid"], "type": "signal", "index": "", "depth": 1, "rule": rule_uuid,
    }
    # the shell's source is what all events share
    assert shell["process"]["name"] == "nping" and "pid" not in shell["process"]
    assert shell["process"]["args"] == ["nping"]  # arrays are intersected
    assert shell["event"]["type"] == ["start"]
    assert shell["kibana.alert.reason"].startswith("process event with process nping, parent process bash,")
    # blocks keep their own event
    assert blocks[1]["process"]["pid"] == 2389
    # the same events make the same ids; a different sequence gives the shared event a different block id
    again = build_sequence_alerts(_seq_records(event), rule, fixed_context())
    assert [d["kibana.alert.uuid"] for d in again] == [d["kibana.alert.uuid"] for d in docs]
    other = build_sequence_alerts([records[0], Record(records[1].doc, event.index, "ev-3")], rule, fixed_context())
    assert other[1]["kibana.alert.uuid"] != blocks[0]["kibana.alert.uuid"]


def test_sequence_missing_steps_make_no_block(rule, event):
    records = _seq_records(event)
    docs = build_alerts([records[0], None, records[1]], rule, fixed_context())
    assert len(docs) == 3
    assert [d.get("kibana.alert.group.index") for d in docs[1:]] == [0, 1]


def test_building_block_rule_stamps_every_alert(rule, event):
    from dataclasses import replace

    bbr = replace(rule, building_block_type="default")
    alert = build_event_alert(event, bbr, fixed_context())
    assert alert["kibana.alert.building_block_type"] == "default"
    assert alert["kibana.alert.rule.building_block_type"] == "default"


def test_alert_url_only_with_public_base_url(rule, event):
    assert "kibana.alert.url" not in build_event_alert(event, rule, fixed_context())
    alert = build_event_alert(event, rule, fixed_context(public_base_url="https://kibana.example:5601/"))
    assert alert["kibana.alert.url"] == (
        f"https://kibana.example:5601/app/security/alerts/redirect/{alert['kibana.alert.uuid']}"
        "?index=.alerts-security.alerts-default&timestamp=2026-09-01T12:05:00.017Z"
    )
