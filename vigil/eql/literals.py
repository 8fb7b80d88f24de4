"""Byte strings a raw NDJSON line must contain for a query to possibly match it: the fast path's prefilter.

`required_literals(query)` returns a formula in conjunctive normal form, an AND of clauses where each clause is an OR
of `Needle`s, or None when the query gives nothing usable. A line that satisfies the formula *may* match; a line that
does not *cannot* match, so a reader may skip it without parsing. The derivation is deliberately one-sided: whenever
a construct could match a document whose raw bytes lack a literal, it contributes nothing.

What contributes (each needle is the JSON-encoded text of the value, without the quotes):

* `field == "s"`, `field in ("a", "b")`: exact needles (case-sensitive);
* `field : "s"`, `in~`, `like~`, `regex~`, `startsWith~(...)`: case-insensitive needles (compared to the lowered line);
* wildcard patterns (`:`, `like`) contribute their longest fixed piece; regexes their longest plain run;
* `startsWith`, `endsWith`, `stringContains` on a field with a constant string;
* the event category (`process where ...`) as an exact needle;
* `and` unites the clauses of its operands; `or` distributes; `not`, `!=`, `<`, numbers, `null`, function results
  and comparisons between fields contribute nothing.

String constants that another representation of the same value could satisfy are dropped: numeric-looking strings
(`"4688"` may be stored as the number 4688 or 4.688e3), IP addresses (`::ffff:10.0.0.1` equals `10.0.0.1`), dates.

A JSON writer may spell any character differently (`\\u006e` for `n`, `\\/` for `/`), and Unicode case folding maps
some non-ASCII characters onto ASCII letters (`ſ` upper-cases to `S`, the Kelvin sign `K` lower-cases to `k`). So
each needle also carries *triggers*: byte strings whose presence means "this line might spell the needle another way;
parse it". `Needle.found_in(line)` and `RequiredLiterals.may_match(line)` apply them.

The formula is only valid over the documents the query sees: a reader that normalizes records (vendor formats mapped
to ECS) must not prefilter raw lines with it.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass

import orjson

from vigil.eql import ast

# Non-ASCII characters whose lower/upper/case-folded forms contain ASCII letters, keyed by UTF-8 bytes, with the
# letters they can stand for. tests/test_literals.py recomputes this table from unicodedata to keep it honest.
UNICODE_FOLD_TRIGGERS: dict[bytes, str] = {
    "ß".encode(): "s", "İ".encode(): "i", "ı".encode(): "i", "ŉ".encode(): "n", "ſ".encode(): "s",
    "ǰ".encode(): "j", "ẖ".encode(): "h", "ẗ".encode(): "t", "ẘ".encode(): "w", "ẙ".encode(): "y",
    "ẚ".encode(): "a", "ẞ".encode(): "s", "\u212a".encode(): "k", "ﬀ".encode(): "f", "ﬁ".encode(): "fi",
    "ﬂ".encode(): "fl", "ﬃ".encode(): "fi", "ﬄ".encode(): "fl", "ﬅ".encode(): "st", "ﬆ".encode(): "st",
}

# Any `\uXXXX` escape can stand for any character of a needle.
ESCAPE_TRIGGER = b"\\u"
SLASH_TRIGGER = b"\\/"

# Tokens found in nearly every ECS document (keys and the most common values): needles made of them select little.
_COMMON_TEXT = (
    "process event host agent user name type action category kind dataset module created ingested executable args "
    "args_count command_line pid entity_id parent working_directory exit_code ecs version data_stream namespace "
    "endpoint linux windows macos ubuntu debian x86_64 architecture family platform start end exec fork info change "
    "creation deletion network file connection protocol session authentication success failure true false logs "
    "events default timestamp source destination address port transport"
)
_COMMON_WORDS = frozenset(_COMMON_TEXT.split())

_SELECTIVE_FUNCTIONS = {"startswith", "endswith", "stringcontains"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}")
_MAX_CLAUSES_PER_OPERAND = 4


@dataclass(frozen=True, slots=True)
class Needle:
    """A byte string a line must contain. `text` is JSON-encoded (no quotes); lowered when `case_insensitive`."""

    text: bytes
    case_insensitive: bool = False

    @property
    def triggers(self) -> tuple[bytes, ...]:
        """Byte strings that, when present, mean the line might spell this needle differently: parse it anyway."""
        out = [ESCAPE_TRIGGER]
        if b"/" in self.text:
            out.append(SLASH_TRIGGER)
        if self.case_insensitive:
            letters = set(self.text.decode("ascii", "ignore"))
            out.extend(raw for raw, folds in UNICODE_FOLD_TRIGGERS.items() if letters & set(folds))
        return tuple(out)

    def found_in(self, line: bytes, lowered: t.Optional[bytes] = None) -> bool:
        """True when `line` contains the needle or one of its triggers (`lowered` = `line.lower()`, if at hand)."""
        if self.case_insensitive:
            hay = lowered if lowered is not None else line.lower()
            if self.text in hay:
                return True
        elif self.text in line:
            return True
        return any(trigger in line for trigger in self.triggers)

    @property
    def score(self) -> float:
        """How selective the needle looks: longer is rarer; tokens common in ECS documents count for little."""
        word = self.text.decode("utf-8", "replace").lower()
        score = float(len(self.text))
        if word in _COMMON_WORDS or any(word in common for common in _COMMON_WORDS):
            score /= 4
        return score - (0.5 if self.case_insensitive else 0.0)

    def __str__(self) -> str:
        return self.text.decode("utf-8", "replace") + ("  (case-insensitive)" if self.case_insensitive else "")


Clause = t.Tuple[Needle, ...]


@dataclass(frozen=True, slots=True)
class RequiredLiterals:
    """An AND of clauses, each an OR of needles. Never empty (a query with no usable needle gives None)."""

    clauses: tuple[Clause, ...]

    def best_clause(self) -> Clause:
        """The clause most likely to reject lines: its weakest needle scores highest, fewer needles break ties."""
        return max(self.clauses, key=_clause_score)

    def best_score(self) -> float:
        return _clause_score(self.best_clause())

    def may_match(self, line: bytes) -> bool:
        """False only when no document this line could hold can match the query."""
        lowered = line.lower() if any(n.case_insensitive for c in self.clauses for n in c) else None
        return all(any(n.found_in(line, lowered) for n in clause) for clause in self.clauses)

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "clauses": [
                [{"text": n.text.decode("utf-8", "replace"), "case_insensitive": n.case_insensitive} for n in c]
                for c in self.clauses
            ],
            "best": [n.text.decode("utf-8", "replace") for n in self.best_clause()],
        }


def _clause_score(clause: Clause) -> float:
    return min(n.score for n in clause) - 0.25 * (len(clause) - 1)


# ------------------------------------------------------------------------------------------------- derivation
def required_literals(query: t.Union[ast.Query, ast.Node]) -> t.Optional[RequiredLiterals]:
    """The needles a line must contain for `query` to possibly match it, or None when nothing is usable.

    For sequences and samples a line is needed when *any* step (including `until` and missing `![...]` steps, whose
    events change the result) could match it, so the steps' formulas are OR-ed.
    """
    body = query.body if isinstance(query, ast.Query) else query
    if isinstance(body, ast.EventQuery):
        cnf = _event_query(body)
    elif isinstance(body, (ast.Sequence, ast.Sample)):
        steps = list(body.steps)
        if isinstance(body, ast.Sequence) and body.until is not None:
            steps.append(body.until)
        cnf = _or([_event_query(step.query) for step in steps])
    elif isinstance(body, ast.Expr):
        cnf = _expr(body)
    else:
        return None
    cnf = _simplify(cnf)
    return RequiredLiterals(tuple(cnf)) if cnf else None


def _event_query(query: ast.EventQuery) -> list[Clause]:
    clauses = _expr(query.condition)
    if query.category is not None:
        needle = _needle(query.category, case_insensitive=False)
        if needle is not None:
            clauses = clauses + [(needle,)]
    return clauses


def _expr(node: ast.Expr) -> list[Clause]:
    if isinstance(node, ast.And):
        return [clause for operand in node.operands for clause in _expr(operand)]
    if isinstance(node, ast.Or):
        return _or([_expr(operand) for operand in node.operands])
    if isinstance(node, ast.Not):
        # not(not x) matches exactly when x does (three-valued: null stays null); any other negation gives nothing.
        return _expr(node.operand.operand) if isinstance(node.operand, ast.Not) else []
    if isinstance(node, ast.Comparison):
        return _comparison(node)
    if isinstance(node, ast.InSet):
        if node.negated or not isinstance(node.value, ast.Field):
            return []
        return _alternatives([_string_value(o) for o in node.options], node.case_insensitive)
    if isinstance(node, ast.Match):
        if not isinstance(node.value, ast.Field):
            return []
        regex = node.kind.startswith("regex")
        pieces = [_regex_piece(p.value) if regex else _wildcard_piece(p.value) for p in node.patterns]
        return _alternatives(pieces, node.case_insensitive)
    if isinstance(node, ast.FunctionCall):
        return _function(node)
    return []


def _comparison(node: ast.Comparison) -> list[Clause]:
    if node.op != "==":
        return []
    for a, b in ((node.left, node.right), (node.right, node.left)):
        if isinstance(a, ast.Field) and isinstance(b, ast.Literal):
            return _alternatives([_string_value(b)], case_insensitive=False)
    return []


def _function(node: ast.FunctionCall) -> list[Clause]:
    if node.name.lower() not in _SELECTIVE_FUNCTIONS or len(node.args) != 2:
        return []
    subject, constant = node.args
    if not isinstance(subject, ast.Field) or not isinstance(constant, ast.Literal):
        return []
    return _alternatives([_string_value(constant)], node.case_insensitive)


def _alternatives(values: t.Sequence[t.Optional[str]], case_insensitive: bool) -> list[Clause]:
    """One clause of needles, or none at all when any alternative has no usable needle (it could match anything)."""
    needles = [_needle(v, case_insensitive) if v is not None else None for v in values]
    if not needles or any(n is None for n in needles):
        return []
    return [tuple(t.cast(Needle, n) for n in needles)]


def _or(operands: list[list[Clause]]) -> list[Clause]:
    """(A1 and A2) or (B1 and B2) = and over i, j of (Ai or Bj). An operand without clauses makes the whole OR free."""
    if not operands or any(not clauses for clauses in operands):
        return []
    result: list[Clause] = [()]
    for clauses in operands:
        # Keep each operand's most selective clauses only: the product would otherwise grow without bound.
        best = sorted(_simplify(clauses), key=_clause_score, reverse=True)[:_MAX_CLAUSES_PER_OPERAND]
        result = [acc + clause for acc in result for clause in best]
        # The result is a conjunction of clauses, so dropping some only weakens the filter (never wrong); without
        # this cap an OR of k operands makes 4**k clauses (a prebuilt rule took 49 s here).
        if len(result) > _MAX_CLAUSES_PER_OPERAND:
            result = sorted(_simplify(result), key=_clause_score, reverse=True)[:_MAX_CLAUSES_PER_OPERAND]
    return _simplify(result)


def _simplify(clauses: list[Clause]) -> list[Clause]:
    """Drop needles implied by shorter ones in the same clause, and duplicate clauses."""
    out: list[Clause] = []
    for clause in clauses:
        unique = list(dict.fromkeys(clause))
        kept = tuple(n for n in unique if not any(m is not n and _implies(m, n) for m in unique))
        if kept and kept not in out:
            out.append(kept)
    return out


def _implies(shorter: Needle, longer: Needle) -> bool:
    """True when every line containing `longer` also contains `shorter`, so `longer` adds nothing to an OR."""
    if shorter == longer:
        return False
    if shorter.case_insensitive:
        return shorter.text in longer.text.lower()
    if longer.case_insensitive:
        return False
    return shorter.text in longer.text


# ------------------------------------------------------------------------------------------------- values
def _string_value(node: ast.Expr) -> t.Optional[str]:
    """The string constant of a literal, when its raw text must appear in any matching document."""
    if not isinstance(node, ast.Literal) or not isinstance(node.value, str) or isinstance(node.value, bool):
        return None
    value = node.value
    if not value or _has_other_spellings(value):
        return None
    return value


def _has_other_spellings(value: str) -> bool:
    """Numbers, IP addresses and dates compare equal to differently written values of numeric/ip/date fields."""
    text = value.strip()
    try:
        float(text)
        return True
    except ValueError:
        pass
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    return bool(_DATE_RE.match(text))


def _needle(value: str, case_insensitive: bool) -> t.Optional[Needle]:
    if case_insensitive:
        # Non-ASCII letters have case variants of other bytes: keep the longest ASCII run only.
        value = max(re.split(r"[^\x00-\x7f]+", value), key=len)
        value = value.lower()
    if not value:
        return None
    encoded = orjson.dumps(value)[1:-1]
    return Needle(encoded, case_insensitive)


def _wildcard_piece(pattern: t.Any) -> t.Optional[str]:
    """The longest fixed piece of a wildcard pattern (`*`, `?`; a backslash is treated as a break, conservatively)."""
    if not isinstance(pattern, str):
        return None
    piece = max(re.split(r"[*?\\]", pattern), key=len)
    return piece if piece and not _has_other_spellings(piece) else None


_REGEX_GIVE_UP = set('|()~&#@<>"')
_REGEX_PLAIN = re.compile(r"[A-Za-z0-9_ /:,=;'%!$]")


def _regex_piece(pattern: t.Any) -> t.Optional[str]:
    """The longest run of plain characters a Lucene regex requires, or None.

    Alternation, groups and the optional operators (complement, intersection, intervals) could make any run
    optional, so patterns using them give nothing. A quantifier makes the character before it optional.
    """
    if not isinstance(pattern, str) or _REGEX_GIVE_UP & set(pattern):
        return None
    runs: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if _REGEX_PLAIN.fullmatch(ch):
            current.append(ch)
            i += 1
            continue
        if ch in "?*+{":
            if current:
                current.pop()  # the quantified character is optional
        runs.append("".join(current))
        current = []
        if ch == "[":
            close = pattern.find("]", i + 2)
            i = len(pattern) if close < 0 else close + 1
        elif ch == "{":
            close = pattern.find("}", i)
            i = len(pattern) if close < 0 else close + 1
        elif ch == "\\":
            i += 2
        else:
            i += 1
    runs.append("".join(current))
    piece = max(runs, key=len)
    return piece if piece and not _has_other_spellings(piece) else None
