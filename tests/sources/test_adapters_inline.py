"""Converters inlined into compiled shapes (`inline` writers in convert.py and crowdstrike_fdr.py) give exactly the
function's result, on the values their fast paths must refuse: look-alike digits, signs, tabs, quotes, odd lengths."""

from __future__ import annotations

import pytest

from vigil.sources.adapters import convert, crowdstrike_fdr
from vigil.sources.adapters.mapping import Copy, compile_mapping

TRICKY = [
    "1795874400980", "1795874400.976", "0001795874400", "+179587440098", " 1795874400.97", "1795874400.9x6",
    "١٧٩٥٨٧٤٤٠٠٩٨٠", "1795874400９８０", "1795874400.９７６", "17958744009801", "179587440098", "1795874400,976",
    "1795874400.9760", "2025-10-14T01:41:14.201Z", "42", "007", "٣", "1_000", "-5", "9" * 150, "0" * 40, "00",
    "abc", "", 1795874400980, 1795874400, 42, 0, -1, -1001, 10**20, 1.5, True, ["a"], [],
]


@pytest.mark.parametrize("converter", [convert.epoch_ms, convert.epoch_seconds, convert.to_int,
                                       convert.nonzero_hash, convert.as_list])
def test_inlined_converter_equals_the_function(converter):
    assert getattr(converter, "inline", None) is not None
    fn = compile_mapping("inline", [Copy("v", "out.v", converter)])
    source = None
    for value in TRICKY:
        raw = {"v": value}
        try:
            want = fn.interpret(raw)
        except (TypeError, ValueError, OverflowError, OSError) as error:
            with pytest.raises(type(error)):
                fn(raw)
            continue
        assert fn(raw) == want, value
        source = source or next(iter(fn.shapes.values())).__source__
    assert source is not None and "c1 = k0(x0)" not in source  # really inlined: an expression, not just the call


def test_the_seconds_cache_never_holds_what_int_accepts_but_isdigit_refuses():
    # auditd_log formats stamps through the same cache; `int()` accepts a sign or blanks there.
    convert._prefix("+179587440")
    convert._prefix(" 179587440")
    assert "+179587440" not in convert._PREFIXES and " 179587440" not in convert._PREFIXES
    assert crowdstrike_fdr.normalize({"event_simpleName": "ProcessRollup2", "timestamp": "+179587440098"}) == \
        crowdstrike_fdr._map.interpret({"event_simpleName": "ProcessRollup2", "timestamp": "+179587440098"})


@pytest.mark.parametrize("command_line", [
    "nping --tcp 10.0.0.1", "a\tb  c", 'a "b c" d', "a\\ b", "x\u00a0y z", "x\u2003y", "line\nnext", "  ", "a\x1cb",
    '"unterminated', "",
])
@pytest.mark.parametrize("platform", ["Lin", "Win", "Other"])
@pytest.mark.parametrize("executable", ["/usr/bin/nping", "/", "C:\\Windows\\cmd.exe", "/usr/bin/"])
def test_crowdstrike_arguments_and_name_equal_the_reference(command_line, platform, executable):
    raw = {"event_simpleName": "ProcessRollup2", "aid": "a", "id": "i", "event_platform": platform,
           "ImageFileName": executable, "CommandLine": command_line, "UserName": "root", "UID": "0", "RUID": "0",
           "MD5HashData": "0" * 32, "SHA256HashData": "ab", "ConfigStateHash": "ab"}
    want = crowdstrike_fdr._map.interpret(raw)
    assert crowdstrike_fdr.normalize(raw) == want
    assert crowdstrike_fdr.normalize(dict(raw)) == want  # second time: cached shape and cached name
