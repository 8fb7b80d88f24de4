"""`kibana.alert.reason`: the one-sentence summary Kibana writes on every detection alert.

Reproduces `buildReasonMessageUtil` (kibana-engine.md §4.4, K16), including its quirks:

* a part appears only when its field has a usable value; "with" only when at least one of process, parent process,
  file, source, destination is present;
* a value is usable only if it has a non-zero `length` in JavaScript: a non-empty string or array. Numbers have no
  `length`, so a numeric `source.port` (the ECS norm) is *not* shown; a string port is. A lone "-" is not shown;
* arrays are joined with ", ";
* fields are read from the event `_source`, nested (`process.name` inside `process`) or as a flat dotted key.
"""

from __future__ import annotations

import typing as t

from vigil.alerts.ids import js_string

_MISSING = object()


def get_path(doc: t.Mapping[str, t.Any], path: str) -> t.Any:
    """lodash `get(doc, path)`: a flat dotted key at the top level wins, else walk the nested objects."""
    if path in doc:
        return doc[path]
    node: t.Any = doc
    for part in path.split("."):
        if not isinstance(node, t.Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _js_text(value: t.Any) -> str:
    """How JavaScript's `Array.prototype.join` prints one element (null prints as nothing, scalars as `String()`)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(_js_text(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return js_string(value)


def template_value(value: t.Any) -> t.Optional[str]:
    """`getFieldTemplateValue`: the text shown for a field, or None when the part is left out."""
    if isinstance(value, str):
        if not value or value == "-":
            return None
        return value
    if isinstance(value, list):
        if not value or (len(value) == 1 and value[0] == "-"):
            return None
        return ", ".join(_js_text(v) for v in value)
    # numbers, booleans, objects and null have no usable `length` in JavaScript
    return None


def build_reason(doc: t.Mapping[str, t.Any], rule_name: str, severity: str) -> str:
    """The reason sentence for an alert built from `doc` (the event `_source`, or a sequence's merged source)."""
    v = {name: template_value(get_path(doc, path)) for name, path in _FIELDS}
    of_interest = any(v[name] is not None for name in ("process", "parent", "file", "src", "sport", "dst", "dport"))
    out = ""
    if v["category"] is not None:
        out += f"{v['category']} "
    out += "event"
    if of_interest:
        out += " with"
    if v["process"] is not None:
        out += f" process {v['process']},"
    if v["parent"] is not None:
        out += f" parent process {v['parent']},"
    if v["file"] is not None:
        out += f" file {v['file']},"
    if v["src"] is not None:
        out += f" source {v['src']}"
    if v["sport"] is not None:
        out += f":{v['sport']},"
    if v["dst"] is not None:
        out += f" destination {v['dst']}"
    if v["dport"] is not None:
        out += f":{v['dport']},"
    if v["user"] is not None:
        out += f" by {v['user']}"
    if v["host"] is not None:
        out += f" on {v['host']}"
    return out + f" created {severity} alert {rule_name}."


_FIELDS = (
    ("category", "event.category"),
    ("process", "process.name"),
    ("parent", "process.parent.name"),
    ("file", "file.name"),
    ("src", "source.ip"),
    ("sport", "source.port"),
    ("dst", "destination.ip"),
    ("dport", "destination.port"),
    ("user", "user.name"),
    ("host", "host.name"),
)
