"""The step index (vigil/engine/stepindex.py): a step's index predicate gives exactly its compiled filter's verdict,
before and after calibration and whatever fields are volatile; the candidate mask never drops a step that matches;
one-field necessary conditions are derived from `and`/`or` as documented."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.engine.compiler import compile_event_filter
from vigil.engine.dispatch import step_queries
from vigil.engine.multi import MultiRuleEngine
from vigil.engine.stepindex import StepIndex, necessary, residual, step_atoms
from vigil.eql import parse
from vigil.eql.printer import to_eql

QUERIES = [
    'process where host.os.type == "linux" and process.name == "nping"',
    'process where process.name : ("bash", "sh") and process.args : "-c" and user.id != "0"',
    'process where (process.name == "nc" and process.args == "-e") or (process.name == "socat" and '
    'process.command_line like "*exec*")',
    'network where not cidrmatch(destination.ip, "10.0.0.0/8", "::1") and destination.port in (22, 4444)',
    'any where event.category in ("process", "network") and startsWith(process.executable, "/tmp/")',
    'process where process.args_count >= 3 and length(process.command_line) > 10',
    'file where file.path : "/etc/*" and concat(process.name, file.name) != "x"',
    'sequence by host.id [process where process.name == "wget"] [network where process.name == "wget" and '
    'destination.port == 443] until [process where event.type == "end"]',
    'process where ?process.parent.executable != null and process.parent.name regex~ "ba.h"',
]

VALUES = {
    "host.os.type": ["linux", "windows", None, ["linux"], 7],
    "event.category": ["process", "network", "file", ["process", "network"], [], None, 3],
    "event.type": ["start", "end", ["start", "change"]],
    "process.name": ["nping", "bash", "BASH", "sh", "nc", "socat", "wget", "passwd", ["bash", "sh"], None, 42],
    "process.args": [["-c", "x"], ["-e"], ["-C"], [], None, "-c", [1, "-c"]],
    "process.args_count": [1, 3, "4", None, 2.5],
    "process.command_line": ["socat exec:/bin/sh", "ls -la /tmp/x", "", None, "short"],
    "process.executable": ["/tmp/a", "/usr/bin/x", None, {"odd": "object"}],
    "process.parent.executable": ["/bin/bash", None],
    "process.parent.name": ["bash", "BASH", "zsh", None],
    "user.id": ["0", 0, "1000", ["0", "5"], None],
    "destination.ip": ["10.1.2.3", "8.8.8.8", "::1", "2001:db8::1", "not-an-ip", None, ["8.8.8.8", "10.0.0.1"]],
    "destination.port": [22, "4444", 443, 80, None],
    "file.path": ["/etc/passwd", "/ETC/x", "/home/a"],
    "file.name": ["passwd", "bash"],
    "host.id": ["h1", "h2"],
}


def _nest(flat):
    doc = {"@timestamp": "2026-01-01T00:00:00Z"}
    for name, value in flat.items():
        node = doc
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


events = st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALUES.items()}).map(_nest)


def _steps():
    out = []
    for text in QUERIES:
        for step in step_queries(parse(text)):
            out.append(("event.category", step))
    return out


STEPS = _steps()
FILTERS = [compile_event_filter(step) for _, step in STEPS]


def _check(index: StepIndex, docs) -> None:
    predicates = [index.predicate(bit) for bit in range(len(STEPS))]
    for doc in docs:
        mask = index.mask(doc)
        for bit, (reference, predicate) in enumerate(zip(FILTERS, predicates)):
            expected = reference(doc)
            assert predicate(doc) == expected, (to_eql(STEPS[bit][1]), doc)
            if expected:
                assert mask >> bit & 1, (to_eql(STEPS[bit][1]), doc)


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(events, min_size=1, max_size=40), calibrate=st.booleans(), volatile=st.booleans())
def test_index_predicates_equal_the_compiled_filters(docs, calibrate, volatile):
    index = StepIndex(STEPS)
    if calibrate:
        index.calibrate(docs[: len(docs) // 2])  # may be empty: planned without a sample, as `vigil watch` does
    if volatile:  # as if calibration had found every field's values unique
        for field_index in index.fields.values():
            field_index.volatile = True
    _check(index, docs)
    _check(index, docs)  # again, answered from the memos


def test_memo_bound_keeps_answers_exact(monkeypatch):
    from vigil.engine import stepindex

    monkeypatch.setattr(stepindex, "MEMO_LIMIT", 3)
    index = StepIndex(STEPS)
    docs = [_nest({"event.category": "network", "destination.ip": str(ipaddress.ip_address(167772160 + i)),
                   "destination.port": 22}) for i in range(20)]
    index.calibrate(docs[:5])
    _check(index, docs)
    assert all(len(f.memo) <= 3 for f in index.fields.values())


def test_necessary_conditions_from_and_and_or():
    cond = parse('process where (process.name == "a" and user.id == "0") or (process.name : "b*" and x == 1)')
    condition = cond.body.condition
    assert to_eql(necessary(condition, "process.name")) == 'process.name == "a" or process.name : "b*"'
    assert necessary(condition, "user.id") is None  # the second branch does not constrain it
    step = parse('process where process.name == "a" and add(process.pid, process.ppid) > 3').body
    assert [a[0] for a in step_atoms(step, "event.category")] == ["event.category", "process.name"]
    assert to_eql(residual(step)) == "add(process.pid, process.ppid) > 3"
    assert to_eql(residual(step, {"process.name"})) == 'process.name == "a" and add(process.pid, process.ppid) > 3'


def test_engine_uses_the_index_and_reports_it():
    engine = MultiRuleEngine(QUERIES)
    engine.index.calibrate([_nest({"event.category": "process", "process.name": "bash"})] * 10)
    described = engine.index.describe()
    assert described["calibrated"] and described["steps"] == len(STEPS)
    doc = _nest({"event.category": "process", "process.name": "nc", "process.args": ["-e"], "host.os.type": "linux"})
    assert engine.candidates(doc) >= {2}
    assert [engine.rules.index(r) for r, _ in engine.feed(doc)] == [2]
