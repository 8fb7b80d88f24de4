"""Compiled getters for dotted ECS field paths, over nested, flattened or mixed JSON documents.

`getter("process.parent.name")` returns a function `doc -> value` built once per field. It finds the value whether
the document nests it (`{"process": {"parent": {"name": ...}}}`), flattens it (`{"process.parent.name": ...}`) or
mixes both (`{"process": {"parent.name": ...}}`), and collects values through arrays of objects along the path
(`{"dns": {"answers": [{"ip": "a"}, {"ip": "b"}]}}` gives `["a", "b"]`), as Elasticsearch indexes them.

What a getter returns, in Elasticsearch's terms (a field's indexed values):

* `None` when the field is missing, is JSON `null`, or is an empty array (ES indexes no value for any of these);
* the value itself for a single value, including a one-element array (`["start"]` gives `"start"`: ES cannot tell
  the two apart once indexed);
* a `list` (flattened, nulls dropped, order kept) for two or more values.

Speed matters here: this runs for every field of every event. Each getter is generated once as straight-line
`dict.get` lookups of the nested path (the common case in ECS data); only when that fails does it search the
flattened and mixed forms. `fuse` inlines several such lookups and their tests into one function (an `and` chain).
When a nested path exists the flattened spelling of the same field is not consulted (documents holding both are
not produced by any ECS shipper).
"""

from __future__ import annotations

import typing as t

Getter = t.Callable[[t.Any], t.Any]

_CACHE: dict[str, Getter] = {}


def getter(path: str) -> Getter:
    """A fast function `doc -> value | list | None` for the dotted `path` (see the module doc for the shape)."""
    cached = _CACHE.get(path)
    if cached is None:
        cached = _CACHE[path] = _build(path)
    return cached


def normalise(value: t.Any) -> t.Any:
    """A raw JSON value as a getter returns it: None for null/[], the element of a one-element array, or a flat
    list without nulls."""
    if value.__class__ is list:
        return _normalise(value)
    return value


def values_of(value: t.Any) -> tuple[t.Any, ...]:
    """The indexed values of a getter result as a tuple: () for missing, (v,) for one value, the list otherwise."""
    if value is None:
        return ()
    if value.__class__ is list:
        return tuple(value)
    return (value,)


def _normalise(value: t.Any) -> t.Any:
    """Flatten nested arrays, drop nulls, and unwrap 0/1-element results (see the module doc)."""
    if len(value) == 1:  # the common shape (`"type": ["start"]`): no copy
        only = value[0]
        if only.__class__ is not list:
            return only  # a lone null gives None, as dropping it would
    out: list[t.Any] = []
    _extend(value, out)
    if not out:
        return None
    if len(out) == 1:
        return out[0]
    return out


def _extend(value: t.Any, out: list[t.Any]) -> None:
    if value is None:
        return
    if value.__class__ is list:
        for item in value:
            _extend(item, out)
    else:
        out.append(value)


_MISSING = object()
_EMPTY: dict[str, t.Any] = {}  # never written to: the default for absent levels of a nested path

# A getter is generated once per field as straight-line dict lookups: `dict.get` chains rather than try/except,
# because raising KeyError for every absent field (frequent: most rules name fields most events lack) costs more
# than the whole lookup. Only repr() of the path segments enters the source.
_GETTER = """
def get(doc):
{access}
    if v is MISSING:
        return slow(doc)
    if v.__class__ is list:
        return normalise_list(v)
    return v
"""


def access_source(path: str, indent: str = "    ") -> str:
    """Python statements that set `v` to the raw nested value of `path` in `doc`, or to `MISSING` when the nested
    path is absent. Absent levels default to an empty dict (`EMPTY`), so a missing field costs no exception; a
    non-object along the way (null, a string, an array of objects) raises AttributeError and is left to the
    general walk (the caller handles `v is MISSING`)."""
    parts = path.split(".")
    chain = "".join(f".get({part!r}, EMPTY)" for part in parts[:-1]) + f".get({parts[-1]!r}, MISSING)"
    return (f"{indent}try:\n{indent}    v = doc{chain}\n"
            f"{indent}except AttributeError:\n{indent}    v = MISSING")


def _build(path: str) -> Getter:
    namespace: dict[str, t.Any] = {
        "MISSING": _MISSING, "EMPTY": _EMPTY, "slow": _slow_getter(tuple(path.split("."))),
        "normalise_list": _normalise,
    }
    exec(_GETTER.format(access=access_source(path)), namespace)  # noqa: S102 -- source built from repr() only
    return namespace["get"]


_SLOW_CACHE: dict[tuple[str, ...], Getter] = {}


def _slow_getter(parts: tuple[str, ...]) -> Getter:
    """`_build_slow_getter(parts)`, built once per path (every fused test of a field shares it)."""
    cached = _SLOW_CACHE.get(parts)
    if cached is None:
        cached = _SLOW_CACHE[parts] = _build_slow_getter(parts)
    return cached


def _build_slow_getter(parts: tuple[str, ...]) -> Getter:
    """What a getter does when the nested lookup fails. Most often the field is simply absent (rules name many
    fields an event lacks); generated straight-line code proves that with the few dict lookups the general walk
    would make (the path's next segment and every dotted spelling of the rest, at each level that exists), without
    its recursion. A document that spells the path with dots, or holds an array or a non-object along it, takes
    the general walk (`_general_getter`), so answers are unchanged."""
    general = _general_getter(parts)
    lines = ["def slow(doc):", "    node = doc"]
    n = len(parts)
    for i, part in enumerate(parts):
        lines.append("    if node.__class__ is not dict:\n        return general(doc)")
        # a dotted key at this level (`{"parent.name": ...}` inside "process") may hold the rest of the path
        dotted = [".".join(parts[i:j]) for j in range(i + 2, n + 1)]
        if dotted:
            test = " or ".join(f"{key!r} in node" for key in dotted)
            lines.append(f"    if {test}:\n        return general(doc)")
        lines.append(f"    node = node.get({part!r}, MISSING)\n    if node is MISSING:\n        return None")
    lines.append("    return general(doc)")
    namespace: dict[str, t.Any] = {"MISSING": _MISSING, "general": general}
    exec("\n".join(lines), namespace)  # noqa: S102 -- source built from repr() of path segments only
    return namespace["slow"]


def _general_getter(parts: tuple[str, ...]) -> Getter:
    """The general walk: every way of splitting the remaining path into a (possibly dotted) key, through arrays."""
    n = len(parts)
    # keys[i][j] is the dotted key made of parts[i:j]; precomputed so the walk does no string joins.
    keys = [[".".join(parts[i:j]) if j > i else "" for j in range(n + 1)] for i in range(n + 1)]

    def collect(node: t.Any, i: int, out: list[t.Any]) -> None:
        if i == n:
            _extend(node, out)
            return
        if node.__class__ is list:
            for item in node:
                collect(item, i, out)
            return
        if not isinstance(node, dict):
            return
        row = keys[i]
        for j in range(i + 1, n + 1):
            key = row[j]
            if key in node:
                collect(node[key], j, out)

    full = keys[0][n]

    def get(doc: t.Any) -> t.Any:
        # Fully flattened documents ({"process.name": ...}) are common enough to deserve one direct lookup.
        try:
            value = doc[full]
        except (KeyError, TypeError):
            pass
        else:
            return _normalise(value) if value.__class__ is list else value
        out: list[t.Any] = []
        collect(doc, 0, out)
        if not out:
            return None
        if len(out) == 1:
            return out[0]
        return out

    return get


# ------------------------------------------------------------------------------------------ fused field tests
class FieldTest(t.NamedTuple):
    """One test on one field, as source for `fuse`: `body` sees the raw value `v` (a list is not yet normalised)
    and executes `return False` when the test fails. Names in `env` are referenced in `body` as `<name>{i}` (the
    block's index), so several tests can share one function."""

    field: str
    body: str
    env: dict[str, t.Any]


def fuse(tests: t.Sequence[t.Union[FieldTest, t.Callable[[t.Any], bool]]]) -> t.Callable[[t.Any], bool]:
    """One generated function `doc -> bool` that runs the tests in order and stops at the first failure (an `and`
    chain). Plain callables are called; FieldTests are inlined, which makes the conjunctions rules are made of run
    without a Python call per test."""
    lines = ["def test(doc):"]
    namespace: dict[str, t.Any] = {
        "MISSING": _MISSING, "EMPTY": _EMPTY, "normalise": normalise, "values_of": values_of,
    }
    for i, test in enumerate(tests):
        if isinstance(test, FieldTest):
            lines.append(access_source(test.field))
            lines.append(f"    if v is MISSING:\n        v = slow{i}(doc)")
            namespace[f"slow{i}"] = _slow_getter(tuple(test.field.split(".")))
            lines.append(test.body.format(i=i))
            namespace.update({f"{name}{i}": value for name, value in test.env.items()})
        else:
            namespace[f"pred{i}"] = test
            lines.append(f"    if not pred{i}(doc):\n        return False")
    lines.append("    return True")
    exec("\n".join(lines), namespace)  # noqa: S102 -- source built from repr() of field names only
    return namespace["test"]
