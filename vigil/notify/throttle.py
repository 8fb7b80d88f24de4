"""When to notify: Kibana's action frequency (`notify_when` + `throttle`) per rule and channel, persisted.

Modes (Kibana's names):

* `onActiveAlert`: every rule run that produced alerts notifies (the default; legacy `throttle = "rule"`);
* `onThrottleInterval` with `throttle = "1h"`: at most one notification per rule per channel per interval; alerts
  that arrive inside the interval are held back and summarised (count, since, ids) in the next notification;
* `onActionGroupChange`: notify when the rule turns active (a run with alerts after a run without, or the first
  run ever); while it stays active, alerts are held back and summarised in the next notification;
* legacy `throttle = "no_actions"`: never notify.

The state is a small JSON file (default `notify-state.json` in the data directory), updated under an exclusive
`flock`, so several vigil processes (scheduler, `vigil watch`) share it. A failed delivery does not count as a
notification: the throttle window is not started and the held-back summary is kept for the next try.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.alerts.reason import get_path
from vigil.alerts.times import js_iso, parse_time
from vigil.notify.base import HeldBack
from vigil.rules.datemath import DateMathError, parse_interval

ON_ACTIVE = "onActiveAlert"
ON_INTERVAL = "onThrottleInterval"
ON_CHANGE = "onActionGroupChange"
NEVER = "never"
NOTIFY_WHEN = (ON_ACTIVE, ON_INTERVAL, ON_CHANGE)
MAX_HELD_IDS = 100
STATE_VERSION = 1


@dataclass(frozen=True)
class Frequency:
    mode: str
    interval: t.Optional[dt.timedelta] = None

    def describe(self) -> str:
        return f"{self.mode} every {self.interval}" if self.interval else self.mode


def frequency(notify_when: t.Optional[str], throttle: t.Optional[str]) -> t.Optional[Frequency]:
    """The frequency a (notify_when, throttle) pair names, or None when neither says anything.

    Raises ValueError (with the reason) for a pair that cannot run; callers turn it into a located error.
    """
    if throttle == "no_actions":
        return Frequency(NEVER)
    if notify_when is not None and notify_when not in NOTIFY_WHEN:
        raise ValueError(f"notify_when must be one of {', '.join(NOTIFY_WHEN)}, not {notify_when!r}")
    interval = None
    if throttle not in (None, "rule"):
        try:
            interval = parse_interval(throttle)  # type: ignore[arg-type]
        except DateMathError as error:
            raise ValueError(f"throttle {throttle!r}: {error.message}") from None
    if notify_when is None:
        if interval is not None:
            return Frequency(ON_INTERVAL, interval)
        return Frequency(ON_ACTIVE) if throttle == "rule" else None
    if notify_when == ON_INTERVAL and interval is None:
        raise ValueError('notify_when = "onThrottleInterval" needs a throttle interval such as "1h"')
    return Frequency(notify_when, interval if notify_when == ON_INTERVAL else None)


@dataclass
class Decision:
    send: bool
    held_back: t.Optional[HeldBack] = None
    reason: str = ""


class ThrottleState:
    """The persisted per-(rule, channel) state: `last_sent`, `active`, and the `held` summary."""

    def __init__(self, data: dict[str, t.Any]):
        self.data = data

    def entry(self, rule_id: str, channel: str) -> dict[str, t.Any]:
        return self.data.setdefault("rules", {}).setdefault(rule_id, {}).setdefault(channel, {})

    def decide(self, rule_id: str, channel: str, freq: Frequency, alerts: t.Sequence[t.Mapping[str, t.Any]],
               now: dt.datetime) -> Decision:
        """Whether to send now, and reserve the send (a failure is undone by `settle`)."""
        entry = self.entry(rule_id, channel)
        if not alerts:
            entry["active"] = False  # a run without alerts: the rule's action group changes back
            return Decision(False, reason="no alerts")
        if freq.mode == NEVER:
            return Decision(False, reason='throttle = "no_actions"')
        if freq.mode == ON_INTERVAL:
            last = parse_time(entry.get("last_sent"))
            if last is not None and freq.interval is not None and now - last < freq.interval:
                self._hold(entry, alerts, now)
                return Decision(False, reason=f"throttled until {js_iso(last + freq.interval)}")
        elif freq.mode == ON_CHANGE and entry.get("active"):
            self._hold(entry, alerts, now)
            return Decision(False, reason="rule still active since the last notification (onActionGroupChange)")
        held = entry.pop("held", None)
        entry["pending"] = {"previous_sent": entry.get("last_sent"), "previous_active": entry.get("active", False),
                            "held": held}
        entry["last_sent"], entry["active"] = js_iso(now), True
        return Decision(True, held_back=_held_back(held))

    def settle(self, rule_id: str, channel: str, delivered: bool) -> None:
        """After a reserved send: keep it, or (failure) restore the window and the held-back summary."""
        entry = self.entry(rule_id, channel)
        pending = entry.pop("pending", None)
        if delivered or pending is None:
            return
        entry["last_sent"], entry["active"] = pending["previous_sent"], pending["previous_active"]
        if pending["held"]:
            entry["held"] = _merge_held(pending["held"], entry.get("held"))
        if entry["last_sent"] is None:
            entry.pop("last_sent")

    @staticmethod
    def _hold(entry: dict[str, t.Any], alerts: t.Sequence[t.Mapping[str, t.Any]], now: dt.datetime) -> None:
        ids = [i for i in (get_path(a, "kibana.alert.uuid") for a in alerts) if isinstance(i, str)]
        entry["held"] = _merge_held(entry.get("held"), {"count": len(alerts), "since": js_iso(now), "ids": ids})


def _merge_held(first: t.Optional[dict[str, t.Any]], second: t.Optional[dict[str, t.Any]]) -> dict[str, t.Any]:
    parts = [h for h in (first, second) if h]
    return {
        "count": sum(h["count"] for h in parts),
        "since": min(h["since"] for h in parts),
        "ids": [i for h in parts for i in h["ids"]][:MAX_HELD_IDS],
    }


def _held_back(held: t.Optional[dict[str, t.Any]]) -> t.Optional[HeldBack]:
    return HeldBack(held["count"], held["since"], tuple(held["ids"])) if held else None


class ThrottleStore:
    """The JSON state file, read and written under an exclusive lock (`<file>.lock`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.error: t.Optional[str] = None  # why the file could not be used; throttling then lasts this process only
        self._memory: dict[str, t.Any] = {"version": STATE_VERSION, "rules": {}}

    @contextmanager
    def locked(self) -> t.Iterator[ThrottleState]:
        """Load, yield for changes, save atomically (write + fsync + rename), all under the lock.

        A state file that cannot be used (permissions, full disk) must not stop notifications: the state is then
        kept in memory and `error` says why.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(self.path.with_name(self.path.name + ".lock"), "a+b")
        except OSError as error:
            self.error = f"throttle state {self.path}: {error.strerror or error}"
            yield ThrottleState(self._memory)
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = ThrottleState(self._load())
                yield state
                self._memory = state.data
                try:
                    self._save(state.data)
                except OSError as error:
                    self.error = f"throttle state {self.path}: {error.strerror or error}"
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, t.Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {"version": STATE_VERSION, "rules": {}}
        except OSError as error:
            self.error = f"throttle state {self.path}: {error.strerror or error}"
            return self._memory
        except orjson.JSONDecodeError:
            # a damaged state file only costs throttling history; keep it aside for a look, start afresh
            os.replace(self.path, self.path.with_name(self.path.name + ".damaged"))
            return {"version": STATE_VERSION, "rules": {}}
        return data if isinstance(data, dict) else {"version": STATE_VERSION, "rules": {}}

    def _save(self, data: dict[str, t.Any]) -> None:
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temp, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)
