"""A hunt asks the sources for only the fields its rules read (vigil/runs/reads.py) and completes a record when it
becomes an alert: the alerts must be exactly those of a hunt over full documents, for every bundled source format."""

from __future__ import annotations

from pathlib import Path


from vigil.alerts import AlertStore
from vigil.cli import run as run_cli
from vigil.runs import hunt as hunt_module
from vigil.config import SourceConfig
from vigil.rules import builtin_rules
from vigil.runs.reads import ALWAYS, rules_read

SAMPLES = Path(__file__).resolve().parents[2] / "vigil" / "data" / "samples"
VOLATILE = ("@timestamp", "kibana.alert.start", "kibana.alert.last_detected", "kibana.alert.rule.execution.timestamp",
            "kibana.alert.rule.execution.uuid", "kibana.alert.intended_timestamp", "kibana.alert.rule.updated_at",
            "kibana.alert.rule.created_at")  # the time of each hunt


def _alerts(tmp_path: Path, name: str, rules, **patch) -> dict[str, dict]:
    with AlertStore(tmp_path / f"{name}.db") as store:
        found = run_cli.run_hunt(rules, [SourceConfig((str(SAMPLES),))], store, exceptions=None)
    return {a.id: {k: v for k, v in a.doc.items() if k not in VOLATILE} for h in found for a in h.alerts}


def test_projected_hunt_raises_the_same_alerts_with_full_documents(tmp_path, monkeypatch):
    rules = list(builtin_rules())
    projected = _alerts(tmp_path, "projected", rules)
    asked = []
    real = hunt_module.fields_read
    monkeypatch.setattr(hunt_module, "fields_read", lambda states: asked.append(real(states)))  # None: every field
    full = _alerts(tmp_path, "full", rules)
    assert asked and asked[0], "the hunt should have asked for projected records"
    assert len(projected) == 7 and projected.keys() == full.keys()
    for alert_id, doc in projected.items():
        assert doc == full[alert_id], alert_id


def test_fields_read_by_the_nping_rule():
    from vigil.runs.executor import compile_rule

    [nping] = [r for r in builtin_rules() if r.name == "Nping Process Activity"]
    assert rules_read([(nping, compile_rule(nping))]) == ALWAYS | {
        "event.category", "host.os.type", "event.type", "event.action", "process.name"}


def test_a_rule_with_exceptions_needs_every_field(tmp_path):
    from vigil.runs.executor import compile_rule

    [nping] = [r for r in builtin_rules() if r.name == "Nping Process Activity"]
    listed = nping.__class__(**{**nping.__dict__, "exceptions_list": ({"id": "x", "list_id": "x"},)})
    assert rules_read([(listed, compile_rule(listed))]) is None
