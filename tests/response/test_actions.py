"""Rule `response_actions` (Kibana format) run on new alerts: gating, host check, dedupe, and what is recorded."""

from __future__ import annotations

import time

import pytest

from vigil.errors import ConfigError, Location, RuleError
from vigil.response import ResponseDispatcher, ResponseSettings, history, parse_response_actions
from vigil.response.host import LocalHost
from vigil.response.outcome import DRY_RUN, FAILED, REFUSED, SUCCEEDED

from .conftest import alert_for, process_fields, response_rule, stopped


def endpoint(command: str, **config) -> dict:
    params: dict = {"command": command, "comment": f"auto {command}"}
    if config:
        params["config"] = config
    return {"action_type_id": ".endpoint", "params": params}


def live(**settings) -> ResponseDispatcher:
    return ResponseDispatcher(ResponseSettings(enabled=True, dry_run=False, **settings))


# ----------------------------------------------------------------------------------------------- rule parsing
def test_parse_kibana_response_actions():
    rule = response_rule(
        endpoint("isolate"),
        endpoint("kill-process", field="", overwrite=True),
        endpoint("suspend-process", field="process.entity_id", overwrite=False),
        {"action_type_id": ".osquery", "params": {"query": "select 1"}},
        endpoint("memory-dump"),
        endpoint("kill-process", field="user.name", overwrite=False),
    )
    actions, problems = parse_response_actions(rule)
    assert [(a.command, a.field) for a in actions] == [
        ("isolate", "process.pid"), ("kill-process", "process.pid"), ("suspend-process", "process.entity_id")]
    assert actions[0].comment == "auto isolate"
    assert all(isinstance(p, RuleError) for p in problems) and len(problems) == 3
    keys = [p.location.key for p in problems]
    assert keys == ["rule.response_actions[3].action_type_id", "rule.response_actions[4].params.command",
                    "rule.response_actions[5].params.config.field"]
    assert problems[0].location.path == "rules/sleep.toml"


# ----------------------------------------------------------------------------------------------- automatic
def test_automatic_kill_on_new_alert_is_recorded(sleeper, store):
    rule = response_rule(endpoint("kill-process", field="", overwrite=True))
    alert = alert_for(process_fields(sleeper.pid), rule=rule)
    assert store.insert_alerts([alert])
    results = live().on_alerts([alert], rule, store)
    assert [o.status for _, o in results] == [SUCCEEDED]
    assert sleeper.wait(timeout=5) == -9
    [entry] = history(store, alert["kibana.alert.uuid"])
    assert entry["command"] == "kill-process" and entry["status"] == SUCCEEDED and entry["automatic"] is True
    assert entry["rule_id"] == "resp-test-rule" and entry["user"] == "vigil" and entry["comment"] == "auto kill-process"
    assert entry["target"]["pid"] == sleeper.pid
    [note] = store.notes(alert["kibana.alert.uuid"])
    assert note.text.startswith("automatic response kill-process: succeeded: killed pid")


def test_off_by_default_and_dry_run_by_default_when_enabled(sleeper, store):
    rule = response_rule(endpoint("kill-process"))
    alert = alert_for(process_fields(sleeper.pid), rule=rule)
    store.insert_alerts([alert])
    assert ResponseDispatcher.from_config(None).on_alerts([alert], rule, store) == []  # no [response]: off
    assert ResponseDispatcher.from_config({}).on_alerts([alert], rule, store) == []
    assert history(store, alert["kibana.alert.uuid"]) == []  # off means nothing happens, nothing recorded
    results = ResponseDispatcher.from_config({"enabled": True}).on_alerts([alert], rule, store)
    assert [o.status for _, o in results] == [DRY_RUN]
    time.sleep(0.05)
    assert sleeper.poll() is None and not stopped(sleeper.pid)
    assert [e["status"] for e in history(store, alert["kibana.alert.uuid"])] == [DRY_RUN]


def test_command_not_allowed_by_configuration_is_refused(sleeper, store):
    rule = response_rule(endpoint("kill-process"))
    alert = alert_for(process_fields(sleeper.pid), rule=rule)
    store.insert_alerts([alert])
    [(_, outcome)] = live(commands=("suspend-process",)).on_alerts([alert], rule, store)
    assert outcome.status == REFUSED and "not allowed" in outcome.message
    assert sleeper.poll() is None


def test_alert_from_another_host_is_refused(sleeper, store):
    rule = response_rule(endpoint("suspend-process"))
    alert = alert_for(process_fields(sleeper.pid), host={"name": "web-01.example.com"}, rule=rule)
    store.insert_alerts([alert])
    [(_, outcome)] = live().on_alerts([alert], rule, store)
    assert outcome.status == REFUSED and "web-01.example.com" in outcome.message
    assert not stopped(sleeper.pid)


def test_host_id_decides_when_both_have_one():
    here = LocalHost("box", "a" * 32)
    assert here.matches({"host": {"id": "a" * 32, "name": "other"}})[0]
    assert not here.matches({"host": {"id": "b" * 32, "name": "box"}})[0]
    assert here.matches({"host": {"name": "BOX.example.org"}})[0]
    assert not here.matches({"process": {"pid": 1}})[0]


def test_custom_field_entity_id(sleeper, store):
    rule = response_rule(endpoint("suspend-process", field="process.entity_id", overwrite=False))
    host = LocalHost.detect()
    fields = process_fields(sleeper.pid, start=False, entity=True, host_key=host.name)
    alert = alert_for(fields, host={"name": host.name}, rule=rule)
    store.insert_alerts([alert])
    [(_, outcome)] = live().on_alerts([alert], rule, store)
    assert outcome.status == SUCCEEDED and "entity_id" in outcome.message
    assert stopped(sleeper.pid)


def test_same_process_in_two_alerts_is_signalled_once_and_recorded_on_both(sleeper, store):
    rule = response_rule(endpoint("suspend-process"))
    fields = process_fields(sleeper.pid)
    alerts = [alert_for(fields, rule=rule, event_id="e1"), alert_for(fields, rule=rule, event_id="e2")]
    store.insert_alerts(alerts)
    results = live().on_alerts(alerts, rule, store)
    assert [o.status for _, o in results] == [SUCCEEDED, SUCCEEDED]
    assert results[0][1] is results[1][1]  # one action, two records
    for alert in alerts:
        assert len(history(store, alert["kibana.alert.uuid"])) == 1


def test_invalid_action_is_recorded_not_raised(store, sleeper):
    rule = response_rule(endpoint("format-disk"))
    alert = alert_for(process_fields(sleeper.pid), rule=rule)
    store.insert_alerts([alert])
    [(_, outcome)] = live().on_alerts([alert], rule, store)
    assert outcome.status == FAILED and "format-disk" in outcome.message
    assert "rules/sleep.toml" in history(store, alert["kibana.alert.uuid"])[0]["message"]


def test_sequence_building_blocks_are_skipped(sleeper, store):
    rule = response_rule(endpoint("suspend-process"))
    block = alert_for(process_fields(sleeper.pid), rule=rule)
    block["kibana.alert.group.index"] = 0  # what a sequence building block carries
    assert live().on_alerts([block], rule, store) == []
    assert not stopped(sleeper.pid)


# ----------------------------------------------------------------------------------------------- settings
def test_settings_defaults_and_validation():
    s = ResponseSettings.from_dict({})
    assert (s.enabled, s.dry_run, s.automatic) == (False, True, True)
    assert s.commands == ("isolate", "kill-process", "suspend-process")
    good = ResponseSettings.from_dict({"enabled": True, "management_addresses": ["10.0.0.0/8", "2001:db8::1"],
                                       "dns_resolvers": ["10.0.0.53"], "start_tolerance_ms": 250})
    assert good.management_addresses == ("10.0.0.0/8", "2001:db8::1") and good.start_tolerance_ms == 250
    where = lambda key: Location(path="/etc/vigil.toml", key=key)  # noqa: E731
    for raw, key, text in (
        ({"enabeld": True}, "response.enabeld", "unknown key"),
        ({"enabled": "yes"}, "response.enabled", "true or false"),
        ({"management_addresses": ["10.0.0.300"]}, "response.management_addresses", "not an address"),
        ({"dns_resolvers": ["10.0.0.0/24"]}, "response.dns_resolvers", "not an IP address"),
        ({"commands": ["kill-process", "rm"]}, "response.commands", "unknown response command"),
        ({"start_tolerance_ms": True}, "response.start_tolerance_ms", "whole number"),
        ({"start_tolerance_ms": -1}, "response.start_tolerance_ms", "0 or more"),
    ):
        with pytest.raises(ConfigError, match=text) as info:
            ResponseSettings.from_dict(raw, where)
        assert info.value.location.key == key and "/etc/vigil.toml" in str(info.value)
