"""End to end through the CLI: the bundled samples (seven input formats) → `vigil hunt` / `vigil run --once`.

The expected alerts are the lines vigil/data/samples/README.md names (one Nping start per format); their alert ids are
computed here independently (Kibana's id formula over the normalized record), so the test checks both that exactly
those events alert and that nothing else does.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.alerts import AlertStore
from vigil.alerts.document import event_id
from vigil.alerts.ids import event_alert_id, rule_uuid
from vigil.alerts.times import js_iso, parse_time
from vigil.cli import cli
from vigil.cli.demo import NPING_RULE_ID, sample_files
from vigil.sources import open_sources

# file name → the line of its one alerting event (vigil/data/samples/README.md; auditd.log: docs/sources.md)
EXPECTED_LINES = {
    "defend.ndjson": 6, "endgame.ndjson": 6, "auditbeat.ndjson": 6, "auditd_manager.ndjson": 6,
    "crowdstrike_fdr.ndjson": 7, "sentinel_one_cloud_funnel.ndjson": 6, "auditd.log": 103,
}


@pytest.fixture
def samples(tmp_path) -> Path:
    """A directory holding exactly the seven sample inputs (links: the repository's files are used in place)."""
    folder = tmp_path / "telemetry"
    folder.mkdir()
    for path in sample_files():
        (folder / Path(path).name).symlink_to(path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPECTED_LINES)
    return folder


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    return home


@pytest.fixture
def expected(samples) -> dict[str, dt.datetime]:
    """alert id → event time, for the seven events that must alert."""
    out = {}
    for name, line in EXPECTED_LINES.items():
        with open_sources([str(samples / name)]) as records:
            [record] = [r for r in records if r.line == line]
        assert record.doc["process"]["name"] == "nping"
        alert_id = event_alert_id(record.index, event_id(record), None, "default", rule_uuid(NPING_RULE_ID))
        out[alert_id] = parse_time(record.doc["@timestamp"])
    return out


def vigil(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stored_ids(db: Path) -> list[str]:
    with AlertStore(db, create=False) as store:
        return [a.id for a in store.list_alerts(limit=None)]


def covers(start: dt.datetime, when: dt.datetime) -> bool:
    return start - dt.timedelta(minutes=9) <= when <= start


def run_times(times: list[dt.datetime]) -> list[dt.datetime]:
    """Start times whose Nping windows [T-9m, T] together cover every event time, the busiest first (a later
    start before an earlier one is no gap, so no run fails for the time between the sample periods)."""
    out: list[dt.datetime] = []
    for when in sorted(times):
        if not (out and covers(out[-1], when)):
            out.append(when.replace(second=0, microsecond=0) + dt.timedelta(minutes=5))
    return sorted(out, key=lambda start: -sum(covers(start, when) for when in times))


def test_hunt_raises_exactly_the_expected_alerts(home, samples, expected, tmp_path):
    db = tmp_path / "hunt.db"
    result = vigil("hunt", "--rule", "builtin", "--db", str(db), str(samples))
    assert result.exit_code == 0, result.output
    assert "Nping Process Activity" in result.output and "Alerts (7)" in result.output
    assert sorted(stored_ids(db)) == sorted(expected)
    again = vigil("hunt", "--rule", "builtin", "--db", str(db), "--json", str(samples))
    assert again.exit_code == 0 and again.stdout == ""  # nothing new to report
    assert len(stored_ids(db)) == 7


def test_run_once_raises_exactly_the_expected_alerts_without_duplicates(home, samples, expected, tmp_path):
    db = tmp_path / "run.db"
    times = run_times(list(expected.values()))
    assert len(times) <= 2  # the samples cover two short periods
    first = vigil("run", "--once", "--at", js_iso(times[0]), "--rule", "builtin", "--db", str(db), str(samples))
    assert first.exit_code == 0, first.output
    assert "succeeded" in first.output
    covered = {i for i, when in expected.items() if covers(times[0], when)}
    assert sorted(stored_ids(db)) == sorted(covered) and len(covered) >= 6

    later = js_iso(times[0] + dt.timedelta(minutes=5))  # overlaps the first window by four minutes
    second = vigil("run", "--once", "--at", later, "--rule", "builtin", "--db", str(db), "--json", str(samples))
    assert second.exit_code == 0, second.output
    assert second.stdout == ""  # events seen again in the overlap are not new
    assert sorted(stored_ids(db)) == sorted(covered)

    for when in times[1:]:
        rest = vigil("run", "--once", "--at", js_iso(when), "--rule", "builtin", "--db", str(db), str(samples))
        assert rest.exit_code == 0, rest.output
    assert sorted(stored_ids(db)) == sorted(expected)
    with AlertStore(db) as store:
        executions = store.list_executions(NPING_RULE_ID, limit=10)
    assert len(executions) == len(times) + 1
    assert all(e.status == "succeeded" for e in executions)


def test_an_exception_silences_one_known_good_case(home, samples, expected, tmp_path):
    added = vigil("exceptions", "add", "--rule", NPING_RULE_ID, "--name", "alice's lab scans",
                  "--entry", "user.name is alice")
    assert added.exit_code == 0, added.output
    db = tmp_path / "exc.db"
    result = vigil("hunt", "--rule", "builtin", "--db", str(db), "--json", str(samples))
    assert result.exit_code == 0, result.output
    users = [json.loads(line)["user"]["name"] for line in result.stdout.splitlines()]
    assert len(users) == 6 and "alice" not in users
    assert set(stored_ids(db)) < set(expected)


def test_demo_shows_one_alert_per_format(home):
    result = vigil("demo", "--no-guide")
    assert result.exit_code == 0, result.output
    assert "7 alert(s) from 7 format(s) in 7 file(s)" in result.output
    assert "exactly one per format" in result.output
    with_guide = vigil("demo")
    assert "Investigation guide" in with_guide.output and "Possible investigation steps" in with_guide.output
