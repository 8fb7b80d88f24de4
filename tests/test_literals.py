"""Required literals: what they derive, what they refuse, and that they never reject a line that could match."""

from __future__ import annotations

import random
import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.eql import parse
from vigil.eql.literals import UNICODE_FOLD_TRIGGERS, Needle, required_literals

NPING = (
    'process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", "exec_event", '
    '"start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"'
)


def texts(query: str) -> list[list[tuple[str, bool]]]:
    lits = required_literals(parse(query))
    assert lits is not None
    return [[(n.text.decode(), n.case_insensitive) for n in clause] for clause in lits.clauses]


def test_nping_prefers_the_rare_literal():
    lits = required_literals(parse(NPING))
    assert [n.text for n in lits.best_clause()] == [b"nping"]
    clauses = texts(NPING)
    assert [("process", False)] in clauses  # the category
    assert [("linux", False)] in clauses
    # exec_event / executed contain exec, process_started contains start: implied, so dropped
    assert [("exec", False), ("start", False), ("ProcessRollup2", False)] in clauses


def test_nping_formula_on_lines():
    lits = required_literals(parse(NPING))
    line = b'{"event":{"category":["process"],"type":["start"],"action":"exec"},"host":{"os":{"type":"linux"}},'
    assert lits.may_match(line + b'"process":{"name":"nping"}}')
    assert not lits.may_match(line + b'"process":{"name":"bash"}}')
    assert lits.may_match(line + b'"process":{"name":"np\\u0069ng"}}')  # escaped spelling still parsed


def test_case_insensitive_and_wildcards():
    assert texts('any where process.name : "NPING.EXE"') == [[("nping.exe", True)]]
    assert texts('any where process.executable : "*\\\\Windows\\\\*cmd?.exe"') == [[("windows", True)]]
    assert texts('any where process.name like "np*ing"') == [[("ing", False)]]
    assert texts('any where process.name in~ ("Bash", "ZSH")') == [[("bash", True), ("zsh", True)]]
    assert texts('any where startsWith~(process.name, "NP")') == [[("np", True)]]
    assert texts('any where stringContains(process.command_line, "--privileged")') == [[("--privileged", False)]]


def test_regex_longest_required_run():
    assert texts('any where process.name regex "nping[0-9]+"') == [[("nping", False)]]
    assert texts('any where process.name regex~ "ab+cdef.*"') == [[("cdef", True)]]
    assert required_literals(parse('any where process.name regex "(nping|nmap)"')) is None


@pytest.mark.parametrize(
    "query",
    [
        'any where process.name != "nping"',
        'any where not process.name == "nping"',
        'any where process.name not in ("nping", "nmap")',
        'any where process.name == "nping" or process.pid > 5',
        'any where process.pid == 4688',
        'any where event.code == "4688"',  # may be stored as the number 4688
        'any where source.ip == "10.0.0.1"',  # ::ffff:10.0.0.1 is the same address
        'any where process.name == null',
        'any where process.name : "*"',
        'any where length(process.name) == 5',
    ],
)
def test_nothing_usable(query):
    assert required_literals(parse(query)) is None


def test_or_distributes_and_double_negation_keeps():
    assert texts('any where process.name == "nping" or process.name == "nmap"') == [[("nping", False), ("nmap", False)]]
    assert texts('any where not not process.name == "nping"') == [[("nping", False)]]


def test_json_encoding_of_needles():
    assert texts(r'any where process.name == "a\"b\\c"') == [[(r"a\"b\\c", False)]]
    assert texts(r'any where process.name == "tab\there"') == [[(r"tab\there", False)]]


def test_sequences_need_any_step_including_until_and_missing():
    q = 'sequence by host.id with maxspan=1m [process where process.name == "nping"] ![any where destination.port == 1] [file where file.name == "x.sh"]'
    assert required_literals(parse(q)) is None  # the missing step has no literal: its events must all be read
    q = 'sequence [process where process.name == "nping"] [file where file.name == "x.sh"] until [process where process.name == "kill"]'
    best = {n.text for n in required_literals(parse(q)).best_clause()}
    assert best == {b"nping", b"x.sh", b"kill"}


def test_fold_trigger_table_matches_unicode():
    """Every non-ASCII character whose case forms contain ASCII letters is listed, with those letters."""
    expected: dict[bytes, str] = {}
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        forms = (c.lower(), c.upper(), c.casefold(), c.lower().upper(), c.upper().lower())
        letters = {ch.lower() for f in forms for ch in f if ch.isascii() and ch.isalpha()}
        if letters:
            expected[c.encode()] = "".join(sorted(letters))
    assert {k: "".join(sorted(set(v))) for k, v in UNICODE_FOLD_TRIGGERS.items()} == expected


# ------------------------------------------------------------------------------------------ safety property
_ALTERNATES: dict[str, list[str]] = {}
for _raw, _letters in UNICODE_FOLD_TRIGGERS.items():
    for _letter in _letters:
        _ALTERNATES.setdefault(_letter, []).append(_raw.decode())


def _spell(value: str, rnd: random.Random, case_insensitive: bool) -> str:
    """A JSON string literal of a value equal to `value` (under case folding when asked), escaped at random."""
    out = []
    for ch in value:
        if case_insensitive and ch.isascii() and ch.isalpha():
            ch = rnd.choice([ch.lower(), ch.upper()] + _ALTERNATES.get(ch.lower(), []))
        roll = rnd.random()
        if roll < 0.2:
            out.append("".join(f"\\u{u:04x}" for u in _utf16(ch)))
        elif ch == "/" and roll < 0.5:
            out.append("\\/")
        else:
            out.append(orjson.dumps(ch).decode()[1:-1])
    return '"' + "".join(out) + '"'


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(min_size=1, max_size=12).filter(lambda v: v.strip()),
    prefix=st.text(max_size=5),
    suffix=st.text(max_size=5),
    ci=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_escaped_spellings_never_skipped(value, prefix, suffix, ci, seed):
    op = ":" if ci else "=="
    query = f"any where process.name {op} {orjson.dumps(value).decode()}"
    try:
        lits = required_literals(parse(query))
    except Exception:  # noqa: BLE001 - values the EQL lexer rejects are not the point here
        return
    if lits is None:
        return
    rnd = random.Random(seed)
    line = ('{"process":{"name":' + _spell(prefix + value + suffix, rnd, ci) + "}}").encode()
    orjson.loads(line)  # the line is valid JSON holding the value
    assert lits.may_match(line), (query, line)


def test_needle_triggers():
    assert Needle(b"a/b").triggers == (b"\\u", b"\\/")
    ci = Needle(b"kiss", case_insensitive=True).triggers
    assert "\u212a".encode() in ci and "ſ".encode() in ci and "ı".encode() in ci and "ß".encode() in ci
