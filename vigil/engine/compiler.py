"""Compile EQL expressions (the typed AST) into Python closures, built once per query, run once per event.

    compile_expression(expr)  -> doc -> value        a value or None (null); a bare field gives ALL its values
    compile_predicate(expr)   -> doc -> bool         does the condition match (null is no match)
    compile_event_filter(q)   -> doc -> bool         category (any element of the category field) and condition

Meaning comes from `vigil.eql.semantics`, which names the two evaluation contexts Elasticsearch uses: comparisons of
a field with constants are "query context" (any value of a multi-valued field may match; negations are two-valued
`must_not`), everything else is "script context" (first doc value, three-valued nulls). `compile_predicate` chooses
the context per node exactly where ES's query translator would.

No tree is walked per event: each node becomes a closure over its children's closures. The shapes rules use most
get more: `and` chains of `field == "c"` / `field in (...)` / `field : (...)` / `field < number`, their query-context
negations (`!=`, `not in`, `not field : (...)`) and the category test are inlined into one generated function
(`fields.fuse`), cheapest-to-reject conjuncts first; a whole `:` / `like` pattern list is ONE matcher
(`semantics.wildcard_set_matcher`: a frozenset, `startswith(tuple)`, `endswith(tuple)`, one alternation regex), and
`in` uses frozensets. Measured on the Nping rule: about 1.3-1.5 M events/s on decoded dicts on a loaded 2-core box.
"""

from __future__ import annotations

import contextlib
import typing as t

from vigil.engine.dispatch import COARSE, UNSELECTIVE
from vigil.engine.fields import FieldTest, fuse, getter, normalise, values_of
from vigil.eql import ast
from vigil.eql import semantics as sem
from vigil.eql.optimizer import optimize
from vigil.errors import Location, UnsupportedError

Doc = t.Any
ValueFn = t.Callable[[Doc], t.Any]
Predicate = t.Callable[[Doc], bool]

__all__ = ["compile_expression", "compile_predicate", "compile_event_filter"]


def compile_expression(expr: ast.Expr) -> ValueFn:
    """`doc -> value` in script context. A bare field returns every value it holds (a list for a multi-valued field,
    None when missing or empty) so that sequence/sample join keys can expand arrays as ES does; inside functions,
    arithmetic and comparisons a field contributes its first doc value (`semantics.doc_value`)."""
    if isinstance(expr, ast.Field):
        return getter(expr.name)
    return _value(optimize(expr))


def compile_predicate(expr: ast.Expr) -> Predicate:
    """`doc -> bool`: True only when the condition is true for the document (null and false are no match)."""
    return _query(optimize(expr))


def compile_event_filter(query: ast.EventQuery, *, category_field: str = "event.category") -> Predicate:
    """`doc -> bool` for `<category> where <condition>`.

    The category is a case-sensitive term on `category_field` (ES builds `Equals(event.category, "<name>")`), so
    it matches when any element of a multi-valued category equals the name; `any` (category None) matches every
    document."""
    condition_expr = optimize(query.condition)
    if query.category is None:
        return _query(condition_expr)
    category = query.category
    category_test = _equals_test(category_field, category)
    # One flat conjunction (category first: it is the most selective test in practice) saves a call per event.
    if isinstance(condition_expr, ast.Literal) and condition_expr.value is True:
        return fuse([category_test])
    operands = condition_expr.operands if isinstance(condition_expr, ast.And) else (condition_expr,)
    return fuse([category_test] + [_inline(o) or _query(o) for o in _ordered(operands)])


# ==================================================================================================== query context
def _query(expr: ast.Expr) -> Predicate:
    if isinstance(expr, ast.And):
        operands = _ordered(expr.operands)
        tests = [_inline(o) for o in operands]
        if any(tests):
            return fuse([test or _query(o) for test, o in zip(tests, operands)])
        return _all([_query(o) for o in operands])
    inline = _inline(expr)
    if inline is not None:
        return fuse([inline])
    if isinstance(expr, ast.Or):
        return _any([_query(o) for o in expr.operands])
    if isinstance(expr, ast.Not):
        if _translatable(expr.operand):
            inner = _query(expr.operand)
            return lambda doc: not inner(doc)
        # ES keeps `not <script>` inside the script: three-valued, so not(null) stays null = no match.
        value = _value(expr.operand)
        return lambda doc: value(doc) is False
    translated = _translate(expr)
    if translated is not None:
        return translated
    value = _value(expr)
    return lambda doc: value(doc) is True


def _translatable(expr: ast.Expr) -> bool:
    """Would ES turn this node into a Lucene query (rather than a script)? Mirrors `_translate`."""
    if isinstance(expr, (ast.And, ast.Or, ast.Not)):
        return True
    return _translate(expr) is not None


def _all(preds: list[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda doc: a(doc) and b(doc)
    if len(preds) == 3:
        a, b, c = preds
        return lambda doc: a(doc) and b(doc) and c(doc)
    if len(preds) == 4:
        a, b, c, d = preds
        return lambda doc: a(doc) and b(doc) and c(doc) and d(doc)
    if len(preds) == 5:
        a, b, c, d, e = preds
        return lambda doc: a(doc) and b(doc) and c(doc) and d(doc) and e(doc)
    return lambda doc: all(p(doc) for p in preds)


def _any(preds: list[Predicate]) -> Predicate:
    """`p0(doc) or p1(doc) or ...` as one generated function (a generator over the list costs more than the
    tests of a short exclusion list)."""
    if len(preds) == 1:
        return preds[0]
    namespace = {f"p{i}": p for i, p in enumerate(preds)}
    body = " or ".join(f"p{i}(doc)" for i in range(len(preds)))
    exec(f"def disjunction(doc):\n    return bool({body})", namespace)  # noqa: S102 -- names only
    return namespace["disjunction"]  # type: ignore[return-value]


def _literal_value(expr: ast.Expr) -> tuple[bool, t.Any]:
    """(True, value) when expr is a constant (a literal, or a negated numeric literal)."""
    if isinstance(expr, ast.Literal):
        return True, expr.value
    if isinstance(expr, ast.Negate) and isinstance(expr.operand, ast.Literal):
        return True, sem.negate(expr.operand.value)
    return False, None


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _translate(expr: ast.Expr) -> t.Optional[Predicate]:
    """A query-context predicate for the node, or None when ES would evaluate it as a script."""
    if isinstance(expr, ast.Comparison):
        return _translate_comparison(expr)
    if isinstance(expr, ast.InSet) and isinstance(expr.value, ast.Field):
        options = [_literal_value(o) for o in expr.options]
        if all(is_const for is_const, _ in options):
            values = [v for _, v in options if v is not None]
            pred = _field_in(expr.value.name, values, expr.case_insensitive)
            if expr.negated:
                return lambda doc: not pred(doc)
            return pred
        return None
    if isinstance(expr, ast.Match) and isinstance(expr.value, ast.Field):
        with _located(expr):
            return _field_match(expr.value.name, expr.kind, [p.value for p in expr.patterns])
    if isinstance(expr, ast.FunctionCall):
        return _translate_function(expr)
    if isinstance(expr, ast.Field):
        # a bare boolean field as a condition is the term query `field == true`
        return _field_compare(expr.name, "==", True)
    return None


def _translate_comparison(expr: ast.Comparison) -> t.Optional[Predicate]:
    left_const, left = _literal_value(expr.left)
    right_const, right = _literal_value(expr.right)
    op = expr.op
    if (right_const and right is None) or (left_const and left is None):
        if op not in ("==", "!="):
            return None  # `x < null` is a script returning null
        other = expr.left if right_const and right is None else expr.right
        # ES ReplaceNullChecks: `x == null` is IsNull(x), `x != null` is IsNotNull(x); for a field, an exists query.
        get = getter(other.name) if isinstance(other, ast.Field) else _value(other)
        if op == "==":
            return lambda doc: get(doc) is None
        return lambda doc: get(doc) is not None
    if isinstance(expr.left, ast.Field) and right_const:
        return _field_compare(expr.left.name, op, right)
    if isinstance(expr.right, ast.Field) and left_const:
        return _field_compare(expr.right.name, _FLIP[op], left)
    return None


def _field_compare(name: str, op: str, literal: t.Any) -> Predicate:
    """`field op constant` as a term (==, !=) or range query: any value may satisfy it; `!=` is NOT(term)."""
    get = getter(name)
    date = sem.is_date_field(name)
    if op in ("==", "!="):
        if literal.__class__ is str and not date:
            eq = fuse([_equals_test(name, literal)])
        else:
            def eq(doc: Doc) -> bool:
                value = get(doc)
                if value is None:
                    return False
                if value.__class__ is list:
                    return any(sem.values_equal(v, literal, date=date) for v in value)
                return sem.values_equal(value, literal, date=date)
        if op == "==":
            return eq
        return lambda doc: not eq(doc)

    if not date and _is_number(literal):
        return fuse([_range_test(name, op, literal)])
    in_values = _range_values(op, literal, date)

    def in_range(doc: Doc) -> bool:
        value = get(doc)
        return value is not None and in_values(value)

    return in_range


def _is_number(value: t.Any) -> bool:
    return value.__class__ is int or value.__class__ is float


def _range_values(op: str, literal: t.Any, date: bool) -> t.Callable[[t.Any], bool]:
    """A test of a raw field value (one value, or a list as JSON gave it) for a range query: any value may satisfy
    it, ordered by `semantics.values_order`."""
    test = sem.order_test(op)

    def in_values(value: t.Any) -> bool:
        for v in values_of(normalise(value)):
            order = sem.values_order(v, literal, date=date)
            if order is not None and test(order):
                return True
        return False

    return in_values


# `field < number` and friends: a number against a number is plain Python ordering (exactly what `values_order`
# computes for int/float on both sides; JSON has no NaN); any other value (a list, a string, a boolean) takes the
# general path. The operator comes from a fixed set, so it is safe to paste into the source.
_RANGE_BODY = """
    if v.__class__ is int or v.__class__ is float:
        if not v {op} L{{i}}:
            return False
    elif v is None or not general{{i}}(v):
        return False"""


def _range_test(name: str, op: str, literal: t.Any) -> FieldTest:
    """`field op number` (a range query on a non-date field) as a FieldTest that `fuse` inlines."""
    if op not in ("<", "<=", ">", ">="):
        raise ValueError(f"not a range operator: {op}")
    return FieldTest(name, _RANGE_BODY.format(op=op), {"L": literal, "general": _range_values(op, literal, False)})


def _field_in(name: str, options: list[t.Any], insensitive: bool) -> Predicate:
    """`field in (constants)` as a terms query (any value matches any option); `in~` folds case."""
    if sem.is_date_field(name):
        return _any([_field_compare(name, "==", o) for o in options]) if options else (lambda doc: False)
    strings, fallback = _membership(options, insensitive)
    if not insensitive:
        return fuse([FieldTest(name, _IN_BODY, {"S": strings, "fallback": fallback})])
    return fuse([FieldTest(name, _IN_FOLDED_BODY, {"S": strings, "F": sem.fold_case, "fallback": fallback})])


def _membership(options: list[t.Any], insensitive: bool) -> tuple[frozenset[str], t.Callable[[t.Any], bool]]:
    """The option strings (folded for `in~`) and a test of any raw value against all options, with the coercions
    of `semantics.values_equal` (a keyword value equals the text of a numeric option, a numeric value equals a
    numeric string option, booleans equal "true"/"false")."""
    fold = sem.fold_case if insensitive else None
    strings = frozenset(
        (fold(o) if fold else o) if isinstance(o, str) else sem.java_string(o) for o in options
    )
    numbers = set()
    booleans = set()
    for o in options:
        if isinstance(o, bool):
            booleans.add(o)
        elif isinstance(o, (int, float)):
            numbers.add(o)
        elif isinstance(o, str):
            number = sem.parse_number(o)
            if number is not None:
                numbers.add(number)
            if o in ("true", "false"):
                booleans.add(o == "true")
    numbers_f = frozenset(numbers)
    booleans_f = frozenset(booleans)

    def member(v: t.Any) -> bool:
        cls = v.__class__
        if cls is str:
            return (fold(v) if fold else v) in strings
        if cls is bool:
            return v in booleans_f
        if cls is int or cls is float:
            return v in numbers_f
        return False

    return strings, _any_value_of(member)


def _field_match(name: str, kind: str, patterns: list[t.Any]) -> Predicate:
    """`field : p`, `like`, `regex` (and `~` forms) as wildcard/regexp queries: any string value may match."""
    return fuse([_match_test(name, kind, patterns)])


def _match_test(name: str, kind: str, patterns: list[t.Any]) -> FieldTest:
    """`field : (p, ...)` / `like` / `regex` as a FieldTest `fuse` inlines: a string value (folded once for `:` and
    `like~`) goes through ONE matcher for the whole pattern list (`semantics.wildcard_set_matcher`); arrays,
    numbers and booleans take the general path (any value may match)."""
    strings = [p for p in patterns if isinstance(p, str)]
    insensitive = kind in (":", "like~")
    fold = None
    if kind in ("regex", "regex~"):
        tests = [sem.regex_matcher(p, kind == "regex~") for p in strings]
        test = tests[0] if len(tests) == 1 else (lambda s: any(f(s) for f in tests))
    else:
        fold = sem.fold_case if insensitive else None
        test = sem.wildcard_set_matcher(strings, insensitive)
    # `:` on a number or boolean is plain equality (ES InsensitiveEquals on a non-text field); like/regex never match.
    plain = [p for p in patterns if not (isinstance(p, str) and sem.has_wildcard(p))] if kind == ":" else []

    def one(v: t.Any) -> bool:
        if v.__class__ is str:
            return test(fold(v) if fold else v)
        return any(sem.values_equal(v, p) for p in plain)

    fallback = _any_value_of(one)
    if fold is None:
        return FieldTest(name, _MATCH_BODY, {"T": test, "fallback": fallback})
    return FieldTest(name, _MATCH_FOLDED_BODY, {"T": test, "F": fold, "fallback": fallback})


def _any_value_of(one: t.Callable[[t.Any], bool]) -> t.Callable[[t.Any], bool]:
    """A test of a raw JSON value (a scalar, or an array as JSON gave it) that is true when `one` holds for any of
    its indexed values: `any(one(v) for v in values_of(normalise(value)))` without building the flattened copy
    (arrays of strings such as `process.args` reach this for every rule testing them)."""

    def fallback(value: t.Any) -> bool:
        if value.__class__ is list:
            for v in value:
                if v.__class__ is list:
                    if fallback(v):
                        return True
                elif v is not None and one(v):
                    return True
            return False
        return value is not None and one(value)

    return fallback


def _translate_function(call: ast.FunctionCall) -> t.Optional[Predicate]:
    """Functions ES turns into queries (any value matches): startsWith(field, c) and startsWith~ (prefix query),
    case-sensitive stringContains(field, c) (wildcard `*c*`), cidrMatch(field, c...) (terms on an ip field)."""
    if not call.args or not isinstance(call.args[0], ast.Field):
        return None
    consts = [_literal_value(a) for a in call.args[1:]]
    if not all(is_const for is_const, _ in consts):
        return None
    values = [v for _, v in consts]
    name = call.name.lower()
    if name == "startswith" and len(values) == 1 and isinstance(values[0], str):
        prefix = sem.fold_case(values[0]) if call.case_insensitive else values[0]
        fold = sem.fold_case if call.case_insensitive else None
        return _any_value(call.args[0].name,
                          lambda v: v.__class__ is str and (fold(v) if fold else v).startswith(prefix))
    if name == "stringcontains" and not call.case_insensitive and len(values) == 1 and isinstance(values[0], str):
        test = sem.wildcard_matcher("*" + values[0] + "*", False)
        return _any_value(call.args[0].name, lambda v: v.__class__ is str and test(v))
    if name == "cidrmatch" and values:
        return _any_value(call.args[0].name, _memoized_cidr_match(values))
    return None


#: Distinct addresses remembered per cidrMatch call site before the memo starts afresh (bounded memory).
CIDR_MEMO_SIZE = 4096


def _memoized_cidr_match(cidrs: list[t.Any]) -> t.Callable[[t.Any], bool]:
    """`cidrMatch(value, cidrs...) is true` for one value, remembering the answer per address string: parsing an
    address (`ipaddress`) costs more than the rest of a rule, and events repeat the same few addresses."""
    memo: dict[str, bool] = {}

    def test(value: t.Any) -> bool:
        if value.__class__ is not str:
            return sem.fn_cidr_match(value, *cidrs) is True
        found = memo.get(value)
        if found is None:
            if len(memo) >= CIDR_MEMO_SIZE:
                memo.clear()
            found = memo[value] = sem.fn_cidr_match(value, *cidrs) is True
        return found

    return test


def _any_value(name: str, test: t.Callable[[t.Any], bool]) -> Predicate:
    get = getter(name)

    def pred(doc: Doc) -> bool:
        value = get(doc)
        if value is None:
            return False
        if value.__class__ is list:
            return any(test(v) for v in value)
        return test(value)

    return pred


# The hottest shapes are inlined into generated conjunctions (`fields.fuse`): a closure per test (getter call, then
# test call) costs more than the test itself. Bodies only reference constants through the namespace.
_EQUALS_BODY = """
    if v.__class__ is str:
        if v != L{i}:
            return False
    elif v.__class__ is list:
        if L{i} not in v:
            for x in v:
                if x.__class__ is not str:
                    if not coerced{i}(v):
                        return False
                    break
            else:
                return False
    elif v is None or not coerced{i}(v):
        return False"""

_IN_BODY = """
    if v.__class__ is str:
        if v not in S{i}:
            return False
    elif v is None or not fallback{i}(v):
        return False"""

_IN_FOLDED_BODY = """
    if v.__class__ is str:
        if F{i}(v) not in S{i}:
            return False
    elif v is None or not fallback{i}(v):
        return False"""

_MATCH_BODY = """
    if v.__class__ is str:
        if not T{i}(v):
            return False
    elif v is None or not fallback{i}(v):
        return False"""

_MATCH_FOLDED_BODY = """
    if v.__class__ is str:
        if not T{i}(F{i}(v)):
            return False
    elif v is None or not fallback{i}(v):
        return False"""


def _equals_test(name: str, literal: str) -> FieldTest:
    """`field == "constant"` (a keyword term query): exact string first; coercions (numbers, booleans) and nested
    arrays go through `semantics.values_equal`."""

    def coerced(value: t.Any) -> bool:
        for v in values_of(normalise(value)):
            if v == literal or (v.__class__ is not str and sem.values_equal(v, literal)):
                return True
        return False

    return FieldTest(name, _EQUALS_BODY, {"L": literal, "coerced": coerced})


def _inline(expr: ast.Expr) -> t.Optional[FieldTest]:
    """A FieldTest for the shapes worth inlining, else None: `field == "c"`, `field in ("a", "b")` (and `in~`),
    `field : (...)` / `like` / `regex`, `field < number`, and the query-context negations of the first three
    (`!=`, `not in`, `not field : (...)`: Lucene `must_not`, true when no value matches or the field is missing)."""
    if isinstance(expr, ast.Not):
        return _negate(_inline(expr.operand))
    if (isinstance(expr, ast.Comparison) and expr.op == "!=" and isinstance(expr.left, ast.Field)
            and isinstance(expr.right, ast.Literal) and isinstance(expr.right.value, str)
            and not sem.is_date_field(expr.left.name)):
        return _negate(_equals_test(expr.left.name, expr.right.value))
    if (isinstance(expr, ast.Comparison) and expr.op == "==" and isinstance(expr.left, ast.Field)
            and isinstance(expr.right, ast.Literal) and isinstance(expr.right.value, str)
            and not sem.is_date_field(expr.left.name)):
        return _equals_test(expr.left.name, expr.right.value)
    if (isinstance(expr, ast.InSet) and isinstance(expr.value, ast.Field) and not sem.is_date_field(expr.value.name)
            and expr.options and all(isinstance(o, ast.Literal) and isinstance(o.value, str) for o in expr.options)):
        strings, fallback = _membership([o.value for o in expr.options], expr.case_insensitive)
        if expr.case_insensitive:
            test = FieldTest(expr.value.name, _IN_FOLDED_BODY, {"S": strings, "F": sem.fold_case, "fallback": fallback})
        else:
            test = FieldTest(expr.value.name, _IN_BODY, {"S": strings, "fallback": fallback})
        return _negate(test) if expr.negated else test
    if isinstance(expr, ast.Match) and isinstance(expr.value, ast.Field):
        with _located(expr):
            return _match_test(expr.value.name, expr.kind, [p.value for p in expr.patterns])
    if isinstance(expr, ast.Comparison) and expr.op in ("<", "<=", ">", ">="):
        for field, other, op in ((expr.left, expr.right, expr.op), (expr.right, expr.left, _FLIP[expr.op])):
            is_const, literal = _literal_value(other)
            if (isinstance(field, ast.Field) and is_const and _is_number(literal)
                    and not sem.is_date_field(field.name)):
                return _range_test(field.name, op, literal)
    return None


# The must_not form of each negatable body: a string value fails when it matches; any other value (an array, a
# number, a boolean) fails when the general test says one of its values matches; a missing field passes.
_NOT_EQUALS_BODY = """
    if v.__class__ is str:
        if v == L{i}:
            return False
    elif v is not None and coerced{i}(v):
        return False"""

_NEGATED_BODIES = {
    _EQUALS_BODY: _NOT_EQUALS_BODY,
    _IN_BODY: _IN_BODY.replace("if v not in S", "if v in S"),
    _IN_FOLDED_BODY: _IN_FOLDED_BODY.replace("not in S", "in S"),
    _MATCH_BODY: _MATCH_BODY.replace("if not T", "if T"),
    _MATCH_FOLDED_BODY: _MATCH_FOLDED_BODY.replace("if not T", "if T"),
}
for _body in list(_NEGATED_BODIES)[1:]:
    _NEGATED_BODIES[_body] = _NEGATED_BODIES[_body].replace(
        "elif v is None or not fallback{i}(v):", "elif v is not None and fallback{i}(v):")
    assert _NEGATED_BODIES[_body] != _body and "is not None and fallback" in _NEGATED_BODIES[_body]
del _body


def _negate(test: t.Optional[FieldTest]) -> t.Optional[FieldTest]:
    """`not <test>` in query context (Lucene must_not), or None when the body has no negated form (ranges)."""
    if test is None:
        return None
    body = _NEGATED_BODIES.get(test.body)
    return None if body is None else FieldTest(test.field, body, test.env)


# Conjuncts run cheapest-to-reject first: a test on a field most events share a value of (`host.os.type`, checked
# again for every Linux rule) rarely rejects, an exclusion (`not ...`) rarely rejects and is often long, while a
# test on a specific field (`process.name : (...)`) rejects most events. Query-context conjunctions are two-valued
# and side-effect free, so their order never changes the answer.
def _rank(expr: ast.Expr) -> int:
    field = _tested_field(expr)
    if isinstance(expr, ast.Not) or (isinstance(expr, ast.InSet) and expr.negated) or (
            isinstance(expr, ast.Comparison) and expr.op == "!="):
        return 3
    if field is None:
        return 1 if isinstance(expr, ast.Or) else 2
    if field in UNSELECTIVE:
        return 4
    if field in COARSE:
        return 2
    return 0


def _tested_field(expr: ast.Expr) -> t.Optional[str]:
    if isinstance(expr, ast.Comparison):
        for side in (expr.left, expr.right):
            if isinstance(side, ast.Field):
                return side.name
    if isinstance(expr, (ast.InSet, ast.Match)) and isinstance(expr.value, ast.Field):
        return expr.value.name
    return None


def _ordered(operands: t.Sequence[ast.Expr]) -> list[ast.Expr]:
    return sorted(operands, key=_rank)


# =================================================================================================== script context
def _value(expr: ast.Expr) -> ValueFn:
    if isinstance(expr, ast.Literal):
        constant = expr.value
        return lambda doc: constant
    if isinstance(expr, ast.Field):
        get = getter(expr.name)

        def first(doc: Doc) -> t.Any:
            value = get(doc)
            return value if value.__class__ is not list else sem.doc_value(value)

        return first
    if isinstance(expr, ast.Not):
        inner = _value(expr.operand)
        return lambda doc: sem.logical_not(inner(doc))
    if isinstance(expr, ast.And):
        parts = [_value(o) for o in expr.operands]

        def conj(doc: Doc) -> t.Any:
            result: t.Optional[bool] = True
            for part in parts:
                result = sem.logical_and(result, part(doc))
                if result is False:
                    return False
            return result

        return conj
    if isinstance(expr, ast.Or):
        parts = [_value(o) for o in expr.operands]

        def disj(doc: Doc) -> t.Any:
            result: t.Optional[bool] = False
            for part in parts:
                result = sem.logical_or(result, part(doc))
                if result is True:
                    return True
            return result

        return disj
    if isinstance(expr, ast.Comparison):
        return _value_comparison(expr)
    if isinstance(expr, ast.InSet):
        value = _value(expr.value)
        options = [_value(o) for o in expr.options]
        ci, negated = expr.case_insensitive, expr.negated

        def membership(doc: Doc) -> t.Any:
            result = sem.in_set(value(doc), [o(doc) for o in options], ci)
            return sem.logical_not(result) if negated else result

        return membership
    if isinstance(expr, ast.Match):
        with _located(expr):
            return _value_match(expr)
    if isinstance(expr, ast.Arithmetic):
        left, right, op = _value(expr.left), _value(expr.right), expr.op
        return lambda doc: sem.arithmetic(op, left(doc), right(doc))
    if isinstance(expr, ast.Negate):
        inner = _value(expr.operand)
        return lambda doc: sem.negate(inner(doc))
    if isinstance(expr, ast.FunctionCall):
        fn = sem.function(expr.name, expr.case_insensitive)
        args = [_value(a) for a in expr.args]
        if len(args) == 1:
            (a,) = args
            return lambda doc: _safe(fn, a(doc))
        if len(args) == 2:
            a, b = args
            return lambda doc: _safe(fn, a(doc), b(doc))
        return lambda doc: _safe(fn, *[a(doc) for a in args])
    raise UnsupportedError(f"cannot evaluate {type(expr).__name__} expressions")


@contextlib.contextmanager
def _located(node: ast.Node) -> t.Iterator[None]:
    """Give an UnsupportedError raised while compiling `node` (e.g. a regex operator) the node's line:column."""
    try:
        yield
    except UnsupportedError as error:
        if error.location is None and node.pos is not None:
            error.location = Location(line=node.pos[0], column=node.pos[1])
        raise


def _safe(fn: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
    """A function that cannot handle its inputs (a wrong type reaching it from a document) gives null."""
    try:
        return fn(*args)
    except (TypeError, ValueError, OverflowError):
        return None


def _value_comparison(expr: ast.Comparison) -> ValueFn:
    op = expr.op
    left_const, lv = _literal_value(expr.left)
    right_const, rv = _literal_value(expr.right)
    if (left_const and lv is None) or (right_const and rv is None):
        if op in ("==", "!="):
            other = _value(expr.right if left_const and lv is None else expr.left)
            if op == "==":
                return lambda doc: other(doc) is None
            return lambda doc: other(doc) is not None
        return lambda doc: None
    left, right = _value(expr.left), _value(expr.right)
    if op in ("==", "!=") and any(isinstance(side, ast.Field) and side.optional for side in (expr.left, expr.right)):
        # ES replaces an unmapped optional field `?f` by the null literal before `ReplaceNullChecks`, so
        # `?x == ?y` is IsNull(?y) when ?x is absent (true when both are). vigil has no mappings: an optional field
        # absent from the event stands for that null literal.
        equals = op == "=="

        def optional_equality(doc: Doc) -> t.Any:
            a, b = left(doc), right(doc)
            if a is None or b is None:
                return (a is None and b is None) == equals
            return sem.compare(op, a, b)

        return optional_equality
    date = any(isinstance(side, ast.Field) and sem.is_date_field(side.name) for side in (expr.left, expr.right))
    if date:
        def dated(doc: Doc) -> t.Any:
            a, b = left(doc), right(doc)
            ia, ib = sem.to_instant(a), sem.to_instant(b)
            if ia is not None and ib is not None:
                return sem.compare(op, ia, ib)
            return sem.compare(op, a, b)

        return dated
    return lambda doc: sem.compare(op, left(doc), right(doc))


def _value_match(expr: ast.Match) -> ValueFn:
    """`:`/like/regex inside a script (e.g. as a function argument): the first value, null when null."""
    value = _value(expr.value)
    kind = expr.kind
    if kind in ("regex", "regex~"):
        tests = [sem.regex_matcher(p.value, kind == "regex~") for p in expr.patterns]
        fold = None
    else:
        insensitive = kind in (":", "like~")
        fold = sem.fold_case if insensitive else None
        tests = [sem.wildcard_set_matcher([p.value for p in expr.patterns if isinstance(p.value, str)], insensitive)]

    def match(doc: Doc) -> t.Any:
        v = value(doc)
        if v is None:
            return None
        if not isinstance(v, str):
            if kind == ":":
                return any(sem.values_equal(v, p.value) for p in expr.patterns)
            return False
        text = fold(v) if fold else v
        return any(test(text) for test in tests)

    return match
