"""Exception lists → one predicate `is_excepted(doc)`, with the semantics of the query Kibana builds for them.

Kibana turns the items into an Elasticsearch filter (`build_exception_filter.ts`) that is negated and applied before
the rule's query runs, so an excepted event never reaches the query (and cannot join a sequence). The clauses:

| entry      | Elasticsearch clause          | here                                                               |
|------------|-------------------------------|--------------------------------------------------------------------|
| match      | match_phrase {field: value}   | any value of the field equals `value` (keyword: case-sensitive)    |
| match_any  | should of match_phrase        | any value equals any of the values                                 |
| wildcard   | wildcard {field: value}       | any value matches the `*`/`?` pattern (case-sensitive)             |
| exists     | exists {field}                | the field has a non-null value                                     |
| list       | terms on the value list       | any value is in the list (ip_range lists: CIDRs and `a-b` ranges)  |
| nested     | nested query                  | one object of the array satisfies every sub-entry                  |

`excluded` wraps the clause in must_not. Entries of an item are ANDed, items ORed. An item with `os_types` only
applies when `host.os.type` is one of them (or, as Kibana's second copy of the clause says, the lower-cased
`host.os.name` is). Items whose `expire_time` has passed are dropped before compiling.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import typing as t

from vigil.exceptions.model import Entry, ExceptionError, ExceptionItem, ExceptionList

Predicate = t.Callable[[dict], bool]
ValueLists = t.Callable[[str], t.Optional[tuple[str, list[str]]]]


def _flat(value: t.Any) -> list:
    """Every leaf value of a field, as Elasticsearch indexes it: arrays flattened, nulls dropped."""
    if value is None or not isinstance(value, (list, dict, str, int, float)):
        return []  # missing (None or the engine's missing-field sentinel)
    if isinstance(value, list):
        out: list = []
        for v in value:
            out.extend(_flat(v))
        return out
    return [value]


def _equals(doc_value: t.Any, wanted: str) -> bool:
    """match_phrase against a keyword, numeric, boolean or ip field: the query text is coerced to the field's type."""
    if isinstance(doc_value, bool):
        return wanted.lower() == ("true" if doc_value else "false")
    if isinstance(doc_value, (int, float)):
        try:
            return float(wanted) == float(doc_value)
        except ValueError:
            return False
    if isinstance(doc_value, str):
        if doc_value == wanted:
            return True
        # An ip field queried with a CIDR matches every address in it (Elasticsearch term query on `ip`).
        if "/" in wanted and _looks_ip(doc_value):
            return _in_cidr(doc_value, wanted)
    return False


def _looks_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _in_cidr(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _in_range(ip: str, spec: str) -> bool:
    if "/" in spec:
        return _in_cidr(ip, spec)
    if "-" in spec:
        low, _, high = spec.partition("-")
        try:
            addr = ipaddress.ip_address(ip)
            return ipaddress.ip_address(low.strip()) <= addr <= ipaddress.ip_address(high.strip())
        except (ValueError, TypeError):
            return False
    return ip == spec


def _entry_predicate(entry: Entry, value_lists: ValueLists) -> Predicate:
    from vigil.engine.fields import getter  # the engine's field access: nested, flattened and array paths alike
    from vigil.eql import semantics

    get = getter(entry.field)
    kind = entry.type
    if kind == "exists":
        def test(doc: dict) -> bool:
            return bool(_flat(get(doc)))
    elif kind == "match":
        wanted = t.cast(str, entry.value)

        def test(doc: dict) -> bool:
            return any(_equals(v, wanted) for v in _flat(get(doc)))
    elif kind == "match_any":
        options = t.cast(tuple, entry.value)

        def test(doc: dict) -> bool:
            return any(_equals(v, w) for v in _flat(get(doc)) for w in options)
    elif kind == "wildcard":
        matcher = semantics.wildcard_matcher(t.cast(str, entry.value), insensitive=False)

        def test(doc: dict) -> bool:
            return any(isinstance(v, str) and matcher(v) for v in _flat(get(doc)))
    elif kind == "list":
        found = value_lists(t.cast(str, entry.list_id))
        if found is None:
            raise ExceptionError(f"value list {entry.list_id!r} does not exist (import it first)")
        list_type, values = found
        if list_type == "ip_range":
            def test(doc: dict) -> bool:
                return any(isinstance(v, str) and any(_in_range(v, s) for s in values) for v in _flat(get(doc)))
        else:
            members = frozenset(values)

            def test(doc: dict) -> bool:
                return any((v if isinstance(v, str) else str(v)) in members for v in _flat(get(doc)))
    elif kind == "nested":
        subs = [_entry_predicate(e, value_lists) for e in entry.entries]

        def test(doc: dict) -> bool:
            # Every sub-entry must hold for the SAME object of the array (Elasticsearch nested semantics).
            objects = get(doc)
            objects = objects if isinstance(objects, list) else [objects]
            return any(isinstance(o, dict) and all(s(o) for s in subs) for o in objects)
    else:  # pragma: no cover - rejected by the model
        raise ExceptionError(f"unknown entry type {kind!r}")
    if entry.operator == "excluded":
        return lambda doc: not test(doc)
    return test


def _os_predicate(os_types: tuple[str, ...]) -> Predicate:
    from vigil.engine.fields import getter

    wanted = set(os_types)
    _os_type, _os_name = getter("host.os.type"), getter("host.os.name")

    def test(doc: dict) -> bool:
        if any(v in wanted for v in _flat(_os_type(doc))):
            return True
        return any(isinstance(v, str) and v.lower() in wanted for v in _flat(_os_name(doc)))

    return test


def compile_item(item: ExceptionItem, value_lists: ValueLists) -> Predicate:
    """True when every entry of the item (and its os_types restriction) holds for the document."""
    tests = [_entry_predicate(e, value_lists) for e in item.entries]
    if item.os_types:
        tests.append(_os_predicate(item.os_types))
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(test(doc) for test in tests)


def compile_exceptions(
    lists: t.Iterable[ExceptionList],
    *,
    at: t.Optional[dt.datetime] = None,
    value_lists: t.Optional[ValueLists] = None,
) -> t.Optional[Predicate]:
    """One predicate for all live items of `lists` (None when there is nothing to apply).

    Args:
        lists: the exception lists of a rule.
        at: the execution start; items that expired before it are dropped (Kibana `removeExpiredExceptions`).
        value_lists: resolves a value list id to (type, values), e.g. `ExceptionStore.value_list`.
    """
    at = at or dt.datetime.now(dt.timezone.utc)
    resolve = value_lists or (lambda _id: None)
    items = [item for lst in lists for item in lst.items if not item.expired(at)]
    if not items:
        return None
    tests = [compile_item(item, resolve) for item in items]
    return lambda doc: any(test(doc) for test in tests)
