"""Validation of a rule document: every problem is a located `Diagnostic` (error, warning or note).

Errors make the rule unusable (missing or mistyped keys, bad ranges, bad date math, a query that does not parse, an
unknown rule type). Warnings never block a rule: unknown keys (kept verbatim) and query fields that no schema defines
(integration-specific fields are common and the shared schemas do not cover every integration).
"""

from __future__ import annotations

import functools
import re
import typing as t
from dataclasses import dataclass

from vigil.errors import EqlError, Location, RuleError, UnsupportedError, VigilError, caret_snippet
from vigil.rules import keyspec as ks
from vigil.rules.datemath import DateMathError, parse_datemath, parse_interval
from vigil.rules.schema import FieldSchema
from vigil.rules.toml_io import query_line_offset

try:  # The EQL parser is written in parallel; until it lands the query check is skipped (see `eql_available`).
    from vigil.eql import parse as _parse_eql
except Exception:  # pragma: no cover - a half-written parser module must not break rule loading
    _parse_eql = None

if _parse_eql is not None:
    # Trees are immutable, and the same query is checked again on every load, import and round trip.
    _parse_eql = functools.lru_cache(maxsize=4096)(_parse_eql)

_DATE = re.compile(r"^\d{4}/\d{2}/\d{2}$")


_EQL_PROBE: list[bool] = []


def eql_available() -> bool:
    """True when the EQL parser imports and parses a trivial query (so query errors will be reported)."""
    if not _EQL_PROBE:
        try:
            _EQL_PROBE.append(_parse_eql is not None and _parse_eql("any where true") is not None)
        except Exception:  # a parser mid-change in this tree: report "not checked" instead of failing
            _EQL_PROBE.append(False)
    return _EQL_PROBE[0]


@dataclass(frozen=True)
class Diagnostic:
    level: str  # "error" | "warning" | "note"
    error: VigilError

    def __str__(self) -> str:
        return f"{self.level}: {self.error}"


class _Checker:
    def __init__(self, document: t.Any, key_lines: t.Mapping[str, int], path: t.Optional[str], text: str):
        self.doc = document
        self.lines = key_lines
        self.path = path
        self.text = text
        self.out: list[Diagnostic] = []

    # ------------------------------------------------------------------------------------------------ helpers
    def loc(self, key: str, column: t.Optional[int] = None) -> Location:
        probe = key
        while probe:
            if probe in self.lines:
                return Location(self.path, self.lines[probe], column if probe == key else None, key)
            probe = probe[: probe.rindex("[")] if probe.endswith("]") else probe.rpartition(".")[0]
        return Location(self.path, key=key)

    def error(self, key: str, message: str, hint: t.Optional[str] = None, column: t.Optional[int] = None) -> None:
        self.out.append(Diagnostic("error", RuleError(message, self.loc(key, column), hint)))

    def warn(self, key: str, message: str, hint: t.Optional[str] = None) -> None:
        self.out.append(Diagnostic("warning", RuleError(message, self.loc(key), hint)))

    def value_column(self, key: str, value: str, inner: int) -> t.Optional[int]:
        """File column of character `inner` (1-based) of a one-line string `value` written at `key`'s line."""
        line = self.lines.get(key)
        if not line or not self.text:
            return None
        source = self.text.splitlines()[line - 1]
        at = source.find(value, source.find("=") + 1)
        return at + inner if at >= 0 else None

    def check_kind(self, key: str, value: t.Any, kind: str) -> bool:
        ok = {
            ks.STR: isinstance(value, str),
            ks.INT: isinstance(value, int) and not isinstance(value, bool),
            ks.BOOL: isinstance(value, bool),
            ks.LIST_STR: isinstance(value, list) and all(isinstance(v, str) for v in value),
            ks.LIST_TABLE: isinstance(value, list) and all(isinstance(v, dict) for v in value),
            ks.TABLE: isinstance(value, dict),
            ks.STR_OR_LIST: isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        }[kind]
        if not ok:
            self.error(key, f"expected {_article(kind)} {kind}, found {_describe(value)}")
        return ok

    # ------------------------------------------------------------------------------------------------- checks
    def run(self, schema: t.Optional[FieldSchema]) -> list[Diagnostic]:
        if not isinstance(self.doc, dict) or not isinstance(self.doc.get("rule"), dict):
            self.error("rule", "no [rule] table: a rule file needs [rule] (and usually [metadata])")
            return self.out
        for table in self.doc:
            if table not in ks.TOP_LEVEL_TABLES:
                self.warn(table, f"unknown top-level table [{table}] (kept, not used)")
        if "metadata" in self.doc:
            self.metadata(self.doc["metadata"])
        self.rule(self.doc["rule"], schema)
        self.settings_owned_elsewhere(self.doc["rule"])
        return self.out

    def settings_owned_elsewhere(self, rule: dict[str, t.Any]) -> None:
        """Settings whose meaning lives in the module that runs them: check them now, with the same locations,
        so a bad setting is reported when the rule is validated rather than when it first runs."""
        if "alert_suppression" in rule:
            from vigil.alerts.suppression import parse_suppression

            try:
                parse_suppression(rule["alert_suppression"], lambda key: self.loc(key))
            except RuleError as error:
                self.out.append(Diagnostic("error", error))
        if rule.get("response_actions"):
            from types import SimpleNamespace

            from vigil.response.actions import parse_response_actions

            view = SimpleNamespace(response_actions=rule["response_actions"], location_of=self.loc)
            for problem in parse_response_actions(view)[1]:
                self.out.append(Diagnostic("error", problem))

    def metadata(self, meta: t.Any) -> None:
        if not self.check_kind("metadata", meta, ks.TABLE):
            return
        for key, value in meta.items():
            kind = ks.METADATA_KEYS.get(key)
            if kind is None:
                self.warn(f"metadata.{key}", f"unknown metadata key {key!r} (kept, not used)")
            elif self.check_kind(f"metadata.{key}", value, kind) and key.endswith("_date") and not _DATE.match(value):
                self.error(f"metadata.{key}", f"{key} must be written YYYY/MM/DD, found {value!r}")
        maturity = meta.get("maturity")
        if isinstance(maturity, str) and maturity not in ks.MATURITIES:
            self.error("metadata.maturity", f"unknown maturity {maturity!r} (one of {', '.join(ks.MATURITIES)})")

    def rule(self, rule: dict[str, t.Any], schema: t.Optional[FieldSchema]) -> None:
        typed_ok: dict[str, bool] = {}
        for key, value in rule.items():
            kind = ks.RULE_KEYS.get(key)
            if kind is not None:
                typed_ok[key] = self.check_kind(f"rule.{key}", value, kind)
            elif key not in ks.KIBANA_SERVER_KEYS:
                self.warn(f"rule.{key}", f"unknown rule key {key!r} (kept verbatim, not used by vigil)")
        rule_type = rule.get("type")
        if rule_type is None:
            self.error("rule", "missing required key 'type' (e.g. type = \"eql\")")
            return
        if not typed_ok.get("type", False):
            return
        if rule_type not in ks.KNOWN_TYPES:
            self.out.append(
                Diagnostic(
                    "error",
                    UnsupportedError(
                        f"unsupported rule type {rule_type!r}",
                        self.loc("rule.type"),
                        hint=f"known types: {', '.join(ks.KNOWN_TYPES)}",
                    ),
                )
            )
            return
        for key in ks.REQUIRED_ALWAYS + ks.REQUIRED_BY_TYPE.get(rule_type, ()):
            if key not in rule:
                self.error(f"rule.{key}", f"missing required key {key!r} for {_article(rule_type)} {rule_type} rule")
        self.values(rule, rule_type, typed_ok)
        self.threat(rule.get("threat") if typed_ok.get("threat") else None)
        if rule_type == "eql" and typed_ok.get("query"):
            self.eql_query(rule["query"], rule, schema)

    def values(self, rule: dict[str, t.Any], rule_type: str, ok: dict[str, bool]) -> None:
        if ok.get("severity") and rule["severity"] not in ks.SEVERITIES:
            self.error("rule.severity", f"severity {rule['severity']!r} is not one of {', '.join(ks.SEVERITIES)}")
        if ok.get("risk_score") and not 0 <= rule["risk_score"] <= 100:
            self.error("rule.risk_score", f"risk_score {rule['risk_score']} is outside 0..100")
        if ok.get("max_signals") and rule["max_signals"] < 1:
            self.error("rule.max_signals", f"max_signals must be at least 1, found {rule['max_signals']}")
        if ok.get("language") and rule["language"] not in ks.LANGUAGES[rule_type]:
            allowed = ", ".join(ks.LANGUAGES[rule_type]) or "none"
            found = rule["language"]
            kind = f"{_article(rule_type)} {rule_type} rule"
            self.error("rule.language", f"language {found!r} does not fit {kind} ({allowed})")
        if ok.get("building_block_type") and rule["building_block_type"] not in ks.BUILDING_BLOCK_TYPES:
            self.error("rule.building_block_type", "building_block_type must be \"default\"")
        if ok.get("rule_id") and not rule["rule_id"].strip():
            self.error("rule.rule_id", "rule_id is empty")
        for key in ("from", "to"):
            if ok.get(key):
                self.datemath(f"rule.{key}", rule[key], parse_datemath)
        if ok.get("interval"):
            self.datemath("rule.interval", rule["interval"], parse_interval)
        new_terms = rule.get("new_terms") if ok.get("new_terms") else None
        for i, window in enumerate((new_terms or {}).get("history_window_start") or ()):
            if isinstance(window, dict) and isinstance(window.get("value"), str):
                key = f"rule.new_terms.history_window_start[{i}].value"
                self.datemath(key, window["value"], parse_datemath)

    def datemath(self, key: str, value: str, parse: t.Callable[[str], t.Any]) -> None:
        try:
            parse(value)
        except DateMathError as error:
            column = self.value_column(key, value, error.column)
            what = "interval" if parse is parse_interval else "date math"
            caret = caret_snippet(value, 1, error.column)
            self.error(key, f"invalid {what} {value!r}: {error.message}\n{caret}", column=column)

    def threat(self, entries: t.Optional[list[dict[str, t.Any]]]) -> None:
        for i, entry in enumerate(entries or ()):
            base = f"rule.threat[{i}]"
            for key in entry:
                if key not in ks.THREAT_KEYS:
                    self.warn(f"{base}.{key}", f"unknown threat key {key!r}")
            if not isinstance(entry.get("framework"), str):
                self.error(base, "threat entry needs framework = \"MITRE ATT&CK\" (or another framework name)")
            tactic = entry.get("tactic")
            if not isinstance(tactic, dict):
                self.error(base, "threat entry needs a [rule.threat.tactic] table with id, name, reference")
            else:
                for key in ("id", "name", "reference"):
                    if not isinstance(tactic.get(key), str):
                        self.error(f"{base}.tactic.{key}", f"tactic needs a string {key!r}")
            techniques = entry.get("technique", [])
            if not isinstance(techniques, list) or not all(isinstance(x, dict) for x in techniques):
                self.error(f"{base}.technique", "technique must be a list of tables ([[rule.threat.technique]])")
                continue
            for j, tech in enumerate(techniques):
                for key in ("id", "name", "reference"):
                    if not isinstance(tech.get(key), str):
                        self.error(f"{base}.technique[{j}].{key}", f"technique needs a string {key!r}")

    def eql_query(self, query: str, rule: dict[str, t.Any], schema: t.Optional[FieldSchema]) -> None:
        if _parse_eql is None:
            return
        try:
            tree = _parse_eql(query)
        except EqlError as error:
            self.error_in_query(query, error)
            return
        except ImportError:  # the EQL package is mid-change in this tree: skip the check, do not fail the rule
            return
        except Exception as error:  # a parser bug must not hide the rule; say so loudly instead
            self.warn("rule.query", f"query not checked: internal error in the EQL parser (a vigil bug): {error!r}")
            return
        if schema is None:
            return
        from vigil.eql import ast

        fields = sorted({f.name for f in tree.find_all(ast.Field)})
        for key in ("timestamp_override", "event_category_override", "tiebreaker_field", "timestamp_field"):
            if isinstance(rule.get(key), str):
                fields.append(rule[key])
        unknown = [f for f in dict.fromkeys(fields) if not schema.has(f)]
        if unknown:
            self.warn(
                "rule.query",
                f"field{'s' if len(unknown) > 1 else ''} not in the loaded schemas: {', '.join(unknown)}",
                hint=f"schemas read: {', '.join(schema.sources)}; integration-specific fields may be missing there",
            )

    def error_in_query(self, query: str, error: EqlError) -> None:
        key_line = self.lines.get("rule.query")
        line = column = None
        if key_line and error.line is not None:
            first = query_line_offset(self.text, key_line) if self.text else key_line
            line = first + error.line
            column = error.column
            if first == key_line - 1 and error.line == 1 and column is not None:
                column = self.value_column("rule.query", query.splitlines()[0] if query else "", column)
        where = f"query line {error.line}:{error.column}: " if error.line is not None else ""
        snippet = ""
        if error.line is not None and error.column is not None:
            snippet = "\n" + caret_snippet(query, error.line, error.column, error.width)
        located = RuleError(
            f"EQL {where}{error.message}{snippet}", Location(self.path, line, column, "rule.query"), error.hint
        )
        self.out.append(Diagnostic("error", located))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _describe(value: t.Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, list):
        return "a list" + ("" if not value else f" holding {type(value[0]).__name__}")
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def validate_document(
    document: t.Any,
    key_lines: t.Optional[t.Mapping[str, int]] = None,
    path: t.Optional[str] = None,
    text: str = "",
    schema: t.Optional[FieldSchema] = None,
) -> list[Diagnostic]:
    """Every problem in one rule document, in file order of discovery. Never raises for bad input."""
    return _Checker(document, key_lines or {}, path, text).run(schema)
