"""Per-rule throttling (Kibana's notify_when / throttle), persisted across Notifiers instances (processes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import orjson
import pytest

from tests.notify.notify_servers import free_port
from vigil.notify import Notifiers
from vigil.notify.throttle import ON_ACTIVE, ON_CHANGE, ON_INTERVAL, Frequency, frequency

T0 = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


def _alert(alerts, n):
    return {**alerts[0], "kibana.alert.uuid": f"alert-{n}"}


def _lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _notifiers(tmp_path, clock, **outputs):
    """A fresh instance each call, as a new process would build: the throttle state lives only in the file."""
    return Notifiers.from_config({"file": {"path": str(tmp_path / "out.ndjson")}, **outputs}, clock=clock)


def test_frequency_of_kibana_fields():
    assert frequency(None, None) is None
    assert frequency(None, "rule") == Frequency(ON_ACTIVE)
    assert frequency(None, "1h") == Frequency(ON_INTERVAL, dt.timedelta(hours=1))
    assert frequency("onActionGroupChange", None) == Frequency(ON_CHANGE)
    assert frequency(None, "no_actions").mode == "never"
    with pytest.raises(ValueError):
        frequency("onThrottleInterval", None)
    with pytest.raises(ValueError):
        frequency(None, "1 hour")


def test_on_active_alert_notifies_every_run(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    for n in range(3):
        [result] = _notifiers(tmp_path, clock).notify([_alert(alerts, n)], rule)
        assert result.status == "sent"
    assert len(_lines(tmp_path / "out.ndjson")) == 3


def test_throttle_interval_holds_back_and_summarises(nping, tmp_path, http_receiver):
    alerts, rule = nping
    clock = Clock()
    outputs = {"throttle": "1h", "webhook": {"url": http_receiver.url}}
    results = _notifiers(tmp_path, clock, **outputs).notify([_alert(alerts, 0)], rule)
    assert [r.status for r in results] == ["sent", "sent"]
    clock.advance(minutes=10)
    results = _notifiers(tmp_path, clock, **outputs).notify([_alert(alerts, 1), _alert(alerts, 2)], rule)
    assert [r.status for r in results] == ["throttled", "throttled"]
    assert results[0].detail == "throttled until 2026-09-01T13:00:00.000Z"
    clock.advance(minutes=20)
    _notifiers(tmp_path, clock, **outputs).notify([_alert(alerts, 3)], rule)
    clock.advance(minutes=31)  # 61 minutes after the first notification
    results = _notifiers(tmp_path, clock, **outputs).notify([_alert(alerts, 4)], rule)
    assert [r.status for r in results] == ["sent", "sent"]
    assert len(http_receiver.requests) == 2
    body = orjson.loads(http_receiver.requests[1].body)
    assert [a["kibana.alert.uuid"] for a in body["alerts"]] == ["alert-4"]
    assert body["held_back"] == {"count": 3, "since": "2026-09-01T12:10:00.000Z",
                                 "alert_ids": ["alert-1", "alert-2", "alert-3"]}
    # the file channel received only what was notified, too
    assert [d["kibana.alert.uuid"] for d in _lines(tmp_path / "out.ndjson")] == ["alert-0", "alert-4"]


def test_failed_delivery_does_not_start_the_throttle_window(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    dead = {"throttle": "1h", "webhook": {"url": f"http://127.0.0.1:{free_port()}/", "retries": 0}}
    [failed, _] = _notifiers(tmp_path, clock, **dead).notify([_alert(alerts, 0)], rule)
    assert failed.status == "failed"
    clock.advance(minutes=1)
    # the webhook never delivered, so it is not throttled; the file channel delivered, so it is
    [again, file_result] = _notifiers(tmp_path, clock, **dead).notify([_alert(alerts, 1)], rule)
    assert again.status == "failed" and again.attempts == 1
    assert file_result.status == "throttled"


def test_on_action_group_change_notifies_when_the_rule_turns_active(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    outputs = {"notify_when": "onActionGroupChange"}
    statuses = []
    for run, batch in enumerate([[_alert(alerts, 0)], [_alert(alerts, 1)], [], [_alert(alerts, 2)]]):
        results = _notifiers(tmp_path, clock, **outputs).notify(batch, rule)
        statuses.append([r.status for r in results])
        clock.advance(minutes=5)
    assert statuses == [["sent"], ["throttled"], [], ["sent"]]
    assert [d["kibana.alert.uuid"] for d in _lines(tmp_path / "out.ndjson")] == ["alert-0", "alert-2"]


def test_no_actions_never_notifies_and_rule_fields_apply(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    [result] = _notifiers(tmp_path, clock).notify(alerts, replace(rule, throttle="no_actions"))
    assert result.status == "throttled"
    # a channel's own setting wins over the rule's
    outputs = {"file": {"path": str(tmp_path / "own.ndjson"), "notify_when": "onActiveAlert"}}
    [result] = Notifiers.from_config(outputs, clock=clock).notify(alerts, replace(rule, throttle="no_actions"))
    assert result.status == "sent"


def test_throttle_is_per_rule(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    other = replace(rule, rule_id="other-rule")
    assert _notifiers(tmp_path, clock, throttle="1h").notify(alerts, rule)[0].status == "sent"
    assert _notifiers(tmp_path, clock, throttle="1h").notify(alerts, other)[0].status == "sent"
    assert _notifiers(tmp_path, clock, throttle="1h").notify(alerts, rule)[0].status == "throttled"


def test_building_blocks_and_filters(nping, tmp_path):
    alerts, rule = nping
    clock = Clock()
    block = {**alerts[0], "kibana.alert.group.index": 0, "kibana.alert.uuid": "block"}
    outputs = {"file": [{"path": str(tmp_path / "all.ndjson")},
                        {"path": str(tmp_path / "high.ndjson"), "min_severity": "high"}]}
    results = Notifiers.from_config(outputs, clock=clock).notify([alerts[0], block], rule)
    assert [(r.channel, r.status) for r in results] == [("file-1", "sent"), ("file-2", "skipped")]
    assert [d["kibana.alert.uuid"] for d in _lines(tmp_path / "all.ndjson")] == [alerts[0]["kibana.alert.uuid"]]
    assert not (tmp_path / "high.ndjson").exists()


def test_damaged_state_file_is_set_aside(nping, tmp_path, vigil_home):
    alerts, rule = nping
    vigil_home.mkdir(parents=True, exist_ok=True)
    (vigil_home / "notify-state.json").write_text("{not json")
    [result] = _notifiers(tmp_path, Clock()).notify(alerts, rule)
    assert result.status == "sent"
    assert (vigil_home / "notify-state.json.damaged").exists()
    assert orjson.loads((vigil_home / "notify-state.json").read_bytes())["rules"][rule.rule_id]
