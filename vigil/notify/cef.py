"""ArcSight Common Event Format (CEF) lines for alerts, and a channel appending them to a file.

    CEF:0|vigil|vigil|<version>|<rule_id>|<rule name>|<severity 0-10>|<key=value extension>

Escaping (CEF spec, "Character Encoding"): in the header `\\` and `|` are backslash-escaped; in extension values
`\\` and `=` are, and line breaks become `\\n` / `\\r`; a header cannot hold a line break, so it becomes a space.
The same line is the message of the syslog channel when its `format = "cef"`.
"""

from __future__ import annotations

import ipaddress
import typing as t
from pathlib import Path

from vigil import __version__
from vigil.alerts.times import parse_time
from vigil.notify.appendfile import FileChannel
from vigil.notify.base import ChannelOptions, alert_facts
from vigil.notify.section import Section

VENDOR = "vigil"
PRODUCT = "vigil"
_SEVERITY_FALLBACK = {"low": 3, "medium": 5, "high": 8, "critical": 10}


def escape_header(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def escape_extension(value: t.Any) -> str:
    text = "" if value is None else str(value)
    return (text.replace("\\", "\\\\").replace("=", "\\=").replace("\r\n", "\\n")
            .replace("\n", "\\n").replace("\r", "\\r"))


def cef_severity(risk_score: t.Any, severity: t.Any) -> int:
    """0-10: the risk score / 10 (47 → 5, medium), else from the severity word; CEF reads 0-3 low … 9-10 very high."""
    if isinstance(risk_score, (int, float)) and not isinstance(risk_score, bool):
        return max(0, min(10, int(risk_score / 10 + 0.5)))
    return _SEVERITY_FALLBACK.get(severity, 5)


def _epoch_ms(value: t.Any) -> t.Optional[int]:
    moment = parse_time(value)
    return int(moment.timestamp() * 1000) if moment else None


def _ipv4(value: t.Any) -> t.Optional[str]:
    try:
        return str(value) if value and ipaddress.ip_address(str(value)).version == 4 else None
    except ValueError:
        return None


def format_alert(alert: t.Mapping[str, t.Any]) -> str:
    """One alert as one CEF line (no trailing newline)."""
    fact = alert_facts(alert)
    header = [
        "CEF:0", escape_header(VENDOR), escape_header(PRODUCT), escape_header(__version__),
        escape_header(fact["rule_id"]), escape_header(fact["rule"]),
        str(cef_severity(fact["risk_score"], fact["severity"])),
    ]
    pairs: list[tuple[str, t.Any]] = [
        ("rt", _epoch_ms(fact["created"])),
        ("start", _epoch_ms(fact["time"])),
        ("externalId", fact["id"]),
        ("act", fact["action"]),
        ("dvchost", fact["host"]),
        ("dvc", _ipv4(fact["host_ip"])),
        ("duser", fact["user"]),
        ("dproc", fact["process"]),
        ("dpid", fact["pid"]),
        ("filePath", fact["executable"]),
        ("msg", fact["reason"]),
        ("cs1Label", "ruleId"), ("cs1", fact["rule_id"]),
        ("cs2Label", "commandLine"), ("cs2", fact["command_line"]),
        ("cs3Label", "parentProcess"), ("cs3", fact["parent"]),
        ("cn1Label", "riskScore"), ("cn1", fact["risk_score"]),
        ("cs4Label", "severity"), ("cs4", fact["severity"]),
    ]
    # a label without its value is noise: drop csN/cnN pairs whose value is missing
    present = {key for key, value in pairs if value is not None}
    extension = " ".join(
        f"{key}={escape_extension(value)}"
        for key, value in pairs
        if value is not None and not (key.endswith("Label") and key[:-5] not in present)
    )
    return "|".join(header) + "|" + extension


def _line(alert: t.Mapping[str, t.Any]) -> bytes:
    return format_alert(alert).encode("utf-8")


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> FileChannel:
    return FileChannel(options, section.path("path"), dead_letter, kind="cef", format_line=_line,
                       fsync=section.bool("fsync", True))
