"""Loading rules from detection-rules TOML files, directories of them, and Kibana export NDJSON.

Every problem is a located `Diagnostic`; a bad file never stops the others from loading (`collect_errors=True`).
`load_rule_file` is the strict single-file form: it raises the first error.
"""

from __future__ import annotations

import collections
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import Location, RuleError, VigilError
from vigil.rules.model import Rule
from vigil.rules.ndjson_io import from_api, read_ndjson_export
from vigil.rules.schema import FieldSchema
from vigil.rules.toml_io import parse_toml, read_text
from vigil.rules.validate import Diagnostic, validate_document

NDJSON_SUFFIXES = (".ndjson", ".jsonl")


@dataclass
class LoadResult:
    """Rules that loaded, and every diagnostic (errors of rules that did not load, warnings of those that did)."""

    rules: list[Rule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "warning"]

    def counts_by_type(self) -> dict[str, int]:
        return dict(collections.Counter(r.type for r in self.rules).most_common())

    def extend(self, other: "LoadResult") -> None:
        self.rules.extend(other.rules)
        self.diagnostics.extend(other.diagnostics)
        self.files += other.files


def check_rule_text(
    text: str, path: t.Optional[str] = None, schema: t.Optional[FieldSchema] = None, source: str = "file"
) -> tuple[t.Optional[Rule], list[Diagnostic]]:
    """Parse and validate TOML text: (the rule or None when it has errors, all diagnostics)."""
    try:
        data, lines = parse_toml(text, path)
    except VigilError as error:
        return None, [Diagnostic("error", error)]
    diagnostics = validate_document(data, lines, path, text, schema)
    if any(d.level == "error" for d in diagnostics):
        return None, diagnostics
    return Rule.from_document(data, location=path, key_lines=lines, source=source), diagnostics


def check_rule_file(
    path: Path, schema: t.Optional[FieldSchema] = None, source: str = "file"
) -> tuple[t.Optional[Rule], list[Diagnostic]]:
    try:
        text = read_text(path)
    except VigilError as error:
        return None, [Diagnostic("error", error)]
    return check_rule_text(text, str(path), schema, source)


def load_rule_file(path: t.Union[str, Path], schema: t.Optional[FieldSchema] = None, source: str = "file") -> Rule:
    """Load one TOML rule; the first error is raised (RuleError, UnsupportedError). Warnings are ignored."""
    rule, diagnostics = check_rule_file(Path(path), schema, source)
    if rule is None:
        raise next(d.error for d in diagnostics if d.level == "error")
    return rule


def load_rule_dir(
    path: t.Union[str, Path],
    collect_errors: bool = True,
    schema: t.Optional[FieldSchema] = None,
    source: str = "file",
) -> LoadResult:
    """Load every `*.toml` under `path` (recursively, sorted). With collect_errors=False the first error raises."""
    root = Path(path)
    if not root.is_dir():
        raise RuleError("not a directory", Location(path=str(root)))
    result = LoadResult()
    seen: dict[str, Rule] = {}
    for file in sorted(root.rglob("*.toml")):
        rule, diagnostics = check_rule_file(file, schema, source)
        result.files += 1
        if rule is not None and rule.rule_id in seen:
            first = seen[rule.rule_id]
            diagnostics.append(
                Diagnostic(
                    "error",
                    RuleError(
                        f"duplicate rule_id, already defined in {first.location}", rule.location_of("rule.rule_id")
                    ),
                )
            )
            rule = None
        if not collect_errors:
            for d in diagnostics:
                if d.level == "error":
                    raise d.error
        result.diagnostics.extend(diagnostics)
        if rule is not None:
            seen[rule.rule_id] = rule
            result.rules.append(rule)
    return result


def load_ndjson(path: t.Union[str, Path], schema: t.Optional[FieldSchema] = None, source: str = "ndjson") -> LoadResult:
    """Load the rules of a Kibana export NDJSON file. Errors point at `file:line` of the rule's object."""
    file = Path(path)
    export = read_ndjson_export(file)
    result = LoadResult(files=1)
    result.diagnostics.extend(Diagnostic("error", e) for e in export.errors)
    for number, obj in export.other:
        result.diagnostics.append(
            Diagnostic("warning", RuleError("object is neither a rule nor a known Kibana export object; skipped",
                                            Location(path=str(file), line=number)))
        )
    skipped = len(export.exception_lists) + len(export.exception_items) + len(export.connectors)
    if skipped:
        result.diagnostics.append(
            Diagnostic("warning", RuleError(
                f"{len(export.exception_lists)} exception list(s), {len(export.exception_items)} exception item(s) and "
                f"{len(export.connectors)} connector(s) in the export are not rules and were not loaded",
                Location(path=str(file)),
            ))
        )
    for number, obj in export.rules:
        document = from_api(obj)
        # Every key of a one-line JSON object lives on that line.
        lines = {"rule": number, **({"metadata": number} if "metadata" in document else {})}
        diagnostics = validate_document(document, lines, str(file), "", schema)
        result.diagnostics.extend(diagnostics)
        if not any(d.level == "error" for d in diagnostics):
            result.rules.append(Rule.from_document(document, location=str(file), key_lines=lines, source=source))
    return result


def load_rules(
    path: t.Union[str, Path], schema: t.Optional[FieldSchema] = None, source: str = "file"
) -> LoadResult:
    """Load a TOML file, a directory of TOML files, or a Kibana export (`.ndjson`), collecting every error."""
    target = Path(path)
    if target.is_dir():
        return load_rule_dir(target, schema=schema, source=source)
    if not target.exists():
        raise RuleError("no such file or directory", Location(path=str(target)))
    if target.suffix in NDJSON_SUFFIXES:
        return load_ndjson(target, schema, source="ndjson" if source == "file" else source)
    rule, diagnostics = check_rule_file(target, schema, source)
    return LoadResult(rules=[rule] if rule else [], diagnostics=diagnostics, files=1)
