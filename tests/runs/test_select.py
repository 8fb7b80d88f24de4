"""Index patterns (Elasticsearch multi-target syntax) and Kibana's time-range filter with the @timestamp fallback."""

from __future__ import annotations

import pytest

from tests.runs.run_fixtures import M, T
from vigil.runs.select import IndexSelector, TimeFilter

NPING_INDICES = ["logs-endpoint.events.*", "endgame-*", "auditbeat-*", "logs-auditd_manager.auditd-*",
                 "logs-crowdstrike.fdr*", "logs-sentinel_one_cloud_funnel.*"]


@pytest.mark.parametrize("index, selected", [
    ("logs-endpoint.events.process-default", True),
    ("endgame-8.x", True),
    ("auditbeat-8.17.0-2026.11.28", True),
    ("logs-auditd_manager.auditd-default", True),
    ("logs-crowdstrike.fdr-default", True),
    ("logs-sentinel_one_cloud_funnel.event-default", True),
    ("logs-endpoint.alerts-default", False),
    ("logs-system.auth-default", False),
    ("winlogbeat-8.17.0", False),
])
def test_nping_index_patterns(index, selected):
    assert IndexSelector(NPING_INDICES)(index) is selected


def test_question_mark_is_literal_and_exclusions_apply_after_inclusions():
    assert not IndexSelector(["logs-?"])("logs-a")
    select = IndexSelector(["logs-*,-logs-test*"])
    assert select("logs-prod") and not select("logs-test-1")


def test_wildcards_do_not_reach_hidden_indices():
    assert not IndexSelector(["*"])(".alerts-security.alerts-default")
    assert IndexSelector([".alerts-*"])(".alerts-security.alerts-default")


def test_window_bounds_are_inclusive():
    in_window = TimeFilter(T - 9 * M, T)
    assert in_window({"@timestamp": "2026-11-28T11:56:00.000Z"})
    assert in_window({"@timestamp": "2026-11-28T12:05:00Z"})
    assert not in_window({"@timestamp": "2026-11-28T12:05:00.001Z"})
    assert not in_window({"@timestamp": "2026-11-28T11:55:59.999Z"})
    assert not in_window({"message": "no timestamp"})


def test_override_wins_and_at_timestamp_is_only_a_fallback():
    in_window = TimeFilter(T - 9 * M, T, "event.ingested", "@timestamp")
    late = {"@timestamp": "2026-11-28T10:00:00Z", "event": {"ingested": "2026-11-28T12:00:00Z"}}
    early_ingested = {"@timestamp": "2026-11-28T12:00:00Z", "event": {"ingested": "2026-11-28T10:00:00Z"}}
    no_override = {"@timestamp": "2026-11-28T12:00:00Z"}
    assert in_window(late)  # ingested in range: selected although the event is old
    assert not in_window(early_ingested)  # has the override, out of range: @timestamp is not consulted
    assert in_window(no_override)  # no override value: falls back to @timestamp


def test_fallback_disabled_needs_the_override():
    in_window = TimeFilter(T - 9 * M, T, "event.ingested", None)
    assert not in_window({"@timestamp": "2026-11-28T12:00:00Z"})
    assert in_window({"event.ingested": "2026-11-28T12:00:00Z"})  # flattened keys work too


def test_multi_valued_timestamp_matches_when_any_value_is_in_range():
    in_window = TimeFilter(T - 9 * M, T)
    assert in_window({"@timestamp": ["2020-01-01T00:00:00Z", "2026-11-28T12:00:00Z"]})
