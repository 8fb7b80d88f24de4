"""Response actions: the rule's Kibana `response_actions`, run automatically on new alerts, and manual actions.

A rule asks for actions in Kibana's format (only Elastic Defend's `.endpoint` type exists for automated actions):

    response_actions = [{action_type_id = ".endpoint", params = {command = "kill-process", comment = "...",
                         config = {field = "process.entity_id", overwrite = false}}}]

`config.overwrite = true` (Kibana's toggle, the default) identifies the process by the alert's `process.pid`;
`false` uses `config.field` instead. Kibana runs them for the alerts an execution created, never for sequence
building blocks; vigil does the same and, like Kibana, isolates a host once per batch however many alerts ask.

Safety, in order: the `[response]` configuration must enable the command (everything is off by default, and dry-run
by default once on); the alert must be about THIS host (host.py); a process must prove its identity (process.py).
Each outcome — done, dry-run, refused or failed — is recorded on every alert it was taken for (record.py).
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

from vigil.alerts.reason import get_path
from vigil.alerts.store import AlertStore
from vigil.errors import Location, RuleError, VigilError
from vigil.response import isolate as isolation
from vigil.response import record as recorder
from vigil.response.host import LocalHost
from vigil.response.outcome import (
    AUTOMATED_COMMANDS,
    COMMANDS,
    FAILED,
    ISOLATE,
    REFUSED,
    RELEASE,
    UNDO_COMMANDS,
    Outcome,
    ResponseError,
)
from vigil.response.process import signal_process, target_from_alert
from vigil.response.settings import ResponseSettings

log = logging.getLogger("vigil.response")
ENDPOINT = ".endpoint"
DEFAULT_FIELD = "process.pid"


@dataclass(frozen=True)
class ResponseAction:
    """One entry of a rule's `response_actions`, checked."""

    command: str
    comment: t.Optional[str] = None
    field: str = DEFAULT_FIELD
    key: str = "rule.response_actions[0]"


def parse_response_actions(rule: t.Any) -> tuple[list[ResponseAction], list[VigilError]]:
    """The rule's runnable actions, and one located error per entry that cannot run (nothing is dropped silently)."""
    actions: list[ResponseAction] = []
    problems: list[VigilError] = []
    for i, raw in enumerate(getattr(rule, "response_actions", ()) or ()):
        key = f"rule.response_actions[{i}]"

        def where(sub: str = "", key: str = key) -> Location:
            full = key + sub
            return rule.location_of(full) if hasattr(rule, "location_of") else Location(key=full)

        if not isinstance(raw, t.Mapping):
            problems.append(RuleError("a response action must be a table", where()))
            continue
        kind = raw.get("action_type_id")
        if kind != ENDPOINT:
            problems.append(RuleError(f"response action type {kind!r} is not supported", where(".action_type_id"),
                                      hint='vigil runs Elastic Defend\'s ".endpoint" actions only'))
            continue
        params = raw.get("params") if isinstance(raw.get("params"), t.Mapping) else {}
        command = params.get("command")
        if command not in AUTOMATED_COMMANDS:
            problems.append(RuleError(f"unknown response command {command!r}", where(".params.command"),
                                      hint="automated commands: " + ", ".join(AUTOMATED_COMMANDS)))
            continue
        comment = params.get("comment") if isinstance(params.get("comment"), str) else None
        field = DEFAULT_FIELD
        if command != ISOLATE:
            config = params.get("config") if isinstance(params.get("config"), t.Mapping) else {}
            if config.get("overwrite", True) is False:
                field = config.get("field") or ""
                if not isinstance(field, str) or not field.endswith((".pid", ".entity_id")):
                    problems.append(RuleError(f"config.field {field!r} does not name a process",
                                              where(".params.config.field"),
                                              hint="e.g. process.entity_id, or set overwrite = true for process.pid"))
                    continue
        actions.append(ResponseAction(command, comment, field, key))
    return actions, problems


class ResponseDispatcher:
    """Runs response actions under the `[response]` settings and records them on the alerts."""

    def __init__(self, settings: ResponseSettings, *, host: t.Optional[LocalHost] = None, proc_root: str = "/proc"):
        self.settings = settings
        self.host = host or LocalHost.detect()
        self.proc_root = proc_root
        self.nft = isolation.Nft(settings.nft, settings.netns)

    @classmethod
    def from_config(cls, cfg: t.Any = None, location: t.Optional[t.Callable[[str], Location]] = None,
                    **options: t.Any) -> "ResponseDispatcher":
        """From the raw `[response]` table (a Config carrying `.response` is accepted too)."""
        raw = getattr(cfg, "response", cfg)
        return cls(ResponseSettings.from_dict(raw, location), **options)

    # --- automatic ------------------------------------------------------------------------------------------------

    def on_alerts(self, alerts: t.Sequence[t.Mapping[str, t.Any]], rule: t.Any,
                  store: t.Optional[AlertStore]) -> list[tuple[str, Outcome]]:
        """Run the rule's response actions for newly created alerts: [(alert id, outcome)]. Never raises for a
        bad action or a refused target: those are outcomes, recorded like the rest."""
        if not (self.settings.enabled and self.settings.automatic):
            return []
        actions, problems = parse_response_actions(rule)
        if not actions and not problems:
            return []
        # Kibana acts on created alerts only; sequence building blocks carry kibana.alert.group.index
        created = [a for a in alerts if get_path(a, "kibana.alert.group.index") is None]
        rule_id = getattr(rule, "rule_id", None)
        results: list[tuple[str, Outcome]] = []
        done: dict[tuple, Outcome] = {}
        for alert in created:
            alert_id = str(alert.get("kibana.alert.uuid") or "")
            for problem in problems:
                outcome = Outcome("invalid", FAILED, str(problem), {}, {})
                results.append((alert_id, outcome))
                self._record(store, alert_id, outcome, automatic=True, rule_id=rule_id, comment=None)
            for action in actions:
                key = self._dedupe_key(action, alert)
                outcome = done.get(key) if key is not None else None
                if outcome is None:
                    outcome = self.run(action.command, alert, field=action.field, automatic=True)
                    if key is not None:
                        done[key] = outcome
                    log.log(logging.INFO if outcome.ok else logging.WARNING, "rule %s alert %s: %s", rule_id,
                            alert_id[:12], outcome.summary())
                results.append((alert_id, outcome))
                self._record(store, alert_id, outcome, automatic=True, rule_id=rule_id, comment=action.comment)
        return results

    def _dedupe_key(self, action: ResponseAction, alert: t.Mapping[str, t.Any]) -> t.Optional[tuple]:
        if action.command == ISOLATE:
            return (ISOLATE,)  # one isolation per batch, whatever the number of alerts
        try:
            target = target_from_alert(alert, action.field)
        except ResponseError:
            return None
        return (action.command, target.pid, target.start, target.entity_id)

    # --- one action -----------------------------------------------------------------------------------------------

    def run(self, command: str, alert: t.Optional[t.Mapping[str, t.Any]] = None, *, field: str = DEFAULT_FIELD,
            dry_run: bool = False, automatic: bool = False) -> Outcome:
        """One action, gated by the settings. `dry_run=True` forces a dry run; the settings' `dry_run` applies to
        isolate / kill / suspend, never to the undo commands (release, resume), which must always be able to act."""
        if command not in COMMANDS:
            raise ResponseError(f"unknown response command {command!r}", hint="commands: " + ", ".join(COMMANDS))
        undo = command in UNDO_COMMANDS
        if not undo:
            if not self.settings.enabled and not dry_run:
                return Outcome(command, REFUSED, "response actions are disabled ([response] enabled = false)")
            if command not in self.settings.commands:
                return Outcome(command, REFUSED, f"{command} is not allowed by [response] commands")
            dry_run = dry_run or self.settings.dry_run
        if alert is not None:
            same, why = self.host.matches(alert)
            if not same:
                return Outcome(command, REFUSED, f"not acting on this host: {why}")
        elif command not in (ISOLATE, RELEASE):
            raise ResponseError(f"{command} needs an alert naming the process")
        try:
            if command == ISOLATE:
                policy = isolation.IsolationPolicy(self.settings.management_addresses, self.settings.dns_resolvers)
                return isolation.isolate(policy, self.nft, dry_run=dry_run)
            if command == RELEASE:
                return isolation.release(self.nft, dry_run=dry_run)
            assert alert is not None
            target = target_from_alert(alert, field)
            return signal_process(command, target, dry_run=dry_run, tolerance_ms=self.settings.start_tolerance_ms,
                                  proc_root=self.proc_root)
        except ResponseError as error:
            return Outcome(command, REFUSED if command != ISOLATE else FAILED, str(error))
        except OSError as error:
            return Outcome(command, FAILED, f"{type(error).__name__}: {error}")

    def _record(self, store: t.Optional[AlertStore], alert_id: str, outcome: Outcome, *, automatic: bool,
                rule_id: t.Optional[str], comment: t.Optional[str], user: str = recorder.AUTOMATIC_USER) -> None:
        if store is None or not alert_id:
            return
        recorder.record(store, alert_id, outcome, user=user, automatic=automatic, rule_id=rule_id, comment=comment)


