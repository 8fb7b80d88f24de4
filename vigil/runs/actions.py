"""What happens after new alerts are committed: notifications (`[outputs]`) and, once enabled, response actions.

`vigil run`, `vigil hunt` and `vigil watch` all hand their newly stored alerts here, so a rule behaves the same
whichever way it ran. Nothing here raises for a failed delivery or action: notifiers retry and dead-letter, and
response outcomes are recorded on the alert.
"""

from __future__ import annotations

import typing as t

from vigil.config import Config


class AlertActions:
    """Notifiers and responders built once from the configuration."""

    def __init__(self, config: Config, store: t.Any = None):
        self.store = store
        self.notifiers = None
        if config.outputs:  # imported only when configured: httpx and smtplib cost start-up time
            from vigil.notify import Notifiers

            self.notifiers = Notifiers.from_vigil_config(config)
        self.responder = _responder(config)

    def on_new_alerts(self, docs: t.Sequence[dict], rule: t.Any) -> None:
        """Called once per rule with the alert documents that were just committed (possibly none)."""
        if self.notifiers is not None:
            self.notifiers.notify(list(docs), rule)
        if self.responder is not None and docs:
            self.responder.on_alerts(list(docs), rule, self.store)

    def close(self) -> None:
        if self.notifiers is not None:
            self.notifiers.close()

    def __enter__(self) -> "AlertActions":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()


def _responder(config: Config) -> t.Any:
    if not config.response:
        return None
    from vigil.response import ResponseDispatcher

    return ResponseDispatcher.from_config(dict(config.response))
