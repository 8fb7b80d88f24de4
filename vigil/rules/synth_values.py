"""Candidate values for one field: strings, numbers and addresses that satisfy (or break) EQL conditions.

`vigil.rules.synth` decides WHICH conditions a synthesized event must meet; this module proposes the values to try.
Nothing here decides whether a value is right: every candidate is checked against the real compiled predicate
(`vigil.engine.compiler.compile_predicate`), so a candidate list only has to contain a good value early, and may
contain bad ones. That keeps the generators simple and makes them safe to extend.

    literal_candidates(expr)        values suggested by one condition (its constants, pattern instances, ...)
    merge_wildcards(patterns)       one string matching several `*`/`?` patterns at once (prefix, middle, suffix)
    regex_example(pattern)          a string the Lucene regexp matches in full (raises CannotSynthesize otherwise)
"""

from __future__ import annotations

import ipaddress
import itertools
import typing as t

from vigil.eql import ast
from vigil.errors import UnsupportedError


class CannotSynthesize(UnsupportedError):
    """A condition has no value vigil knows how to produce (e.g. a regex intersection `&`)."""


#: Tried when a condition suggests nothing better (e.g. `field != null`), after the condition's own values.
GENERIC = ("vigil", "x", 1, 0, True, "0", 1000)

#: Public addresses for `not cidrMatch(ip, <private ranges>)`. They are only written into synthesized documents;
#: vigil never sends anything to them.
PUBLIC_IPS = ("8.8.8.8", "1.1.1.1", "93.184.216.34", "2001:4860:4860::8888")

FILLER = "x"


# ----------------------------------------------------------------------------------------------- wildcards
def instantiate(pattern: str, filler: str = FILLER) -> str:
    """A string matching an EQL wildcard pattern: each `*` becomes `filler`, each `?` the letter "a"."""
    return "".join(filler if ch == "*" else "a" if ch == "?" else ch for ch in pattern)


def merge_wildcards(patterns: t.Sequence[str], insensitive: bool = False) -> t.Optional[str]:
    """One string that matches every pattern, or None when the fixed prefixes (or suffixes) disagree.

    Each pattern splits on `*` into a prefix (if it does not start with `*`), middle parts and a suffix; the result is
    the longest prefix, every middle part (`x`-separated), then the longest suffix. `process.executable like
    "/tmp/*"` and `like "*.sh"` give "/tmp/x.sh"."""
    prefixes, suffixes, middles = [], [], []
    for pattern in patterns:
        if "*" not in pattern:
            return None  # an exact value: it is a candidate of its own, not something to merge
        parts = [instantiate(p) for p in pattern.split("*")]
        if parts[0]:
            prefixes.append(parts[0])
        if parts[-1]:
            suffixes.append(parts[-1])
        middles.extend(p for p in parts[1:-1] if p)
    fold = (lambda s: s.lower()) if insensitive else (lambda s: s)
    prefix = max(prefixes, key=len, default="")
    suffix = max(suffixes, key=len, default="")
    if any(not fold(prefix).startswith(fold(p)) for p in prefixes):
        return None
    if any(not fold(suffix).endswith(fold(s)) for s in suffixes):
        return None
    middle = FILLER.join(middles)
    return f"{prefix}{FILLER}{middle}{FILLER}{suffix}" if middle else f"{prefix}{FILLER}{suffix}"


# ------------------------------------------------------------------------------------------ Lucene regexps
class _RegexExample:
    """Builds one string a Lucene `RegExp` matches (the syntax `semantics.lucene_regex` accepts).

    `more=False` takes the fewest repetitions (`*` and `?` none, `+` one); `more=True` takes one more, which gives a
    second, different example to try when the shortest one breaks another condition."""

    NEGATED_PICKS = "axz0_/-. AX9"

    def __init__(self, pattern: str, more: bool):
        self.p, self.i, self.more = pattern, 0, more

    def fail(self, what: str) -> t.NoReturn:
        raise CannotSynthesize(f"cannot synthesize a value for regex {self.p!r}: {what}")

    def run(self) -> str:
        out = self.union()
        if self.i < len(self.p):
            self.fail(f"unbalanced {self.p[self.i]!r} at offset {self.i}")
        return out

    def union(self) -> str:
        first = self.sequence()
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            self.sequence()  # parsed for position only: the first branch is the example
        return first

    def sequence(self) -> str:
        parts = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        atom = self.atom()
        out = atom
        while self.i < len(self.p) and self.p[self.i] in "*+?{":
            ch = self.p[self.i]
            if ch == "{":
                end = self.p.find("}", self.i)
                body = self.p[self.i + 1:end] if end > 0 else ""
                low = body.split(",")[0]
                if not low.isdigit():
                    self.fail("a malformed {n,m} repetition")
                count = int(low)
                self.i = end + 1
            else:
                count = {"*": 0, "+": 1, "?": 0}[ch] + (1 if self.more and ch in "*?" else 0)
                self.i += 1
            out = atom * count
        return out

    def atom(self) -> str:
        p = self.p
        ch = p[self.i]
        self.i += 1
        if ch == ".":
            return "a"
        if ch == "(":
            inner = self.union()
            if self.i >= len(p) or p[self.i] != ")":
                self.fail("an unclosed (")
            self.i += 1
            return inner
        if ch == "[":
            return self.char_class()
        if ch == '"':
            end = p.find('"', self.i)
            if end < 0:
                self.fail('an unclosed "')
            text = p[self.i:end]
            self.i = end + 1
            return text
        if ch == "\\":
            if self.i >= len(p):
                self.fail("a trailing backslash")
            esc = p[self.i]
            self.i += 1
            return {"d": "0", "D": "a", "s": " ", "S": "a", "w": "a", "W": "-"}.get(esc, esc)
        if ch == "@":
            return FILLER if self.more else ""
        if ch in "#&~<":
            self.fail({"#": "# matches nothing", "&": "intersection (&)", "~": "complement (~)",
                       "<": "a numeric interval <n-m>"}[ch])
        return ch

    def char_class(self) -> str:
        p = self.p
        negated = self.i < len(p) and p[self.i] == "^"
        if negated:
            self.i += 1
        members: list[tuple[str, str]] = []  # inclusive ranges
        first = True
        while self.i < len(p) and (p[self.i] != "]" or first):
            first = False
            ch = p[self.i]
            self.i += 1
            if ch == "\\" and self.i < len(p):
                esc = p[self.i]
                self.i += 1
                shorthand = {"d": [("0", "9")], "s": [(" ", " "), ("\t", "\t")],
                             "w": [("a", "z"), ("A", "Z"), ("0", "9"), ("_", "_")]}.get(esc)
                members.extend(shorthand or [(esc, esc)])
            elif self.i + 1 < len(p) and p[self.i] == "-" and p[self.i + 1] != "]":
                members.append((ch, p[self.i + 1]))
                self.i += 2
            else:
                members.append((ch, ch))
        if self.i >= len(p):
            self.fail("an unclosed [")
        self.i += 1
        if not negated:
            return members[0][0] if members else self.fail("an empty class []")
        for pick in self.NEGATED_PICKS:
            if not any(lo <= pick <= hi for lo, hi in members):
                return pick
        self.fail("a negated class that excludes every simple character")


def regex_example(pattern: str, more: bool = False) -> str:
    """A string the Lucene regexp `pattern` matches in full; CannotSynthesize for `&`, `~`, `<n-m>` and `#`."""
    return _RegexExample(pattern, more).run()


# ---------------------------------------------------------------------------------------- per-condition values
def _const(expr: ast.Expr) -> tuple[bool, t.Any]:
    if isinstance(expr, ast.Literal):
        return True, expr.value
    if isinstance(expr, ast.Negate) and isinstance(expr.operand, ast.Literal):
        value = expr.operand.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, -value
    return False, None


def _near(value: t.Any) -> list[t.Any]:
    """The value and its neighbours: for a bound `>= 3` try 3, 4, 2; for a string also longer/shorter forms."""
    if isinstance(value, bool):
        return [value, not value]
    if isinstance(value, int):
        return [value, value + 1, value - 1, value * 2 + 1]
    if isinstance(value, float):
        return [value, value + 1, value - 1]
    if isinstance(value, str):
        out = [value, value + FILLER, FILLER + value]
        if value[:-1]:
            out.append(value[:-1])
        return out
    return []


def _length_strings(n: t.Any) -> list[str]:
    if not isinstance(n, int) or isinstance(n, bool):
        return []
    return ["a" * max(0, k) for k in (n, n + 1, n - 1, n + 5)]


def _cidr_hosts(cidrs: t.Sequence[t.Any]) -> list[str]:
    out = []
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue
        out.append(str(net.network_address + 1) if net.num_addresses > 2 else str(net.network_address))
    return out


def literal_candidates(expr: ast.Expr) -> list[t.Any]:
    """Values suggested by one condition (a comparison, set, pattern or function call, possibly under `not`).

    Both the values that satisfy the condition and near misses are included: the caller checks each one and keeps
    what the whole set of conditions on the field accepts."""
    while isinstance(expr, ast.Not):
        expr = expr.operand
    out: list[t.Any] = []
    if isinstance(expr, ast.Comparison):
        for side, other in ((expr.right, expr.left), (expr.left, expr.right)):
            is_const, value = _const(side)
            if not is_const:
                continue
            if isinstance(other, ast.FunctionCall) and other.name == "length":
                out.extend(_length_strings(value))
            elif isinstance(other, ast.FunctionCall):
                out.extend(_function_candidates(other))
            elif value is not None:
                out.extend(_near(value))
    elif isinstance(expr, ast.InSet):
        values = [v for is_const, v in map(_const, expr.options) if is_const and v is not None]
        out.extend(values)
        out.extend(v + FILLER for v in values[:1] if isinstance(v, str))
    elif isinstance(expr, ast.Match):
        patterns = [p.value for p in expr.patterns if isinstance(p.value, str)]
        if expr.kind in ("regex", "regex~"):
            for pattern in patterns:
                out.extend(dict.fromkeys([regex_example(pattern), regex_example(pattern, more=True)]))
        else:
            out.extend(instantiate(p) for p in patterns)
            out.extend(instantiate(p, "") for p in patterns if "*" in p)
            out.extend(p.value for p in expr.patterns if not isinstance(p.value, str) and p.value is not None)
    elif isinstance(expr, ast.FunctionCall):
        out.extend(_function_candidates(expr))
    elif isinstance(expr, ast.Field):
        out.extend([True, False])
    return out


def _function_candidates(call: ast.FunctionCall) -> list[t.Any]:
    consts = [v for is_const, v in map(_const, call.args[1:]) if is_const]
    strings = [v for v in consts if isinstance(v, str)]
    name = call.name
    if name == "cidrMatch":
        return _cidr_hosts(consts) + list(PUBLIC_IPS)
    if not strings:
        return []
    s = strings[0]
    if name == "startsWith":
        return [s, s + FILLER]
    if name == "endsWith":
        return [s, FILLER + s]
    if name in ("stringContains", "indexOf"):
        return [s, FILLER + s + FILLER]
    if name == "between" and len(strings) >= 2:
        return [strings[0] + FILLER + strings[1]]
    return [s]


def combined_candidates(literals: t.Sequence[ast.Expr]) -> list[t.Any]:
    """Values meant to meet several conditions on one field together: merged wildcard patterns, and each pattern
    filled with the other conditions' values (`like "/tmp/*"` filled with "x.sh" from `like "*.sh"`)."""
    wildcard_sets: list[list[str]] = []
    insensitive = False
    for lit in literals:
        if isinstance(lit, ast.Match) and lit.kind in (":", "like", "like~"):
            strings = [p.value for p in lit.patterns if isinstance(p.value, str)]
            if strings:
                wildcard_sets.append(strings)
                insensitive = insensitive or lit.case_insensitive
    out: list[t.Any] = []
    if len(wildcard_sets) > 1:
        for combo in itertools.islice(itertools.product(*wildcard_sets), 64):
            merged = merge_wildcards(combo, insensitive)
            if merged is not None:
                out.append(merged)
    others = [c for lit in literals for c in literal_candidates(lit) if isinstance(c, str)][:40]
    for patterns in wildcard_sets:
        for pattern in patterns[:8]:
            if "*" in pattern:
                out.extend(instantiate(pattern, filler) for filler in others[:20])
    return out
