"""What vigil can run out of a set of rules, and an ATT&CK Navigator layer of it.

    report = coverage_report(rules)       one RuleCoverage per rule: status runnable / unsupported / error, reason
    report.counts()                       {type: {status: n}}
    attack_layer(report.runnable, name)   a MITRE ATT&CK Navigator layer (format 4.5) of the runnable rules

A rule is *runnable* when vigil executes its type (`Rule.runnable`) and its query compiles with the rule's own
settings. A rule whose type vigil does not execute is *unsupported*, with the reason (ES|QL, machine learning, ...);
for query-language types the reason also says whether the query compiles, so the gap to running it is visible.
A runnable type whose query does not compile is an *error*, with the compiler's located message.
"""

from __future__ import annotations

import collections
import typing as t
from dataclasses import dataclass

from vigil.errors import VigilError
from vigil.rules.model import Rule

__all__ = ["RuleCoverage", "CoverageReport", "assess_rule", "coverage_report", "attack_layer", "tactic_shortname",
           "LAYER_VERSIONS"]

RUNNABLE, UNSUPPORTED, ERROR = "runnable", "unsupported", "error"

#: Why a rule type cannot run in vigil, whatever its query says.
TYPE_REASONS = {
    "esql": "ES|QL queries are not supported",
    "machine_learning": "needs Elastic machine-learning anomaly jobs",
    "threat_match": "needs threat-intelligence indicator indices to match against",
    "saved_query": "refers to a query saved in Kibana",
    "new_terms": "new_terms rules are not run by this build",
    "threshold": "threshold rules are not run by this build",
    "query": "query (KQL) rules are not run by this build",
}

#: Navigator 4.5 layer versions (layers/spec/v4.5/layerformat.md in mitre-attack/attack-navigator).
LAYER_VERSIONS = {"attack": "18", "navigator": "5.2.0", "layer": "4.5"}


@dataclass(frozen=True)
class RuleCoverage:
    rule: Rule
    status: str  # runnable | unsupported | error
    reason: t.Optional[str] = None
    compiles: t.Optional[bool] = None  # None: the type has no query vigil could compile


@dataclass
class CoverageReport:
    entries: list[RuleCoverage]

    def counts(self) -> dict[str, dict[str, int]]:
        """{rule type: {status: count}}, types by number of rules."""
        by_type: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for entry in self.entries:
            by_type[entry.rule.type][entry.status] += 1
        ordered = sorted(by_type.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        return {kind: dict(counter) for kind, counter in ordered}

    def status_counts(self) -> dict[str, int]:
        return dict(collections.Counter(e.status for e in self.entries))

    def reasons(self) -> dict[str, int]:
        """How many rules each non-runnable reason holds back."""
        return dict(collections.Counter(e.reason for e in self.entries if e.status != RUNNABLE and e.reason)
                    .most_common())

    @property
    def runnable(self) -> list[Rule]:
        return [e.rule for e in self.entries if e.status == RUNNABLE]


_KQL_TYPES = ("query", "threshold", "new_terms", "threat_match", "saved_query")


def _type_reason(rule: Rule) -> str:
    """The run layer's own reason when it gives one (it knows which types it executes), else ours."""
    try:
        from vigil.runs.query_rule import unsupported_reason
    except ImportError:  # pragma: no cover - the run layer ships with vigil
        unsupported_reason = None  # type: ignore[assignment]
    reason = unsupported_reason(rule) if unsupported_reason else None
    return reason or TYPE_REASONS.get(rule.type, f"rule type {rule.type!r} is not run by vigil")


def _compile_error(rule: Rule) -> t.Optional[str]:
    """None when the rule's query compiles with its settings, else the located message."""
    try:
        if rule.language in ("eql", None) and rule.type == "eql":
            from vigil.engine import compile_query

            compile_query(rule.query or "", category_field=rule.event_category_override or "event.category",
                          timestamp_field=rule.timestamp_field or "@timestamp",
                          tiebreaker_field=rule.tiebreaker_field)
        elif rule.language == "kuery" or (rule.language is None and rule.type in _KQL_TYPES):
            from vigil.engine import compile_query
            from vigil.kql import kql_query

            text = rule.query or ""
            compile_query(kql_query(text if text.strip() else "*"))  # an empty KQL query matches every event
        elif rule.language == "lucene":
            return "Lucene query syntax is not supported"
        else:
            return f"language {rule.language!r} is not compiled by vigil"
    except VigilError as error:
        return str(error).splitlines()[0]
    return None


def assess_rule(rule: Rule) -> RuleCoverage:
    """Can vigil run this rule, and if not, why not?"""
    has_query = rule.type not in ("machine_learning",) and rule.language not in ("esql",)
    error = _compile_error(rule) if has_query else None
    compiles = (error is None) if has_query else None
    if rule.runnable:
        if error is None:
            return RuleCoverage(rule, RUNNABLE, None, compiles)
        return RuleCoverage(rule, ERROR, error, compiles)
    reason = _type_reason(rule)
    if compiles is True:
        reason += "; its query compiles"
    elif compiles is False and error:
        reason += f"; its query does not compile: {error}"
    return RuleCoverage(rule, UNSUPPORTED, reason, compiles)


def coverage_report(rules: t.Iterable[Rule]) -> CoverageReport:
    return CoverageReport([assess_rule(rule) for rule in rules])


# ------------------------------------------------------------------------------------------- ATT&CK layer
def tactic_shortname(name: str) -> str:
    """ATT&CK's tactic short name as the Navigator wants it: "Command and Control" -> "command-and-control"."""
    return "-".join(name.lower().split())


def attack_layer(
    rules: t.Iterable[Rule],
    name: str = "vigil: runnable detection rules",
    description: str = "",
    attack_version: str = LAYER_VERSIONS["attack"],
    platforms: t.Sequence[str] = (),
) -> dict[str, t.Any]:
    """An ATT&CK Navigator layer (format 4.5) scoring each (technique, tactic) by the number of rules covering it;
    each technique's comment lists those rules. Only MITRE ATT&CK threat entries count (not ATLAS)."""
    covered: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for rule in rules:
        for threat in rule.threat:
            if threat.framework != "MITRE ATT&CK" or threat.tactic is None:
                continue
            tactic = tactic_shortname(threat.tactic.name)
            for technique in threat.technique:
                ids = [technique.id] + [sub.id for sub in technique.subtechnique]
                for technique_id in ids:
                    if technique_id and rule.name not in covered[(technique_id, tactic)]:
                        covered[(technique_id, tactic)].append(rule.name)
    max_score = max((len(names) for names in covered.values()), default=1)
    techniques = [
        {
            "techniqueID": technique_id,
            "tactic": tactic,
            "score": len(names),
            "color": "",
            "comment": f"{len(names)} rule(s): " + "; ".join(sorted(names)),
            "enabled": True,
            "metadata": [],
            "links": [],
            "showSubtechniques": False,
        }
        for (technique_id, tactic), names in sorted(covered.items())
    ]
    return {
        "name": name,
        "versions": {**LAYER_VERSIONS, "attack": attack_version},
        "domain": "enterprise-attack",
        "description": description,
        **({"filters": {"platforms": list(platforms)}} if platforms else {}),
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True, "showAggregateScores": False,
                   "countUnscored": False, "aggregateFunction": "average", "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#ffffffff", "#66b1ffff"], "minValue": 0, "maxValue": max(max_score, 1)},
        "legendItems": [],
        "metadata": [],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }
