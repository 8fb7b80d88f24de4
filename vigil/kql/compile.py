"""KQL -> vigil's EQL syntax tree, with the meaning Kibana's detection engine gives KQL in Elasticsearch.

    compile_kql(text, *, field_types=None) -> ast.Expr      a condition for `vigil.engine.compiler.compile_predicate`
    kql_query(text, *, field_types=None) -> ast.Query       the same as `any where <condition>`, for compile_query

How each KQL form runs in Kibana (kbn-es-query `functions/is.ts`, `range.ts`, `exists.ts`, `not.ts`, with the
detection engine's field-less index pattern) and the EQL node that has the same meaning under
`vigil.eql.semantics` (query context: any value of a multi-valued field may match; negation is `must_not`):

| KQL                      | Elasticsearch query                   | EQL node                                          |
|--------------------------|---------------------------------------|---------------------------------------------------|
| `f:v`, `f:"v"`           | match / match_phrase                  | `f == "v"` (keyword: exact, case-sensitive)       |
| `f:v*x`                  | query_string `v*x` (`*` only)         | `f like "v*x"`; `regex` if v holds a literal ? or *|
| `f:a b*` (inner space)   | query_string splits on whitespace: OR | `f == "a" or f like "b*"`                         |
| `f:*`                    | exists                                | `f != null`                                       |
| `f:true`                 | match true                            | `f == true`                                       |
| `f < v` ...              | range                                 | `f < "v"` (dates: instants, rounded as ES does)   |
| `not q`                  | bool must_not                         | `not q` (matches documents without the field)     |
| `ipfield:10.0.0.0/8`     | term on an ip field (CIDR aware)      | `cidrMatch(f, "10.0.0.0/8")`                      |
| `message:word`           | match on analysed text                | `f regex~ "(.*\\W)?word(\\W.*)?"` (see `text.py`) |
| `p:{ q }`                | nested                                | q with every field prefixed by `p.`               |

Errors are located (line:column, caret): KqlUnsupportedError for valid KQL vigil does not run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import typing as t

from vigil.eql import ast
from vigil.kql import text as analysed
from vigil.kql import tree
from vigil.kql.errors import KqlUnsupportedError
from vigil.kql.fields import DATE, IP, TEXT, resolve_field
from vigil.kql.parser import parse_kql

__all__ = ["compile_kql", "kql_query", "compile_tree"]

FieldTypes = t.Optional[t.Mapping[str, str]]

# query_string (Lucene classic parser) splits terms on these; Kibana escapes everything else but not whitespace.
_QUERY_STRING_SPACE = re.compile("[ \t\n\r\u3000]+")
_QUERY_STRING_OPERATORS = frozenset({"AND", "OR", "NOT"})


def compile_kql(text: str, *, field_types: FieldTypes = None) -> ast.Expr:
    """The EQL condition equivalent to the KQL query `text` (see the table in the module docstring)."""
    return compile_tree(parse_kql(text), text, field_types=field_types)


def kql_query(text: str, *, field_types: FieldTypes = None) -> ast.Query:
    """`any where <compile_kql(text)>`: a whole query for `vigil.engine.compile_query` (KQL has no category)."""
    condition = compile_kql(text, field_types=field_types)
    return ast.Query(body=ast.EventQuery(category=None, condition=condition, pos=(1, 1)), pos=(1, 1))


def compile_tree(node: tree.Node, text: str = "", *, field_types: FieldTypes = None) -> ast.Expr:
    """Compile an already parsed KQL tree; `text` is only used to show errors with a caret."""
    return _Compiler(text, field_types).node(node, "")


class _Compiler:
    def __init__(self, text: str, field_types: FieldTypes):
        self.text = text
        self.field_types = field_types

    def fail(self, message: str, at: t.Optional[tree.Value | tree.Node], hint: t.Optional[str] = None) -> t.NoReturn:
        pos = getattr(at, "pos", None) or (None, None)
        width = len(at.text) if isinstance(at, tree.Value) else 1
        raise KqlUnsupportedError(message, self.text, pos[0], pos[1], hint=hint, width=max(1, min(width, 40)))

    # ---- structure
    def node(self, node: tree.Node, prefix: str) -> ast.Expr:
        if isinstance(node, tree.Is):
            return self.is_(node, prefix)
        if isinstance(node, tree.Range):
            return self.range(node, prefix)
        if isinstance(node, tree.And):
            return ast.And(tuple(self.node(o, prefix) for o in node.operands), pos=node.pos)
        if isinstance(node, tree.Or):
            return _or(tuple(self.node(o, prefix) for o in node.operands), node.pos)
        if isinstance(node, tree.Not):
            return ast.Not(self.node(node.operand, prefix), pos=node.pos)
        if isinstance(node, tree.Nested):
            # ES `nested` needs a nested mapping and matches when ONE object satisfies the whole sub-query; JSON
            # documents carry no mapping, so the sub-query's fields are read under the path (object semantics).
            path = self.field_name(node.path, prefix)
            return self.node(node.query, path + ".")
        if isinstance(node, tree.MatchAll):
            return ast.Literal(True, pos=node.pos)
        raise TypeError(f"not a KQL node: {node!r}")  # pragma: no cover

    def field_name(self, field: tree.Value, prefix: str) -> str:
        if field.has_wildcard:
            self.fail(f"wildcard field names are not supported: `{field.text}`", field,
                      hint="name each field: `process.name:x or process.parent.name:x`")
        return prefix + field.text

    # ---- field:value
    def is_(self, node: tree.Is, prefix: str) -> ast.Expr:
        value = node.value
        if node.field is None or node.field.constant is None:  # `null:x` is free text to Kibana too
            if value.is_lone_wildcard:
                return ast.Literal(True, pos=node.pos)  # `*` alone: match_all
            self.fail(f"a value without a field (`{value.text}`) searches every field; vigil needs a field name",
                      value, hint="write field:value, e.g. process.name:nping")
        if node.field.is_lone_wildcard and value.is_lone_wildcard:
            return ast.Literal(True, pos=node.pos)  # `*:*`
        name, kind = resolve_field(self.field_name(node.field, prefix), self.field_types)
        field = ast.Field(name, pos=node.pos)
        if value.is_lone_wildcard:
            return ast.Comparison("!=", field, ast.Literal(None), pos=node.pos)  # exists
        if value.constant is None:
            self.fail("`null` is not a value: Elasticsearch rejects a match query for null", value,
                      hint=f"test absence with `not {name}:*`, or quote it to match the text: \"null\"")
        if value.constant is not ...:
            return ast.Comparison("==", field, ast.Literal(value.constant), pos=node.pos)
        if value.has_wildcard:
            return self.query_string(field, kind, value)
        return self.match(field, kind, value, value.text)

    def match(self, field: ast.Field, kind: str, value: tree.Value, text: str) -> ast.Expr:
        """A `match` (or quoted: `match_phrase`) query for text without wildcards."""
        pos = field.pos
        if kind == IP:
            return self.ip_term(field, value, text)
        if kind == TEXT:
            tokens = analysed.words(text)
            if not tokens:
                return ast.Literal(False, pos=pos)  # no words to look for: Elasticsearch matches nothing
            pattern = analysed.phrase_pattern(tokens) if value.quoted else analysed.any_word_pattern(tokens)
            return ast.Match("regex~", field, (ast.Literal(pattern),), pos=pos)
        if kind == DATE:
            return self.date_term(field, value, text)
        return ast.Comparison("==", field, ast.Literal(text), pos=pos)

    def query_string(self, field: ast.Field, kind: str, value: tree.Value) -> ast.Expr:
        """An unquoted value with `*`: Kibana sends `query_string` with everything but `*` escaped, except
        whitespace, so the Lucene parser reads one term per whitespace-separated piece, OR-ed."""
        if kind in (IP, DATE):
            self.fail(f"Elasticsearch rejects wildcard values on the {kind} field `{field.name}`", value,
                      hint="list the exact values, or use a range (field >= a and field <= b)")
        terms = _split_terms(value.parts)
        return _or(tuple(self.query_string_term(field, kind, value, term) for term in terms), field.pos)

    def query_string_term(self, field: ast.Field, kind: str, value: tree.Value, term: list[tree.Part]) -> ast.Expr:
        pos = field.pos
        if term == [tree.WILDCARD]:
            return ast.Comparison("!=", field, ast.Literal(None), pos=pos)  # `f:*` in query_string is exists
        if tree.WILDCARD not in term:
            word = "".join(t.cast(str, p) for p in term)
            if word in _QUERY_STRING_OPERATORS:
                self.fail(f"`{word}` inside a wildcard value is an operator to Elasticsearch's query_string", value,
                          hint="quote the value or remove the word")
            return self.match(field, kind, value, word)
        if kind == TEXT:
            return ast.Match("regex~", field, (ast.Literal(analysed.wildcard_word_pattern(term)),), pos=pos)
        literal_text = "".join(p for p in term if isinstance(p, str))
        if "*" in literal_text or "?" in literal_text:
            # EQL `like` has no escape for a literal * or ?: spell the pattern as a Lucene regexp instead.
            regex = "".join(".*" if p is tree.WILDCARD else analysed.escape(t.cast(str, p)) for p in term)
            return ast.Match("regex", field, (ast.Literal(regex),), pos=pos)
        pattern = "".join("*" if p is tree.WILDCARD else t.cast(str, p) for p in term)
        return ast.Match("like", field, (ast.Literal(pattern),), pos=pos)

    def ip_term(self, field: ast.Field, value: tree.Value, text: str) -> ast.Expr:
        """A term query on an ip field: an address, or a CIDR block that matches every address inside it."""
        try:
            if "/" in text:
                ipaddress.ip_network(text, strict=False)
            else:
                ipaddress.ip_address(text)
        except ValueError:
            self.fail(f"`{text}` is not an IP address or CIDR block; Elasticsearch rejects it on the ip field "
                      f"`{field.name}`", value, hint="write e.g. 10.0.0.0/8 or \"::1\"")
        return ast.FunctionCall("cidrMatch", (field, ast.Literal(text)), pos=field.pos)

    def date_term(self, field: ast.Field, value: tree.Value, text: str) -> ast.Expr:
        """A term query on a date field is the range [value rounded down, value rounded up] (ES
        `DateFieldType.termQuery`): `@timestamp:"2024-05-01"` matches the whole day."""
        low, high = _date_bound(text, False, value, self), _date_bound(text, True, value, self)
        if low == high:
            return ast.Comparison("==", field, ast.Literal(low), pos=field.pos)
        return ast.And((ast.Comparison(">=", field, ast.Literal(low), pos=field.pos),
                        ast.Comparison("<=", field, ast.Literal(high), pos=field.pos)), pos=field.pos)

    # ---- ranges
    def range(self, node: tree.Range, prefix: str) -> ast.Expr:
        name, kind = resolve_field(self.field_name(node.field, prefix), self.field_types)
        field = ast.Field(name, pos=node.pos)
        value = node.value
        if value.constant is None:
            self.fail("`null` is not a range bound", value)
        bound: t.Any = value.text if value.constant is ... else value.constant
        if kind == IP:
            self.fail(f"ranges on the ip field `{name}` are not supported", value,
                      hint=f"use a CIDR block: {name}:10.0.0.0/8")
        if kind == DATE and isinstance(bound, str):
            # ES rounds a partial date up for `>` and `<=` and down for `>=` and `<` (DateFieldType.rangeQuery).
            bound = _date_bound(bound, node.op in (">", "<="), value, self)
        return ast.Comparison(node.op, field, ast.Literal(bound), pos=node.pos)


def _or(operands: tuple[ast.Expr, ...], pos: tree.Pos) -> ast.Expr:
    """`or`, with the patterns of one field merged: `f like "a*" or f like "b*"` becomes `f like ("a*", "b*")`.

    Same meaning (in query context any value may match any pattern), but the evaluator reads the field once
    instead of once per pattern: value lists of 30-60 paths are common in the prebuilt rules."""
    merged: list[ast.Expr] = []
    slots: dict[tuple[str, str], int] = {}
    for operand in operands:
        if isinstance(operand, ast.Match) and isinstance(operand.value, ast.Field):
            key = (operand.kind, operand.value.name)
            if key in slots:
                first = t.cast(ast.Match, merged[slots[key]])
                merged[slots[key]] = ast.Match(first.kind, first.value, first.patterns + operand.patterns,
                                               list_form=True, pos=first.pos)
                continue
            slots[key] = len(merged)
        merged.append(operand)
    return merged[0] if len(merged) == 1 else ast.Or(tuple(merged), pos=pos)


def _split_terms(parts: t.Sequence[tree.Part]) -> list[list[tree.Part]]:
    terms: list[list[tree.Part]] = [[]]
    for part in parts:
        if part is tree.WILDCARD:
            terms[-1].append(part)
            continue
        pieces = _QUERY_STRING_SPACE.split(t.cast(str, part))
        for i, piece in enumerate(pieces):
            if i:
                terms.append([])
            if piece:
                terms[-1].append(piece)
    return [term for term in terms if term]


# ISO-8601 as `strict_date_optional_time` reads it, with the precision the text gives.
_ISO_DATE = re.compile(
    r"(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T(?P<h>\d{2})(?::(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?)?"
    r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?"
)


def _date_bound(text: str, round_up: bool, value: tree.Value, compiler: _Compiler) -> str:
    """The instant a date string denotes, as ISO text vigil's semantics read; with `round_up`, the last
    millisecond of the period the text leaves open (`2024-05` rounds up to 2024-05-31T23:59:59.999)."""
    if text.startswith("now") or "||" in text:
        compiler.fail(f"date math (`{text}`) is not supported in KQL rules run by vigil", value,
                      hint="write an absolute date, e.g. 2024-05-01T00:00:00Z")
    m = _ISO_DATE.fullmatch(text)  # tried first, as ES does: "2024" is a year, not 2024 ms after the epoch
    if m is None and re.fullmatch(r"-?\d+", text):
        return text  # epoch milliseconds
    if m is None:
        compiler.fail(f"`{text}` is not a date Elasticsearch reads (strict_date_optional_time or epoch_millis)",
                      value, hint="write e.g. 2024-05-01T12:00:00Z")
    date = m["date"]
    year, month, day = (date.split("-") + ["01", "01"])[:3]
    zone = m["zone"] or "Z"
    start = dt.datetime(int(year), int(month), int(day), int(m["h"] or 0), int(m["m"] or 0), int(m["s"] or 0),
                        int((m["f"] or "0").ljust(6, "0")[:6]))
    if round_up and not (m["f"] and len(m["f"]) >= 3):
        if m["s"] is not None:
            end = start + dt.timedelta(seconds=1)
        elif m["m"] is not None:
            end = start + dt.timedelta(minutes=1)
        elif m["h"] is not None:
            end = start + dt.timedelta(hours=1)
        elif date.count("-") == 2:
            end = start + dt.timedelta(days=1)
        elif date.count("-") == 1:
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            end = start.replace(year=start.year + 1)
        if m["f"]:  # fewer than 3 fraction digits: the rest of that fraction
            end = start + dt.timedelta(milliseconds=10 ** (3 - len(m["f"])))
        start = end - dt.timedelta(milliseconds=1)
    out = start.strftime("%Y-%m-%dT%H:%M:%S") + f".{start.microsecond // 1000:03d}"
    return out + zone
