"""THE specification of what Elasticsearch-dialect EQL means, one documented function per rule.

Every backend (the streaming Python engine today, DuckDB/Spark later) implements these rules; the Python engine
calls these functions directly. Each rule cites the Elasticsearch (ES) behaviour it reproduces. ES evaluates an EQL
condition in two different ways, and the difference is visible to users, so this module names both:

* **query context** -- a comparison of a *field* with *constants* (`==`, `!=`, `<`.., `in`, `:`, `like`, `regex`,
  `startsWith(field, "c")`, case-sensitive `stringContains(field, "c")`, `cidrMatch(field, "c"...)`) is translated by
  ES into a Lucene query (term, range, terms, wildcard, regexp, prefix; `ql ExpressionTranslators`, EQL
  `QueryTranslator`). Such a predicate is true when ANY indexed value of the field satisfies it (multi-valued
  fields), is false for a missing field, and its negation (`!=`, `not in`, `not (...)`) is Lucene's `must_not`: true
  for a missing field and for an array none of whose values match. Query-context logic is two-valued.
* **script context** -- anything else (functions, arithmetic, field-vs-field comparisons) runs as a Painless script
  over doc values: a field yields its FIRST doc value (`InternalQlScriptUtils.docValue` -> `docValues.get(0)`; doc
  values are sorted, so the smallest value of a multi-valued field), or null when missing. Script logic is
  three-valued (null propagates; `nullSafeFilter` turns a null filter result into "no match").

`x == null` / `x != null` are existence tests in both contexts (ES `ReplaceNullChecks` -> IsNull / IsNotNull).

Deliberate departures from ES, all listed in docs/semantics.md: a runtime error inside a function (number("abc"),
an invalid IP in cidrMatch, an integer division by zero) yields null for that event instead of failing the whole
search; the mapping of a field is not known from JSON, so types are inferred from the values (see `values_equal`)
and date semantics apply to the fields in `DATE_FIELDS`; the `version` mapping type cannot be recognised and
compares as a string.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import ipaddress
import socket
import re
import typing as t

from vigil.errors import UnsupportedError

Number = (int, float)

# ------------------------------------------------------------------------------------------------- case rules
#: Operators that compare case-insensitively (ES `InsensitiveEquals`, `InsensitiveWildcardEquals`, the `~` forms).
#: Everything else (`==`, `!=`, `<`.., `in`, `like`, `regex`, functions without `~`) is case-sensitive.
CASE_INSENSITIVE_FORMS = (":", "in~", "like~", "regex~", "fn~")


def fold_case(text: str) -> str:
    """Case folding for `:`, `in~`, `like~` and `fn~`: each character is mapped to its lower case.

    Lucene builds case-insensitive term/wildcard/prefix automata one code point at a time
    (`AutomatonQueries.toCaseInsensitiveChar`: the character, its lower and its upper case), so "Ä" matches "ä" but
    "ß" does not match "SS" (a one-to-many mapping). A character whose lower case is not a single character is
    therefore kept as is. ASCII text (the common case) takes the fast path."""
    if text.isascii():
        return text.lower()
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


# ------------------------------------------------------------------------------------------ values and types
#: Fields compared as dates (ES `date`/`date_nanos` mappings): ISO-8601 strings, epoch-millisecond numbers and
#: numeric strings all denote instants. JSON carries no mapping, so the ECS date fields are listed here; any field
#: whose last path segment contains "timestamp" is a date too.
DATE_FIELDS = frozenset({
    "@timestamp", "event.created", "event.ingested", "event.start", "event.end", "process.start", "process.end",
    "process.parent.start", "file.created", "file.ctime", "file.mtime", "file.accessed",
})


def is_date_field(name: str) -> bool:
    return name in DATE_FIELDS or "timestamp" in name.rsplit(".", 1)[-1]


_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def to_instant(value: t.Any) -> t.Optional[int]:
    """A date value as integer nanoseconds since the epoch, or None if it is not a date.

    Follows the ES default date format `strict_date_optional_time||epoch_millis`: ISO-8601 with optional time,
    fraction up to nanoseconds (date_nanos, test_queries_date_nanos.toml) and zone (UTC when absent), or a number /
    numeric string of epoch milliseconds (test_queries_date.toml: `@timestamp == 1516116808349`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * 1_000_000
    if isinstance(value, float):
        return int(round(value * 1_000_000))
    if not isinstance(value, str):
        return None
    if value.isdigit() or (value[:1] == "-" and value[1:].isdigit()):
        return int(value) * 1_000_000
    m = _ISO.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        tz = _dt.timezone.utc
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            tz = _dt.timezone(sign * offset)
        moment = _dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=tz)
    except ValueError:
        return None
    delta = moment - _EPOCH
    nanos = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    if frac:
        nanos += int(frac.ljust(9, "0"))
    return nanos


def java_string(value: t.Any) -> t.Optional[str]:
    """`Object.toString()` as ES prints values in `string()`, `concat()` and keyword terms built from numbers.

    Booleans are `true`/`false`; integers as is; doubles the Java way (`1.0`, `2.1828`, `1.0E10`, `1.0E-4`: Java uses
    scientific notation below 1e-3 and from 1e7 on); null stays null."""
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join("null" if v is None else java_string(v) or "" for v in value) + "]"
    return str(value)


def _java_double(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(x)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    exp10 = len(digits) - 1 + int(exponent)
    frac = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{frac}E{exp10}"


def parse_number(text: str) -> t.Optional[t.Union[int, float]]:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def values_equal(value: t.Any, literal: t.Any, *, date: bool = False) -> bool:
    """Does one indexed value equal a query constant (an ES `term` query on the field's mapping)?

    The mapping is inferred from the JSON value: a string is a `keyword` (a numeric or boolean constant is compared
    by its text, `"1" == 1` is true, as a term query on a keyword field does); a number is numeric (`1 == 1.0`; a
    string constant is parsed as a number); a boolean is `boolean` (`"true"` parses). On date fields both sides are
    compared as instants (`@timestamp == "2017-08-30T20:47:33Z"` and `== 1516116808349` both work)."""
    if date:
        a, b = to_instant(value), to_instant(literal)
        if a is not None and b is not None:
            return a == b
    vc = value.__class__
    if vc is str:
        if literal.__class__ is str:
            return value == literal
        return value == java_string(literal)
    if vc is bool:
        if literal.__class__ is bool:
            return value is literal
        if literal.__class__ is str:
            return literal == ("true" if value else "false")
        return False
    if vc is int or vc is float:
        lc = literal.__class__
        if lc is int or lc is float:
            return value == literal
        if lc is str:
            number = parse_number(literal)
            return number is not None and value == number
        return False
    return value == literal


def values_order(value: t.Any, literal: t.Any, *, date: bool = False) -> t.Optional[int]:
    """-1/0/1 ordering of an indexed value against a constant (an ES `range` query), None if not comparable.

    Strings order by code point (Lucene orders keyword terms by UTF-8 bytes, which is the same order); numbers
    numerically; a numeric constant against a keyword value compares as text; dates as instants."""
    if date:
        a, b = to_instant(value), to_instant(literal)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    vc, lc = value.__class__, literal.__class__
    if vc is bool or lc is bool:
        return None
    if vc is str:
        other = literal if lc is str else java_string(literal)
        return (value > other) - (value < other)
    if vc is int or vc is float:
        if lc is str:
            literal = parse_number(literal)
            if literal is None:
                return None
        elif not (lc is int or lc is float):
            return None
        return (value > literal) - (value < literal)
    return None


_ORDER_TESTS: dict[str, t.Callable[[int], bool]] = {
    "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
}


def order_test(op: str) -> t.Callable[[int], bool]:
    return _ORDER_TESTS[op]


def doc_value(value: t.Any) -> t.Any:
    """The value a script sees for a field: its first doc value (`InternalQlScriptUtils.docValue`).

    Doc values are sorted (keywords by bytes, numbers ascending) and de-duplicated, so for a multi-valued field this
    is the smallest value; a missing field is null."""
    if value.__class__ is not list:
        return value
    return min(value, key=_doc_value_key)


def _doc_value_key(v: t.Any) -> tuple[int, t.Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, Number):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    return (3, repr(v))


# ----------------------------------------------------------------------------------- script-context operators
def compare(op: str, left: t.Any, right: t.Any) -> t.Optional[bool]:
    """`left op right` between two computed values (ES `BinaryComparisonProcessor` / ql `Comparisons`).

    Null on either side gives null (`null < 1` is null); numbers compare numerically (`3 == 3.0`); strings by code
    point, case-sensitively; values of different kinds are not comparable and give null. (`x == null` never reaches
    here: it is an existence test, see `is_null`.)"""
    if left is None or right is None:
        return None
    lnum = isinstance(left, Number) and not isinstance(left, bool)
    rnum = isinstance(right, Number) and not isinstance(right, bool)
    if lnum != rnum or (not lnum and left.__class__ is not right.__class__):
        return None
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if isinstance(left, bool):
        left, right = int(left), int(right)
    try:
        return _ORDER_TESTS[op]((left > right) - (left < right))
    except TypeError:
        return None


def is_null(value: t.Any) -> bool:
    """`x == null` (ES IsNull): true for a missing field, JSON null, an empty array, or a null result."""
    return value is None


def logical_and(a: t.Optional[bool], b: t.Optional[bool]) -> t.Optional[bool]:
    """Three-valued `and` (SQL/ES `And`): false wins over null; null and true is null."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def logical_or(a: t.Optional[bool], b: t.Optional[bool]) -> t.Optional[bool]:
    """Three-valued `or`: true wins over null; null or false is null."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def logical_not(a: t.Optional[bool]) -> t.Optional[bool]:
    """Three-valued `not`: not null is null (ES `NotProcessor`)."""
    return None if a is None else not a


def in_set(value: t.Any, options: t.Sequence[t.Any], insensitive: bool = False) -> t.Optional[bool]:
    """`value in (options)` in a script (ql `InProcessor`): true if equal to one option, else null if the value or
    an option is null, else false. `in~` compares folded strings."""
    if value is None:
        return None
    if insensitive and isinstance(value, str):
        value = fold_case(value)
        options = [fold_case(o) if isinstance(o, str) else o for o in options]
    saw_null = False
    for option in options:
        result = compare("==", value, option)
        if result:
            return True
        if result is None:
            saw_null = True
    return None if saw_null else False


def predicate_result(value: t.Any) -> bool:
    """A condition matches only when it is exactly true (ES `nullSafeFilter`: null means no match)."""
    return value is True


# -------------------------------------------------------------------------------------------- arithmetic
def arithmetic(op: str, left: t.Any, right: t.Any) -> t.Optional[t.Union[int, float]]:
    """`+ - * / %` (ES `Arithmetics`): null propagates; int op int stays integral with Java semantics -- `/`
    truncates toward zero (`7 / 3` is 2, `-7 / 2` is -3) and `%` takes the sign of the dividend; any float makes a
    float (`7 / 3.0`). Integer division by zero raises ArithmeticException in ES; here it is null."""
    if left is None or right is None:
        return None
    if not _is_number(left) or not _is_number(right):
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    both_int = isinstance(left, int) and isinstance(right, int)
    if op == "/":
        if both_int:
            if right == 0:
                return None
            q = abs(left) // abs(right)
            return q if (left >= 0) == (right >= 0) else -q
        if right == 0:
            return float("nan") if left == 0 else (float("inf") if left > 0 else float("-inf"))
        return left / right
    if op == "%":
        if right == 0:
            return None if both_int else float("nan")
        result = abs(left) % abs(right)
        return result if left >= 0 else -result
    raise ValueError(f"unknown arithmetic operator {op!r}")


def negate(value: t.Any) -> t.Any:
    return None if value is None or not _is_number(value) else -value


def _is_number(value: t.Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------- wildcard patterns
def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def wildcard_regex(pattern: str) -> str:
    """The Python regex (matched with `fullmatch`) for an EQL wildcard pattern used by `:` and `like`.

    ES (`eql.util.StringUtils.toLikePattern`) turns `*` into "any sequence" and `?` into "any one character" and
    escapes nothing else: there is NO escape for a literal `*` or `?` in a `:`/`like` pattern (a backslash is an
    ordinary character there); use `==`, `in` or `regex` to match them literally."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def wildcard_matcher(pattern: str, insensitive: bool) -> t.Callable[[str], bool]:
    """A fast test `str -> bool` for one wildcard pattern; when `insensitive`, the caller passes folded text.

    Common shapes avoid regular expressions: no wildcard (equality), `abc*` (prefix), `*abc` (suffix), `*abc*`
    (substring)."""
    if insensitive:
        pattern = fold_case(pattern)
    if not has_wildcard(pattern):
        return pattern.__eq__
    inner = pattern.strip("*")
    if not has_wildcard(inner):
        lead, trail = pattern.startswith("*"), pattern.endswith("*")
        if lead and trail:
            return lambda s: inner in s
        if trail and pattern.count("*") == len(pattern) - len(inner):
            return lambda s: s.startswith(inner)
        if lead and pattern.count("*") == len(pattern) - len(inner):
            return lambda s: s.endswith(inner)
    regex = re.compile(wildcard_regex(pattern), re.DOTALL)
    return lambda s: regex.fullmatch(s) is not None


def _pattern_shape(pattern: str) -> tuple[str, str]:
    """(shape, text) of a (folded) wildcard pattern, classified exactly as `wildcard_matcher` does: "exact",
    "prefix", "suffix", "contains" (text without the stars) or "general" (the pattern itself)."""
    if not has_wildcard(pattern):
        return "exact", pattern
    inner = pattern.strip("*")
    if not has_wildcard(inner):
        lead, trail = pattern.startswith("*"), pattern.endswith("*")
        if lead and trail:
            return "contains", inner
        if trail and pattern.count("*") == len(pattern) - len(inner):
            return "prefix", inner
        if lead and pattern.count("*") == len(pattern) - len(inner):
            return "suffix", inner
    return "general", pattern


_ANY_SOURCE = """
def test(s):
    return {body}
"""


def wildcard_set_matcher(patterns: t.Iterable[str], insensitive: bool) -> t.Callable[[str], bool]:
    """ONE test `str -> bool`: does the value match ANY of the wildcard patterns? Same contract and same answers
    as `any(wildcard_matcher(p, insensitive)(s) for p in patterns)` (when `insensitive`, the caller passes folded
    text), built for the long lists rules use (`process.name : ("ba*", "*sh", "*curl*", ...)`): exact strings are
    one frozenset lookup, prefixes one `str.startswith(tuple)`, suffixes one `str.endswith(tuple)`, substrings
    one inlined `in` test each, and every other pattern joins one alternation regex run with `fullmatch`."""
    groups: dict[str, list[str]] = {"exact": [], "prefix": [], "suffix": [], "contains": [], "general": []}
    for pattern in patterns:
        shape, text = _pattern_shape(fold_case(pattern) if insensitive else pattern)
        if text not in groups[shape]:
            groups[shape].append(text)
    if "" in groups["contains"]:  # `*` matches every string
        return lambda s: True
    namespace: dict[str, t.Any] = {}
    terms = []
    if groups["exact"]:
        namespace["EXACT"] = frozenset(groups["exact"])
        terms.append("s in EXACT")
    if groups["prefix"]:
        namespace["PREFIXES"] = tuple(groups["prefix"])
        terms.append("s.startswith(PREFIXES)")
    if groups["suffix"]:
        namespace["SUFFIXES"] = tuple(groups["suffix"])
        terms.append("s.endswith(SUFFIXES)")
    # repr() of a str is a valid str literal: nothing but the pattern text enters the source this way
    terms.extend(f"{text!r} in s" for text in groups["contains"])
    if groups["general"]:
        regex = "|".join(f"(?:{wildcard_regex(p)})" for p in groups["general"])
        namespace["FULLMATCH"] = re.compile(regex, re.DOTALL).fullmatch
        terms.append("FULLMATCH(s) is not None")
    if not terms:
        return lambda s: False
    exec(_ANY_SOURCE.format(body=" or ".join(terms)), namespace)  # noqa: S102 -- constants only via repr()
    return namespace["test"]


# ------------------------------------------------------------------------------------------- Lucene regex
_SHORTHAND = {"d": "[0-9]", "D": "[^0-9]", "s": "[ \\t\\n\\r]", "S": "[^ \\t\\n\\r]",
              "w": "[a-zA-Z0-9_]", "W": "[^a-zA-Z0-9_]"}


def lucene_regex(pattern: str) -> str:
    """Translate a Lucene `RegExp` (what ES `regex`/`regex~` run, default flags ALL) to Python `re` syntax.

    The whole value must match (Lucene regexps are anchored): callers use `fullmatch`. `^` and `$` are ordinary
    characters in Lucene and stay literal. Supported: literals, `.` (any character, newlines included), `[...]`
    and `[^...]` classes with ranges, `\\x` escapes, `\\d \\D \\s \\S \\w \\W` (Lucene 9), `*` `+` `?` `{n}` `{n,}`
    `{n,m}`, `|`, `(...)`, `"quoted"` literal strings, `@` (any string) and `#` (the empty language: matches
    nothing). Rejected with UnsupportedError: `&` (intersection), `~` (complement) and `<n-m>` numeric intervals,
    which Python regexes cannot express directly."""
    return _RegexTranslator(pattern).translate()


class _RegexTranslator:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0

    def fail(self, what: str) -> t.NoReturn:
        raise UnsupportedError(
            f"regex {self.p!r}: {what} at offset {self.i} is not supported",
            hint="use ., [...], *, +, ?, {n,m}, | and (...) -- the Lucene operators vigil translates",
        )

    def translate(self) -> str:
        out = self.union()
        if self.i < len(self.p):
            self.fail(f"unbalanced {self.p[self.i]!r}")
        return out

    def union(self) -> str:
        branches = [self.sequence()]
        while self.i < len(self.p) and self.p[self.i] == "|":
            self.i += 1
            branches.append(self.sequence())
        return "|".join(branches)

    def sequence(self) -> str:
        parts = []
        while self.i < len(self.p) and self.p[self.i] not in "|)":
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        atom = self.atom()
        while self.i < len(self.p):
            ch = self.p[self.i]
            if ch in "*+?":
                atom = f"(?:{atom}){ch}"
                self.i += 1
            elif ch == "{":
                end = self.p.find("}", self.i)
                body = self.p[self.i + 1:end] if end > 0 else ""
                if not re.fullmatch(r"\d+(,\d*)?", body):
                    self.fail("a malformed {n,m} repetition")
                atom = f"(?:{atom}){{{body}}}"
                self.i = end + 1
            else:
                break
        return atom

    def atom(self) -> str:
        p = self.p
        ch = p[self.i]
        self.i += 1
        if ch == ".":
            return "."
        if ch == "(":
            inner = self.union()
            if self.i >= len(p) or p[self.i] != ")":
                self.fail("an unclosed (")
            self.i += 1
            return f"(?:{inner})"
        if ch == "[":
            return self.char_class()
        if ch == '"':
            end = p.find('"', self.i)
            if end < 0:
                self.fail('an unclosed "')
            text = p[self.i:end]
            self.i = end + 1
            return re.escape(text)
        if ch == "\\":
            if self.i >= len(p):
                self.fail("a trailing backslash")
            esc = p[self.i]
            self.i += 1
            return _SHORTHAND.get(esc) or re.escape(esc)
        if ch == "@":
            return ".*"
        if ch == "#":
            return "(?!)"
        if ch in "&~<":
            self.i -= 1
            self.fail({"&": "intersection (&)", "~": "complement (~)", "<": "a numeric interval <n-m>"}[ch])
        if ch in "*+?{":
            self.i -= 1
            self.fail(f"a repetition {ch!r} with nothing to repeat")
        return re.escape(ch)

    def char_class(self) -> str:
        p = self.p
        out = ["["]
        if self.i < len(p) and p[self.i] == "^":
            out.append("^")
            self.i += 1
        first = True
        while self.i < len(p) and (p[self.i] != "]" or first):
            first = False
            ch = p[self.i]
            self.i += 1
            if ch == "\\" and self.i < len(p):
                esc = p[self.i]
                self.i += 1
                short = _SHORTHAND.get(esc)
                out.append(short[1:-1] if short and not short.startswith("[^") else re.escape(esc))
                if short and short.startswith("[^"):
                    self.fail(f"a negated shorthand \\{esc} inside [...]")
            elif ch == "-" and len(out) > 1 and self.i < len(p) and p[self.i] != "]":
                out.append("-")
            else:
                out.append(re.escape(ch))
        if self.i >= len(p):
            self.fail("an unclosed [")
        self.i += 1
        out.append("]")
        return "".join(out)


def regex_matcher(pattern: str, insensitive: bool) -> t.Callable[[str], bool]:
    """A test `str -> bool`: does the WHOLE value match the Lucene regexp? `regex~` uses Lucene's
    ASCII_CASE_INSENSITIVE flag (ES `RegexQuery` with `caseInsensitive`), so only ASCII letters ignore case."""
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if insensitive else 0)
    compiled = re.compile(lucene_regex(pattern), flags)
    return lambda s: compiled.fullmatch(s) is not None


# ------------------------------------------------------------------------------------------------ functions
# Each function takes already-evaluated arguments (None is null) and returns a value or None. Script-context rules
# apply: a multi-valued field arrives as its first doc value (see `doc_value`).
def fn_add(a: t.Any, b: t.Any) -> t.Any:
    """add(a, b) is `a + b` (ES `Add`)."""
    return arithmetic("+", a, b)


def fn_subtract(a: t.Any, b: t.Any) -> t.Any:
    return arithmetic("-", a, b)


def fn_multiply(a: t.Any, b: t.Any) -> t.Any:
    return arithmetic("*", a, b)


def fn_divide(a: t.Any, b: t.Any) -> t.Any:
    """divide(7, 2) is 3: integer division when both are integers (ES `Div`)."""
    return arithmetic("/", a, b)


def fn_modulo(a: t.Any, b: t.Any) -> t.Any:
    return arithmetic("%", a, b)


def _both_str(*values: t.Any) -> bool:
    return all(isinstance(v, str) for v in values)


def fn_between(source: t.Any, left: t.Any, right: t.Any, greedy: t.Any = False, insensitive: bool = False) -> t.Any:
    """between(source, left, right[, greedy]) (ES `eql.util.StringUtils.between`): the text after the first
    `left` and before the next `right` (greedy: the last `right`). ES returns the source unchanged when `left` or
    `right` is empty, and "" (not null) when either is not found. Null source gives null."""
    if source is None or left is None or right is None:
        return None
    if not _both_str(source, left, right):
        return None
    if source == "" or left == "" or right == "":
        return source
    match, l_, r_ = (source.lower(), left.lower(), right.lower()) if insensitive else (source, left, right)
    idx = match.find(l_)
    if idx < 0:
        return ""
    start = idx + len(l_)
    end = match.rfind(r_) if greedy else match.find(r_, start)
    if end < 0 or end < start:
        return ""
    return source[start:end]


def fn_cidr_match(address: t.Any, *cidrs: t.Any) -> t.Any:
    """cidrMatch(ip, cidr...) (ES `CIDRUtils.isInRange`): IPv4 and IPv6; an address only matches networks of its
    own family. Null address gives null; an unparsable address is null here (ES fails the search)."""
    if address is None:
        return None
    text = str(address)
    try:
        # Dotted-quad IPv4 through the C parser (as strict as `ipaddress`: four decimal parts, no leading zeros);
        # anything else (IPv6, or not an address) through `ipaddress`.
        version, value = 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return None
        version, value = ip.version, int(ip)
    # Networks as (version, first address, netmask) integers: one AND and compare each, no objects per test.
    for cidr in cidrs:
        if cidr is None:
            continue
        net = _network(str(cidr))
        if net is not None and version == net[0] and value & net[2] == net[1]:
            return True
    return False


_NETWORKS: dict[str, t.Optional[tuple[int, int, int]]] = {}


def _network(text: str) -> t.Optional[tuple[int, int, int]]:
    if text not in _NETWORKS:
        try:
            net = ipaddress.ip_network(text, strict=False)
            _NETWORKS[text] = (net.version, int(net.network_address), int(net.netmask))
        except ValueError:
            _NETWORKS[text] = None
    return _NETWORKS[text]


def fn_concat(*values: t.Any) -> t.Any:
    """concat(v...) (ES `ConcatFunctionProcessor`): Java text of each value joined; any null makes null."""
    if any(v is None for v in values):
        return None
    return "".join(java_string(v) or "" for v in values)


def fn_ends_with(source: t.Any, suffix: t.Any, insensitive: bool = False) -> t.Any:
    """endsWith(s, suffix); `endsWith~` compares lower-cased text (Java `toLowerCase(Locale.ROOT)`)."""
    if source is None or suffix is None or not _both_str(source, suffix):
        return None
    if insensitive:
        return source.lower().endswith(suffix.lower())
    return source.endswith(suffix)


def fn_index_of(source: t.Any, sub: t.Any, start: t.Any = None, insensitive: bool = False) -> t.Any:
    """indexOf(s, sub[, start]) (ES `IndexOfFunctionProcessor`): first index of `sub` at or after `start` (null or
    negative start means 0), null when not found or when `s`/`sub` is null."""
    if source is None or sub is None or not _both_str(source, sub):
        return None
    if start is not None and not _is_number(start):
        return None
    begin = max(0, int(start)) if start is not None else 0
    if insensitive:
        source, sub = source.lower(), sub.lower()
    idx = source.find(sub, begin)
    return None if idx < 0 else idx


def fn_length(source: t.Any) -> t.Any:
    """length(s): the number of characters; null for null. (Java counts UTF-16 units; vigil counts code points,
    which only differs for characters outside the Basic Multilingual Plane.)"""
    if source is None or not isinstance(source, str):
        return None
    return len(source)


_DECIMAL = re.compile(r"-?(\d+\.?\d*|\.\d+)", re.ASCII)


def fn_number(source: t.Any, base: t.Any = None) -> t.Any:
    """number(s[, base]) (ES `ToNumberFunctionProcessor`): base defaults to 16 when `s` starts with `0x` (which is
    then stripped), else 10. Base 10 parses with Java DecimalFormat: an optional `-`, digits and a `.` fraction,
    giving an integer when there is no fraction; a leading `+` or an exponent is invalid. Other bases parse
    integers (`Integer.parseInt`, which accepts `+`/`-`). Invalid text is null here (ES fails the search)."""
    if source is None:
        return None
    if not isinstance(source, str):
        return None
    hex_prefix = source.startswith("0x")
    if base is None:
        base = 16 if hex_prefix else 10
    elif not isinstance(base, int) or isinstance(base, bool):
        return None
    if hex_prefix and base == 16:
        source = source[2:]
    if base == 10:
        if not _DECIMAL.fullmatch(source):
            return None
        if "." in source:
            value = float(source)
            # DecimalFormat.parse returns a Long whenever the value is integral ("3.0" -> 3)
            return int(value) if value.is_integer() else value
        return int(source)
    if not 2 <= base <= 36:
        return None
    try:
        return int(source, base) if re.fullmatch(r"[+-]?[0-9a-zA-Z]+", source) else None
    except ValueError:
        return None


def fn_starts_with(source: t.Any, prefix: t.Any, insensitive: bool = False) -> t.Any:
    """startsWith(s, prefix); `startsWith~` compares lower-cased text."""
    if source is None or prefix is None or not _both_str(source, prefix):
        return None
    if insensitive:
        return source.lower().startswith(prefix.lower())
    return source.startswith(prefix)


def fn_string(value: t.Any) -> t.Any:
    """string(v) (ES `ToStringFunctionProcessor`): the Java text of v (`true`, `1`, `2.1828`); null for null."""
    return java_string(value)


def fn_string_contains(source: t.Any, sub: t.Any, insensitive: bool = False) -> t.Any:
    """stringContains(s, sub); `stringContains~` compares lower-cased text."""
    if source is None or sub is None or not _both_str(source, sub):
        return None
    if insensitive:
        return sub.lower() in source.lower()
    return sub in source


def fn_substring(source: t.Any, start: t.Any = None, end: t.Any = None) -> t.Any:
    """substring(s, start[, end]) (ES `StringUtils.substringSlice`): Python slice semantics -- negative positions
    count from the end, out-of-range positions are clamped, start >= end gives "". A null start is 0 and a null
    end is the length."""
    if source is None or not isinstance(source, str):
        return None
    length = len(source)
    begin = 0 if start is None else int(start)
    stop = length if end is None else int(end)
    if begin < 0:
        begin = max(0, begin + length)
    if stop < 0:
        stop = max(0, stop + length)
    stop = min(stop, length)
    return "" if begin >= stop else source[begin:stop]


FUNCTIONS: dict[str, t.Callable[..., t.Any]] = {
    "add": fn_add,
    "between": fn_between,
    "cidrMatch": fn_cidr_match,
    "concat": fn_concat,
    "divide": fn_divide,
    "endsWith": fn_ends_with,
    "indexOf": fn_index_of,
    "length": fn_length,
    "modulo": fn_modulo,
    "multiply": fn_multiply,
    "number": fn_number,
    "startsWith": fn_starts_with,
    "string": fn_string,
    "stringContains": fn_string_contains,
    "substring": fn_substring,
    "subtract": fn_subtract,
}

#: The `fn~(...)` variants: the same bodies with case-insensitive comparison.
FUNCTIONS_INSENSITIVE: dict[str, t.Callable[..., t.Any]] = {
    "between": lambda s, l_, r, g=False: fn_between(s, l_, r, g, True),
    "endsWith": lambda s, x: fn_ends_with(s, x, True),
    "indexOf": lambda s, x, start=None: fn_index_of(s, x, start, True),
    "startsWith": lambda s, x: fn_starts_with(s, x, True),
    "stringContains": lambda s, x: fn_string_contains(s, x, True),
}

_BY_LOWER = {name.lower(): name for name in FUNCTIONS}


def function(name: str, insensitive: bool = False) -> t.Callable[..., t.Any]:
    """The implementation of `name` (any case) or `name~`; UnsupportedError for an unknown name."""
    canonical = _BY_LOWER.get(name.lower())
    table = FUNCTIONS_INSENSITIVE if insensitive else FUNCTIONS
    if canonical is None or canonical not in table:
        raise UnsupportedError(f"function {name}{'~' if insensitive else ''}() has no implementation")
    return table[canonical]
