"""Response actions (Elastic Defend's on Linux): kill-process, suspend-process (+ resume), isolate, release.

    from vigil.response import ResponseDispatcher
    dispatcher = ResponseDispatcher.from_config(raw_response_table)    # [response] of the configuration
    dispatcher.on_alerts(new_alert_docs, rule, store)                   # after store.insert_alerts(...)

Modules: settings.py (the `[response]` table), host.py (is an alert about this host), process.py (pidfd signals
after start-time verification), isolate.py (the nftables isolation table), actions.py (rule `response_actions`,
gating, dispatch), record.py (outcomes as alert notes). See docs/response.md.
"""

from __future__ import annotations

from vigil.response.actions import ResponseAction, ResponseDispatcher, parse_response_actions
from vigil.response.outcome import Outcome, ResponseError
from vigil.response.record import history
from vigil.response.settings import ResponseSettings

__all__ = ["Outcome", "ResponseAction", "ResponseDispatcher", "ResponseError", "ResponseSettings", "history",
           "parse_response_actions"]
