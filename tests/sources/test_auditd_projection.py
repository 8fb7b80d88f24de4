"""Projection (`AuditLogParser(fields=...)`): every listed field exactly as in the full document, the same events at
the same lines, and `Emitted.complete()` giving the full document. Plus the memoized parses behind it."""

from __future__ import annotations

import copy
import typing as t
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sources import auditd_log_reference as reference
from tests.sources.test_auditd_log import yaml_tests
from tests.sources.test_auditd_log_fast import _record
from vigil.sources import auditd_fields
from vigil.sources.auditd_log import FULL, AuditLogParser, looks_like_audit_line, plan_for

_MISSING = object()
# Leaves and objects of the documents, fields they never have, and the Nping rule's fields.
ECS_FIELDS = [
    "@timestamp", "event", "event.action", "event.category", "event.type", "event.outcome", "event.module",
    "host", "host.os.type", "host.name", "service.type", "tags", "user", "user.id", "user.name", "user.audit.id",
    "user.audit.name", "user.effective", "user.group.name", "user.selinux", "process", "process.name", "process.pid",
    "process.parent.pid", "process.args", "process.title", "process.working_directory", "process.executable",
    "file", "file.path", "file.mode", "auditd", "auditd.data", "auditd.paths", "auditd.summary.how", "agent.type",
    "process.name.keyword", "_index",
]
NPING = ("event.category", "host.os.type", "event.type", "event.action", "process.name", "@timestamp")


def get(doc: dict, path: str) -> t.Any:
    value: t.Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def restrict(doc: dict, fields: t.Iterable[str]) -> dict:
    return {f: get(doc, f) for f in fields}


def feed_all(parser: AuditLogParser, lines: list[str]) -> list:
    out = []
    for number, line in enumerate(lines, 1):
        out.extend(parser.feed(line.encode("utf-8", "surrogatepass"), number, number * 10))
    return out + parser.flush()


def assert_projection_holds(lines: list[str], fields: t.Collection[str]) -> int:
    full = feed_all(AuditLogParser(), lines)
    projected = feed_all(AuditLogParser(fields=fields), lines)
    assert [(e.line, e.offset) for e in projected] == [(e.line, e.offset) for e in full]
    for p, f in zip(projected, full):
        assert f.complete is None
        assert restrict(p.doc, fields) == restrict(f.doc, fields), (fields, p.doc, f.doc)
        assert (p.complete() if p.complete else p.doc) == f.doc
        if p.complete:
            assert p.complete() is not p.complete()  # a new document each time
    return len(full)


_group_lines = st.tuples(st.sampled_from([None, "web-1"]), st.lists(_record, min_size=1, max_size=6)).map(
    lambda x: [(f"node={x[0]} " if x[0] else "") + f"type={rtype} msg=audit(1700000000.123:42):"
               + (" " + body if body else "") for rtype, body in x[1]])


_word = st.text(alphabet=st.sampled_from(list("ab -/.")), min_size=1, max_size=6)
_quoted_or_hex = _word.flatmap(lambda w: st.sampled_from(['"' + w + '"', w.encode().hex().upper()]) if " " not in w
                               else st.just(w.encode().hex().upper()))
# A whole exec event as the kernel writes it: every record type a field of the document comes from.
_exec_lines = st.tuples(st.sampled_from([None, "web-1"]), _quoted_or_hex, st.lists(_quoted_or_hex, max_size=3),
                        _quoted_or_hex, st.sampled_from(["", '\x1dUID="root" AUID="alice" EUID="bob"']),
                        st.sampled_from(["59", "2"]), st.booleans()).map(
    lambda x: [(f"node={x[0]} " if x[0] else "") + line for line in [
        f"type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall={x[5]} success=yes exit=0 a0=1 a1=2 "
        f"a2=3 a3=4 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=1001 ses=3 comm={x[1]} exe={x[1]} "
        f"key=\"exec\"{x[4]}",
        f"type=EXECVE msg=audit(1700000000.123:42): argc={len(x[2])}" + "".join(f" a{i}={a}" for i, a in enumerate(x[2])),
        f"type=CWD msg=audit(1700000000.123:42): cwd={x[3]}",
        f"type=PATH msg=audit(1700000000.123:42): item=0 name={x[1]} inode=7 mode=0100755 ouid=0 ogid=0"
        + ('\x1dOUID="root"' if x[6] else ""),
        f"type=PROCTITLE msg=audit(1700000000.123:42): proctitle={x[3]}"]])


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(st.one_of(_group_lines, _exec_lines), min_size=1, max_size=3),
       fields=st.sets(st.sampled_from(ECS_FIELDS), max_size=6))
def test_projected_fields_equal_the_full_documents(groups, fields):
    lines = [line.replace(":42)", f":{i})") for i, group in enumerate(groups) for line in group]
    assert_projection_holds(lines, fields)


@settings(max_examples=100, deadline=None)
@given(group=_group_lines)
def test_nping_fields_on_generated_events(group):
    assert_projection_holds(group, NPING)


def test_go_libaudit_and_the_bundled_sample(shared):
    text = (resources.files("vigil") / "data" / "samples" / "auditd.log").read_text()
    # split("\n"), not splitlines(): that would also split at the ENRICHED separator \x1d
    samples = [[line for line in text.split("\n") if looks_like_audit_line(line.encode())]]
    for path in sorted(shared("datasets", "auditbeat", "go-libaudit").glob("*.yaml")):
        samples.extend(yaml_tests(path).values())
    checked = 0
    for lines in samples:
        for name in ECS_FIELDS:
            checked += assert_projection_holds(lines, [name])
        for size in range(0, len(ECS_FIELDS), 5):
            checked += assert_projection_holds(lines, ECS_FIELDS[size: size + 5])
        checked += assert_projection_holds(lines, NPING)
    assert checked > 100


def test_plans():
    assert plan_for(None) is FULL and plan_for(["auditd.sequence"]) is FULL
    nping = plan_for(NPING)
    assert not (nping.names or nping.execve or nping.paths or nping.cwd or nping.title or nping.auditd)
    assert plan_for(["process"]).execve and plan_for(["process.args"]).execve and not plan_for(["process.pid"]).execve
    assert plan_for(["user.name"]).names and plan_for(["file.path"]).paths
    assert plan_for(["agent.type"]) == plan_for([])


def test_unlisted_records_are_not_split(monkeypatch):
    """The point of projection: with the Nping fields only the SYSCALL record is split."""
    seen: list[str] = []
    for name in ("parse_cached", "parse_single"):
        real = getattr(auditd_fields, name)
        monkeypatch.setattr(f"vigil.sources.auditd_ecs.{name}",
                            lambda body, arg, real=real: seen.append(body) or real(body, arg))
    lines = ['type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 '
             'ppid=1 pid=2 auid=0 uid=0 comm="nping" exe="/usr/bin/nping"',
             'type=EXECVE msg=audit(1.2:3): argc=1 a0="nping"', 'type=PATH msg=audit(1.2:3): item=0 name="/x"',
             'type=PROCTITLE msg=audit(1.2:3): proctitle=6E70696E67']
    [event] = feed_all(AuditLogParser(fields=NPING), lines)
    assert seen == [] and event.doc["process"]["name"] == "nping" and event.doc["event"]["action"] == "executed"
    assert "args" in event.complete()["process"] and len(seen) == 3


def test_documents_share_no_mutable_objects():
    """Parses are memoized across events: one document's dicts must not be another's."""
    line = ('type=SYSCALL msg=audit(1.2:{n}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 '
            'ppid=1 pid=2 auid=0 uid=0 comm="ls" exe="/bin/ls"\x1dUID="root"')
    path = 'type=PATH msg=audit(1.2:{n}): item=0 name="/bin/ls" inode=5'
    lines = [x.format(n=n) for n in (1, 2) for x in (line, path)]
    first, second = (e.doc for e in feed_all(AuditLogParser(), lines))
    pristine = copy.deepcopy(second)
    for doc in (first, second):
        doc["auditd"]["paths"][0]["name"] = "changed"
        doc["auditd"]["data"]["tty"] = "changed"
        doc["user"]["name"] = "changed"
        doc["process"]["name"] = "changed"
    third = feed_all(AuditLogParser(), [x.format(n=3) for x in (line, path)])[0].doc
    pristine["auditd"]["sequence"] = 3
    pristine["@timestamp"] = third["@timestamp"]
    assert third == pristine


_hexish = st.from_regex(r"[0-9a-f]{1,8}", fullmatch=True)
_tail = st.lists(st.tuples(st.sampled_from(["auid", "uid", "pid", "comm", "exe", "key", "tty", "ses", "subj", "msg",
                                            "arch"]),
                           st.sampled_from(['"ls"', "6C73", "(null)", "", "1000", "'x=1 pid=9'", '"a b"', "x'y"])),
                 max_size=8).map(lambda kv: "".join(f" {k}={v}" for k, v in kv))


def test_one_field_records_decode_as_the_reference():
    for rtype, key, bodies in (("CWD", "cwd", [' cwd="/a b"', " cwd=2F6120", " cwd=", " cwd=(null)", ' cwd="x" y=1',
                                               " cwd='q'", ' cwd="unterminated', " cwd=a\tb", ' cwd=x"y']),
                               ("PROCTITLE", "proctitle", [" proctitle=6C73002D6C", ' proctitle="(sshd)"'])):
        for body in bodies:
            assert auditd_fields.parse_single(body, key) == reference.parse_fields(body, rtype)[0], body
            assert auditd_fields.parse_single(body, key) == reference.parse_fields(body, rtype)[0], body  # memo


def test_syscall_memo_is_bypassed_when_tails_do_not_repeat_and_results_stay_exact():
    bodies = [f" arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid={n} "
              f'comm="p{n}"' for n in range(3 * auditd_fields._WINDOW)]
    for body in bodies + bodies[:50]:
        assert auditd_fields.parse_syscall(body) == reference.parse_fields(body, "SYSCALL")[0]
    assert auditd_fields._bypass > 0
    auditd_fields._bypass = auditd_fields._calls = auditd_fields._misses = 0  # later tests exercise the memo again


def test_body_memos_are_bypassed_when_bodies_do_not_repeat_and_results_stay_exact():
    memo = auditd_fields._BODIES
    bodies = [f' item=0 name="/bin/p{n}" inode={n} mode=0100755' for n in range(3 * auditd_fields._WINDOW)]
    for body in bodies + bodies[:50]:
        assert auditd_fields.parse_cached(body, False) == reference.parse_fields(body, "PATH")[0]
        cwd = f" cwd={body[16:-20].encode().hex()}"
        assert auditd_fields.parse_single(cwd, "cwd") == reference.parse_fields(cwd, "CWD")[0]
    assert memo.bypass > 0
    memo.bypass = memo.calls = memo.misses = 0  # later tests exercise the memo again


@settings(max_examples=400, deadline=None)
@given(success=st.sampled_from(["", " success=yes exit=0", " success=no exit=-2"]), regs=st.lists(_hexish, min_size=4,
       max_size=4), pid=st.integers(0, 99999), tail=_tail, sep=st.sampled_from(["", " ", "\t"]))
def test_syscall_prefix_and_memoized_tail_parse_as_the_reference(success, regs, pid, tail, sep):
    body = (f" arch=c000003e syscall=59{success} a0={regs[0]} a1={regs[1]} a2={regs[2]} a3={regs[3]} items=2 "
            f"ppid=1 pid={pid}{sep}{tail}")
    want = reference.parse_fields(body, "SYSCALL")[0]
    assert auditd_fields.parse_syscall(body) == want
    assert auditd_fields.parse_syscall(body) == want  # memoized tail
