"""Recording response actions on the alert they were taken for.

The alert store has notes but no response-action table, so each outcome is stored as an alert NOTE of two lines:
a sentence for people (`vigil alerts show`), then `vigil.response {json}` for programs. `history()` reads the JSON
lines back, oldest first. Nothing is ever deleted: a refused or failed action is recorded like a successful one.
"""

from __future__ import annotations

import typing as t

import orjson

from vigil.alerts.store import AlertStore, Note
from vigil.alerts.times import js_iso, utc_now
from vigil.response.outcome import Outcome

MARK = "vigil.response "
AUTOMATIC_USER = "vigil"  # who acted, for actions run by a rule rather than a person


def record(store: AlertStore, alert_id: str, outcome: Outcome, *, user: str, automatic: bool,
           rule_id: t.Optional[str] = None, comment: t.Optional[str] = None) -> Note:
    entry = {
        "at": js_iso(utc_now()), "user": user, "automatic": automatic, "rule_id": rule_id, "comment": comment,
        **outcome.to_dict(),
    }
    ruleset = entry["details"].pop("ruleset", None)  # long and reproducible from the policy: keep notes readable
    if ruleset is not None:
        entry["details"]["ruleset_lines"] = ruleset.count("\n")
    how = "automatic response" if automatic else "response"
    head = f"{how} {outcome.command}: {outcome.status}: {outcome.message}"
    if comment:
        head += f" (comment: {comment})"
    return store.add_note(alert_id, head + "\n" + MARK + orjson.dumps(entry).decode(), user)


def history(store: AlertStore, alert_id: str) -> list[dict[str, t.Any]]:
    """Every response action recorded on the alert, oldest first, with the note id."""
    out = []
    for note in store.notes(alert_id):
        for line in note.text.splitlines():
            if line.startswith(MARK):
                try:
                    entry = orjson.loads(line[len(MARK):])
                except orjson.JSONDecodeError:
                    continue  # a hand-written note that happens to start with the mark
                out.append({"note_id": note.id, **entry})
    return out
