"""The built-in "Nping Process Activity" rule (version 209) and the newer upstream file."""

from __future__ import annotations

from vigil.rules.diff import MISSING, diff_rules
from vigil.rules.loader import load_rule_file
from vigil.rules.registry import builtin_rules, resolve_rule

NPING_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"
QUERY = (
    'process where host.os.type == "linux" and event.type == "start" and\n'
    ' event.action in ("exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started") and\n'
    ' process.name == "nping"\n'
)


def nping():
    (rule,) = [r for r in builtin_rules() if r.rule_id == NPING_ID]
    return rule


def test_builtin_nping_attributes():
    rule = nping()
    assert rule.source == "builtin" and rule.location.endswith("builtin/discovery_linux_nping_activity.toml")
    assert rule.name == "Nping Process Activity"
    assert rule.description == (
        "Nping ran on a Linux host. Nping is part of the Nmap tool suite and has the ability to construct raw packets "
        "for a wide\nvariety of security testing applications, including denial of service testing.\n"
    )
    assert (rule.type, rule.language, rule.runnable) == ("eql", "eql", True)
    assert rule.query == QUERY
    assert rule.index == (
        "logs-endpoint.events.*",
        "endgame-*",
        "auditbeat-*",
        "logs-auditd_manager.auditd-*",
        "logs-crowdstrike.fdr*",
        "logs-sentinel_one_cloud_funnel.*",
    )
    assert (rule.severity, rule.risk_score) == ("medium", 47)
    assert (rule.interval, rule.from_, rule.to, rule.max_signals) == ("5m", "now-9m", "now", 100)
    assert rule.references == ("https://en.wikipedia.org/wiki/Nmap",)
    assert rule.tags == (
        "Domain: Endpoint",
        "OS: Linux",
        "Use Case: Threat Detection",
        "Tactic: Discovery",
        "Data Source: Elastic Endgame",
        "Data Source: Elastic Defend",
        "Data Source: Auditd Manager",
        "Data Source: Crowdstrike",
        "Data Source: SentinelOne",
        "Resources: Investigation Guide",
    )
    assert rule.version == 209
    assert rule.author == ("Elastic",)
    assert rule.license == "Elastic License v2"
    assert rule.note.startswith("## Triage and analysis") and "### Investigating Nping Process Activity" in rule.note
    assert rule.note.rstrip().endswith("unauthorized use of network diagnostic tools.")
    assert rule.setup.startswith("## Setup") and "### Auditbeat Setup" in rule.setup
    assert len(rule.false_positives) == 1 and "Use of `Nping` by non-engineers" in rule.false_positives[0]
    (threat,) = rule.threat
    assert threat.framework == "MITRE ATT&CK"
    assert (threat.tactic.id, threat.tactic.name, threat.tactic.reference) == (
        "TA0007", "Discovery", "https://attack.mitre.org/tactics/TA0007/"
    )
    (technique,) = threat.technique
    assert (technique.id, technique.name, technique.reference, technique.subtechnique) == (
        "T1046", "Network Service Discovery", "https://attack.mitre.org/techniques/T1046/", ()
    )
    # no override in version 209: the window filters on @timestamp
    assert rule.timestamp_override is None and rule.primary_timestamp == "@timestamp"
    assert rule.secondary_timestamp is None
    assert rule.building_block_type is None and rule.exceptions_list == () and rule.alert_suppression is None
    assert rule.metadata["integration"] == ["endpoint", "auditd_manager", "crowdstrike", "sentinel_one_cloud_funnel"]


def test_upstream_nping_loads_and_differs_where_expected(shared):
    upstream = load_rule_file(shared("rules", "elastic", "linux", "discovery_linux_nping_activity.toml"))
    assert upstream.rule_id == NPING_ID and upstream.query == QUERY
    assert upstream.timestamp_override == "event.ingested" and upstream.secondary_timestamp == "@timestamp"
    assert [t.tactic.id for t in upstream.threat] == ["TA0007", "TA0040"]
    assert [t.technique[0].id for t in upstream.threat] == ["T1046", "T1498"]

    changes = {c.key: c for c in diff_rules(nping(), upstream)}
    assert set(changes) == {"rule.index", "rule.version", "rule.threat[1]", "rule.timestamp_override",
                            "metadata.updated_date"}
    assert changes["rule.timestamp_override"].left is MISSING
    assert changes["rule.timestamp_override"].right == "event.ingested"
    assert changes["rule.index"].removed == ["logs-endpoint.events.*"]
    assert changes["rule.index"].added == ["logs-endpoint.events.process*"]
    assert changes["rule.threat[1]"].right["tactic"]["id"] == "TA0040"


def test_resolve_rule_references(shared):
    assert resolve_rule(f"builtin:{NPING_ID}").version == 209
    assert resolve_rule("builtin:0d69").rule_id == NPING_ID  # unique prefix
    path = shared("rules", "elastic", "linux", "discovery_linux_nping_activity.toml")
    assert resolve_rule(str(path)).timestamp_override == "event.ingested"
