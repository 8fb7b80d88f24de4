"""Compiled record shapes (vigil/sources/adapters/shapes.py) give exactly the reference semantics (`interpret`)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.sources.adapters import (
    convert,
    crowdstrike_fdr,
    endgame,
    mapping,
    sentinel_one_cloud_funnel,
)
from vigil.sources.adapters.mapping import (
    Append,
    Copy,
    Derive,
    First,
    Lookup,
    Set,
    compile_mapping,
)

MAPS = {"crowdstrike_fdr": crowdstrike_fdr._map, "sentinel_one_cloud_funnel": sentinel_one_cloud_funnel._map,
        "endgame": endgame._map}


def keys_of(fn) -> list[str]:
    return sorted({src for step in fn.steps for src in mapping._sources(step)})


# Raw values: strings of every shape the converters care about, plus the "absent" values and a few non-strings.
_values = st.one_of(
    st.sampled_from(["", "0", "42", "Lin", "Win", "ProcessRollup2", "EndOfProcess", "PROCESSCREATION", "ProcessExit",
                     "1795874400980", "1795874400.976", "17958744", "0" * 40, "/usr/bin/nping", "/",
                     "C:\\Windows\\cmd.exe", "nping --tcp 10.0.0.1", '"a b" c', "a, b", "x\\y", "linux", "signed"]),
    st.none(), st.integers(-5, 2**41), st.booleans(), st.text(max_size=6),
)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), which=st.sampled_from(sorted(MAPS)))
def test_compiled_shapes_equal_the_interpreter(data, which):
    fn = MAPS[which]
    keys = data.draw(st.lists(st.sampled_from(keys_of(fn) + ["extra", "tgt.extra"]), unique=True, max_size=25))
    raw = {key: data.draw(_values) for key in keys}
    before = json.dumps(raw, sort_keys=True, default=str)
    try:
        want = fn.interpret(raw)
    except (TypeError, ValueError, AttributeError, OverflowError, OSError) as error:
        # Converters are written for the vendor's value types; on others both paths must fail the same way.
        try:
            fn(raw)
        except type(error):
            return
        raise AssertionError(f"interpreter raised {error!r}, compiled shape did not") from None
    assert fn(raw) == want
    assert fn(raw) == want  # second call: the cached shape
    assert json.dumps(raw, sort_keys=True, default=str) == before  # the caller's dict is untouched


def test_shapes_are_cached_and_bounded(monkeypatch):
    monkeypatch.setattr(mapping, "MAX_SHAPES", 2)
    fn = compile_mapping("bounded", [Copy("a", "x.a"), Copy("b", "x.b", convert.to_int)])
    for raw in ({"a": "1"}, {"b": "2"}, {"a": "1", "b": "2"}, {"b": "x", "a": "1"}):
        assert fn(raw) == fn.interpret(raw)
    assert len(fn.shapes) == 2  # the last two went through the interpreter


def test_shape_source_decides_presence_at_compile_time():
    fn = compile_mapping("src", [
        First(("A", "B"), "x.first"), Set("x.kind", "event"), Lookup("K", {"s": (["start"],)}, ("x.type",)),
        Derive(("A", "C"), ("x.pair", "x.n"), lambda a, c: (a + (c or ""), 2), needs=1),
        Append(("A", "B", "C"), "related.all"),
    ])
    assert fn({"B": "b", "K": "s"}) == {"x": {"first": "b", "kind": "event", "type": ["start"]},
                                        "related": {"all": ["b"]}}
    assert fn({"A": "a", "B": "a", "C": "c", "K": "?"}) == {
        "x": {"first": "a", "kind": "event", "pair": "ac", "n": 2}, "related": {"all": ["a", "c"]}}
    source_b = next(iter(fn.shapes.values())).__source__
    assert "None" not in source_b.split("return")[0].replace("is not None", "")  # no absence tests left
    assert "raw['B']" in source_b and "raw['A']" not in source_b and "['start']" in source_b
