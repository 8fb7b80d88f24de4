"""`Notifiers`: the configured channels, throttled per rule, delivered in parallel; the API the scheduler calls.

    notifiers = Notifiers.from_config(config.get("outputs", {}), source="vigil.toml", base_dir=Path("."))
    new_ids = store.insert_alerts(docs)
    results = notifiers.notify([d for d in docs if d["kibana.alert.uuid"] in new_ids], rule)

`notify` never raises for a delivery problem (each channel retries, dead-letters and reports in its result);
configuration mistakes are found up front by `from_config` as `ConfigError` naming the key.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from vigil.alerts.reason import get_path
from vigil.alerts.times import js_iso, utc_now
from vigil.errors import ConfigError, Location
from vigil.notify import cef, ndjson_file, slack, smtp, syslog, webhook
from vigil.notify.base import SEVERITIES, Batch, Channel, ChannelOptions, DeliveryResult, rule_summary
from vigil.notify.section import Section
from vigil.notify.throttle import ON_ACTIVE, Frequency, ThrottleState, ThrottleStore, frequency
from vigil.paths import data_dir

# `[[outputs.<kind>]]` → the module whose `build(section, options, dead_letter)` makes the channel
KINDS: dict[str, t.Any] = {
    "webhook": webhook, "slack": slack, "syslog": syslog, "cef": cef, "email": smtp, "file": ndjson_file,
}
GLOBAL_KEYS = ("notify_when", "throttle", "state_file", "dead_letter", "guide_chars")
STATE_FILE = "notify-state.json"
DEAD_LETTER_FILE = "notify-dead-letter.ndjson"


@dataclass
class ConfiguredChannel:
    channel: Channel
    options: ChannelOptions
    frequency: t.Optional[Frequency]


class Notifiers:
    """Every configured output channel, with the shared throttle state."""

    def __init__(self, channels: t.Sequence[ConfiguredChannel], *, default_frequency: t.Optional[Frequency] = None,
                 state_path: t.Optional[Path] = None, guide_chars: int = 1500,
                 clock: t.Callable[[], dt.datetime] = utc_now):
        self.channels = list(channels)
        self.default_frequency = default_frequency
        self.store = ThrottleStore(state_path or data_dir() / STATE_FILE)
        self.guide_chars = guide_chars
        self.clock = clock

    # ------------------------------------------------------------------------------------------------- config
    @classmethod
    def from_config(cls, outputs: t.Optional[t.Mapping[str, t.Any]], *, source: t.Optional[str] = None,
                    base_dir: t.Optional[Path] = None, line_of: t.Optional[t.Callable[[str], t.Optional[int]]] = None,
                    clock: t.Callable[[], dt.datetime] = utc_now) -> "Notifiers":
        """Build from the `[outputs]` table of the vigil config (see docs/notify.md). Raises ConfigError.

        `source` (the config file) and `line_of` (key path → line) only make error locations precise;
        `base_dir` anchors relative paths (the config file's directory).
        """
        top = Section(outputs or {}, "outputs", source=source, base_dir=base_dir, line_of=line_of)
        top.accept(*KINDS)
        default = _frequency(top, top.choice("notify_when", ("onActiveAlert", "onThrottleInterval",
                                                             "onActionGroupChange"), None),
                             top.interval("throttle", None))
        state_path = top.path("state_file", None)
        dead_letter = top.path("dead_letter", None) or data_dir() / DEAD_LETTER_FILE
        guide_chars = top.number("guide_chars", 1500, integer=True)
        top.finish()
        channels: list[ConfiguredChannel] = []
        names: set[str] = set()
        for kind, module in KINDS.items():
            tables = top.values.get(kind)
            if tables is None:
                continue
            many = isinstance(tables, list)
            for index, table in enumerate(tables if many else [tables]):
                key = f"outputs.{kind}[{index}]" if many else f"outputs.{kind}"
                section = Section(table, key, source=source, base_dir=base_dir, line_of=line_of)
                options, freq = _channel_options(section, f"{kind}-{index + 1}" if many and len(tables) > 1 else kind)
                if options.name in names:
                    raise section.error(f"duplicate channel name {options.name!r}", "name",
                                        hint="give each output its own name = \"...\"")
                names.add(options.name)
                channel = module.build(section, options, section.path("dead_letter", None) or dead_letter)
                section.finish()
                if options.enabled:
                    channels.append(ConfiguredChannel(channel, options, freq))
        return cls(channels, default_frequency=default, state_path=state_path, guide_chars=guide_chars, clock=clock)

    @classmethod
    def from_vigil_config(cls, config: t.Any) -> "Notifiers":
        """From a loaded `vigil.config.Config`: its `outputs`, with errors located at the file's lines."""
        path: t.Optional[Path] = getattr(config, "path", None)
        line_of = None
        if path is not None:
            try:  # the config module's key → line index; only improves messages, so any failure is harmless
                from vigil.config import _KeyLines

                line_of = _KeyLines(path.read_text(encoding="utf-8")).line_of
            except (ImportError, OSError, UnicodeDecodeError):
                line_of = None
        return cls.from_config(getattr(config, "outputs", None) or {}, source=str(path) if path else None,
                               base_dir=path.resolve().parent if path else None, line_of=line_of)

    def select(self, names: t.Sequence[str]) -> "Notifiers":
        """Only the named channels (or kinds); an unknown name is a ConfigError listing the known ones."""
        known = {c.options.name for c in self.channels} | {c.channel.kind for c in self.channels}
        for name in names:
            if name not in known:
                raise ConfigError(f"no enabled output channel named {name!r}", Location(key="outputs"),
                                  hint=f"configured: {', '.join(sorted(known)) or 'none'}")
        chosen = [c for c in self.channels if c.options.name in names or c.channel.kind in names]
        return Notifiers(chosen, default_frequency=self.default_frequency, state_path=self.store.path,
                         guide_chars=self.guide_chars, clock=self.clock)

    def close(self) -> None:
        """Close kept-open connections (HTTP clients); the object stays usable and reconnects when needed."""
        for configured in self.channels:
            close = getattr(configured.channel, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> "Notifiers":
        return self

    def __exit__(self, *exc_info: t.Any) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------- notify
    def notify(self, alerts: t.Sequence[t.Mapping[str, t.Any]], rule: t.Any, *,
               use_throttle: bool = True) -> list[DeliveryResult]:
        """Deliver one rule run's new alerts to every channel; one result per channel that had alerts to consider.

        Building-block alerts (a sequence's parts) are not notified, as in Kibana; pass the shell and plain alerts.
        Call it also for runs without alerts (`[]`): `onActionGroupChange` needs to see the rule go quiet.
        """
        alerts = [dict(a) for a in alerts if get_path(a, "kibana.alert.group.index") is None]
        rule_id = str(getattr(rule, "rule_id", None) or (alerts and get_path(alerts[0], "kibana.alert.rule.rule_id"))
                      or "unknown")
        rule_freq = _rule_frequency(rule)
        now = self.clock()
        summary = rule_summary(rule, self.guide_chars)
        results: dict[str, DeliveryResult] = {}
        batches: dict[str, Batch] = {}
        with self._state(use_throttle) as state:
            for configured in self.channels:
                name = configured.options.name
                wanted = [a for a in alerts if configured.options.wants(a)]
                if alerts and not wanted:
                    results[name] = DeliveryResult(name, configured.channel.kind, "skipped", detail=(
                        f"no alert passes this channel's filters (min_severity {configured.options.min_severity})"))
                freq = configured.frequency or rule_freq or self.default_frequency or Frequency(ON_ACTIVE)
                if not use_throttle:
                    freq = Frequency(ON_ACTIVE)
                decision = state.decide(rule_id, name, freq, wanted, now)
                if decision.send:
                    batches[name] = Batch(summary, tuple(wanted), js_iso(now), decision.held_back)
                elif wanted:
                    results[name] = DeliveryResult(name, configured.channel.kind, "throttled", alerts=len(wanted),
                                                   detail=decision.reason)
        by_name = {c.options.name: c.channel for c in self.channels}
        if batches:
            with ThreadPoolExecutor(max_workers=min(8, len(batches)), thread_name_prefix="vigil-notify") as pool:
                futures = {name: pool.submit(by_name[name].send, batch) for name, batch in batches.items()}
                for name, future in futures.items():
                    results[name] = future.result()
            with self._state(use_throttle) as state:
                for name in batches:
                    state.settle(rule_id, name, results[name].ok)
        return [results[c.options.name] for c in self.channels if c.options.name in results]

    def _state(self, persistent: bool) -> t.ContextManager[ThrottleState]:
        # without throttling (`vigil notify test`) the state must stay untouched: a test is not a notification
        return self.store.locked() if persistent else nullcontext(ThrottleState({}))


def _frequency(section: Section, notify_when: t.Optional[str], throttle: t.Optional[str]) -> t.Optional[Frequency]:
    try:
        return frequency(notify_when, throttle)
    except ValueError as error:
        key = "notify_when" if notify_when == "onThrottleInterval" and not throttle else "throttle"
        raise section.error(str(error), key,
                            hint='e.g. notify_when = "onThrottleInterval" with throttle = "1h"') from None


def _channel_options(section: Section, default_name: str) -> tuple[ChannelOptions, t.Optional[Frequency]]:
    name = section.str("name", default_name)
    notify_when = section.choice("notify_when", ("onActiveAlert", "onThrottleInterval", "onActionGroupChange"), None)
    throttle = section.interval("throttle", None)
    options = ChannelOptions(
        name=name,
        enabled=section.bool("enabled", True),
        notify_when=notify_when,
        throttle=throttle,
        min_severity=section.choice("min_severity", SEVERITIES, "low"),
        rules=section.strings("rules", ()),
    )
    return options, _frequency(section, notify_when, throttle)


def _rule_frequency(rule: t.Any) -> t.Optional[Frequency]:
    """A rule's own legacy `notify_when` / `throttle`; an unusable pair is ignored (rule validation reports it)."""
    try:
        return frequency(getattr(rule, "notify_when", None), getattr(rule, "throttle", None))
    except ValueError:
        return None
