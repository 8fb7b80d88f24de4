"""What one response action did: the record written on the alert and printed by `vigil respond`.

Every action ends in exactly one status, so a reader of the alert's history never has to guess:

* `succeeded` — the system was changed as asked (process killed / stopped / resumed, host isolated / released);
* `dry-run`   — every check passed and the action WOULD have run; nothing was changed;
* `refused`   — a safety check said no (pid reused, process gone, alert from another host, action disabled);
* `failed`    — vigil tried and the system said no (not permitted, `nft` missing or rejected the ruleset).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from vigil.errors import VigilError

SUCCEEDED, DRY_RUN, REFUSED, FAILED = "succeeded", "dry-run", "refused", "failed"
STATUSES = (SUCCEEDED, DRY_RUN, REFUSED, FAILED)

# Kibana's automated response commands (`params.command`) plus the undo commands of the manual console.
ISOLATE, RELEASE = "isolate", "release"
KILL, SUSPEND, RESUME = "kill-process", "suspend-process", "resume-process"
AUTOMATED_COMMANDS = (ISOLATE, KILL, SUSPEND)
UNDO_COMMANDS = (RELEASE, RESUME)
COMMANDS = AUTOMATED_COMMANDS + UNDO_COMMANDS


class ResponseError(VigilError):
    """A response action cannot even be attempted (bad arguments, nothing to identify the process by)."""


@dataclass(frozen=True)
class Outcome:
    command: str
    status: str
    message: str
    target: t.Mapping[str, t.Any] = field(default_factory=dict)  # pid/start/entity_id, or table/netns
    details: t.Mapping[str, t.Any] = field(default_factory=dict)  # what the checks saw (current comm, start, ...)

    @property
    def ok(self) -> bool:
        """True for `succeeded` and `dry-run`: nothing went wrong."""
        return self.status in (SUCCEEDED, DRY_RUN)

    def to_dict(self) -> dict[str, t.Any]:
        return {"command": self.command, "status": self.status, "message": self.message,
                "target": dict(self.target), "details": dict(self.details)}

    def summary(self) -> str:
        return f"{self.command}: {self.status}: {self.message}"
