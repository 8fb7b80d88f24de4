"""Alert suppression at commit time: one alert per group of matches, extending open alerts instead of repeating them.

This is Kibana's in-memory suppression for EQL event queries (kibana-engine.md §9; `bulkCreateSuppressedAlertsInMemory`,
`executeBulkCreateAlerts`, `alertWithSuppression`, `suppressAlertsInMemory`), applied to one window's alerts:

1. with `missing_fields_strategy = doNotSuppress`, alerts whose event lacks a group_by value are committed as
   ordinary alerts first (no suppression fields), at most `max_signals` new ones;
2. every other alert gets its suppression fields (`vigil.alerts.suppression`), and alerts whose id is already
   stored are dropped (an event seen again by an overlapping window);
3. the store is searched for the latest alert of each instance id that is not closed and whose
   `kibana.alert.start` (its creation time) is inside the suppression window: `now - duration` with a duration,
   else the window's own start ("per rule execution");
4. an alert whose event an existing alert of an *earlier* execution already covers (that alert's suppression end is
   not before this event's time) is dropped: it was suppressed before, by an overlapping window;
5. the rest are grouped by instance id, oldest suppression start first: the first of a group stays, the others are
   suppressed into it (`docs_count` += 1 each, `end` = the latest time);
6. a group whose instance has an existing alert — with a duration any existing one; per execution only one created
   by this same execution (an earlier window of a catch-up) — updates that alert instead: `docs_count` += the
   group's size, `suppression.end` extended, `suppression.start` moved earlier only within one execution,
   `kibana.alert.last_detected` = now. Other groups become new alerts, at most `max_signals` minus those already
   created (step 1);
7. new alerts and updates are committed in one transaction.

`docs_count` therefore counts the *suppressed* events, not the alert's own: two matching events make one alert with
`docs_count = 1`, as Kibana's tests expect.

The cap: an EQL search returns at most `max_signals` events, so an execution creates plus suppresses at most
`max_signals` per window. Kibana's `5 × max_signals` bound (`MAX_SIGNALS_SUPPRESSION_MULTIPLIER`) belongs to the
query rule types, whose search pages on past `max_signals`; for EQL it can never be reached, and the documentation's
"the EQL cap is max_signals" is the observable behaviour. vigil follows that reading.

Sequences and samples are not suppressed (Kibana keeps sequence suppression behind the
`alertSuppressionForSequenceEqlRuleEnabled` feature flag); the KQL rule types are not suppressed by vigil yet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from vigil.alerts.rule_fields import rule_uuid_of
from vigil.alerts.suppression import (
    DOCS_COUNT,
    END,
    INSTANCE_ID,
    LAST_DETECTED,
    START,
    SuppressionSpec,
    has_every_term,
    instance_id,
    rule_suppression,
    suppression_fields,
    suppression_terms,
    suppression_time,
)
from vigil.alerts.times import js_iso, parse_time
from vigil.runs import query_rule

# Kibana's `getSuppressionMaxSignalsWarning()`: replaces the max-signals warning when suppression is active.
SUPPRESSION_MAX_SIGNALS_WARNING = (
    "This rule reached the maximum alert limit for the rule execution. Some alerts were not created or suppressed."
)

EXECUTION_UUID = "kibana.alert.rule.execution.uuid"


@dataclasses.dataclass
class SuppressionOutcome:
    """What one commit did. `alerts`: the alerts created (`new`) and the stored alerts it extended (not `new`,
    with their updated document)."""

    alerts: list[t.Any] = dataclasses.field(default_factory=list)
    created: int = 0
    suppressed: int = 0  # alerts folded into another one (in this commit, or into a stored alert)
    updated: int = 0
    truncated: bool = False


class Suppressor:
    """Suppression for one rule execution (or one hunt): builds the fields and commits a window's alerts."""

    def __init__(self, rule: t.Any, spec: SuppressionSpec, ctx: t.Any):
        self.rule, self.spec, self.ctx = rule, spec, ctx
        self.rule_uuid = ctx.rule_uuid or rule_uuid_of(rule)
        self.primary = rule.primary_timestamp
        self.secondary = rule.secondary_timestamp

    @property
    def now(self) -> dt.datetime:
        return self.ctx.created_at

    def window_start(self, window_start: t.Optional[dt.datetime]) -> t.Optional[dt.datetime]:
        """Where the search for alerts to extend begins: `now - duration`, else the window's start (per
        execution; None: no lower bound)."""
        if self.spec.duration is not None:
            return self.now - self.spec.duration
        return window_start

    def _with_fields(self, produced: t.Any) -> t.Optional[t.Any]:
        """The alert with its suppression fields, or None when `doNotSuppress` leaves it an ordinary alert."""
        event = produced.records[0].doc
        terms = suppression_terms(event, self.spec.group_by)
        if not self.spec.suppress_missing and not has_every_term(terms):
            return None
        fallback = parse_time(produced.doc.get("@timestamp")) or self.now
        at = suppression_time(event, self.primary, self.secondary, fallback)
        doc = dict(produced.doc)
        doc.update(suppression_fields(terms, instance_id(terms, self.rule_uuid, self.ctx.space_id), at))
        return dataclasses.replace(produced, doc=doc)

    def commit(self, store: t.Any, produced: t.Sequence[t.Any], *, window_start: t.Optional[dt.datetime],
               max_alerts: t.Optional[int]) -> SuppressionOutcome:
        """Commit one window's event alerts (`ProducedAlert`s of single events) with suppression."""
        outcome = SuppressionOutcome()
        suppressible, plain = [], []
        for p in produced:
            wrapped = self._with_fields(p)
            (plain if wrapped is None else suppressible).append(p if wrapped is None else wrapped)
        if plain:
            kept, truncated = query_rule.commit_capped(store, plain, max_alerts)
            outcome.alerts.extend(kept)
            outcome.created += sum(1 for p in kept if p.new)
            outcome.truncated = truncated
        if suppressible:
            remaining = None if max_alerts is None else max_alerts - outcome.created
            self._commit_suppressible(store, suppressible, self.window_start(window_start), remaining, outcome)
        return outcome

    def _commit_suppressible(self, store: t.Any, alerts: list[t.Any], since: t.Optional[dt.datetime],
                             max_alerts: t.Optional[int], outcome: SuppressionOutcome) -> None:
        stored = query_rule.existing_ids(store, [p.id for p in alerts])
        alerts = [p for p in alerts if p.id not in stored]
        if not alerts:
            return
        execution = self.ctx.execution_id
        existing = store.latest_by_instance(self.rule.rule_id, {p.doc[INSTANCE_ID] for p in alerts},
                                            since=js_iso(since) if since is not None else None)

        def earlier_execution(doc: t.Optional[dict]) -> bool:
            return doc is not None and doc.get(EXECUTION_UUID) != execution

        # step 4: events an earlier execution's alert already counted (overlapping windows)
        fresh = [p for p in alerts if not (earlier_execution(existing.get(p.doc[INSTANCE_ID]))
                                           and _not_before(existing[p.doc[INSTANCE_ID]].get(END), p.doc[END]))]
        # step 5: group in memory, oldest first (a stable sort, like lodash sortBy)
        leaders: dict[str, t.Any] = {}
        for p in sorted(fresh, key=lambda p: p.doc[START]):
            instance = p.doc[INSTANCE_ID]
            leader = leaders.get(instance)
            if leader is None:
                leaders[instance] = p
                continue
            leader.doc[DOCS_COUNT] += p.doc[DOCS_COUNT] + 1
            leader.doc[END] = max(leader.doc[END], p.doc[END])
            outcome.suppressed += 1
        # step 6: extend a stored alert, or create
        new, updates, updated = [], {}, []
        for instance, leader in leaders.items():
            target = existing.get(instance)
            extend = target is not None and (self.spec.duration is not None or not earlier_execution(target))
            if not extend:
                new.append(leader)
                continue
            fields = self._update_fields(target, leader.doc, same_execution=not earlier_execution(target))
            updates[target["kibana.alert.uuid"]] = fields
            updated.append(dataclasses.replace(leader, doc={**target, **fields}, new=False))
            outcome.suppressed += 1
        # Kibana truncates with `if (maxAlerts && length > maxAlerts)`: a cap of 0 (all used by unsuppressed
        # alerts) is falsy there and truncates nothing. Reproduced, not "fixed".
        if max_alerts and len(new) > max_alerts:
            new = new[:max_alerts]
            outcome.truncated = True
        new_ids = set(store.write_alerts([p.doc for p in new], updates))
        for p in new:
            p.new = p.id in new_ids
        outcome.created += sum(1 for p in new if p.new)
        outcome.updated += len(updated)
        outcome.alerts.extend(new + updated)

    def _update_fields(self, target: dict, doc: dict, *, same_execution: bool) -> dict[str, t.Any]:
        """Kibana's update of an extended alert (`getUpdatedSuppressionBoundaries` + last_detected + docs_count)."""
        fields: dict[str, t.Any] = {}
        if not _not_before(target.get(END), doc[END]):
            fields[END] = doc[END]
        # the start only moves within one execution (an alert made by an earlier window of this run)
        if same_execution and _not_before(target.get(START), doc[START]):
            fields[START] = doc[START]
        fields[LAST_DETECTED] = js_iso(self.now)
        fields[DOCS_COUNT] = int(target.get(DOCS_COUNT) or 0) + int(doc[DOCS_COUNT]) + 1
        return fields


def _not_before(existing: t.Any, moment: str) -> bool:
    """Kibana's `isExistingDateGtEqThanAlert`: the stored time is set and >= `moment` (ISO UTC ms strings)."""
    return bool(existing) and str(existing) >= moment


def suppressor_for(rule: t.Any, compiled: t.Any, ctx: t.Any) -> t.Optional[Suppressor]:
    """The suppressor of an EQL rule with `alert_suppression` (validated here: a bad setting raises a located
    `RuleError`), or None: no setting, not an EQL rule, or a sequence/sample query (not suppressed, see above)."""
    if getattr(rule, "type", None) != "eql":
        return None
    spec = rule_suppression(rule)
    if spec is None or compiled.kind != "event":
        return None
    return Suppressor(rule, spec, ctx)
