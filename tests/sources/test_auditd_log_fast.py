"""The fast raw audit.log path gives exactly what the field-by-field original gave (tests/sources/
auditd_log_reference.py): on real go-libaudit events, the bundled sample, and generated records that hit every
decoding rule (quotes, hex, `(null)`, user-space `msg='...'`, split EXECVE arguments, ENRICHED names)."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sources import auditd_log_reference as reference
from tests.sources.test_auditd_log import yaml_tests
from vigil.sources import auditd_log


def groups(lines: list[str]) -> list[tuple[str | None, str, list[tuple[str, str]]]]:
    """Records grouped by (node, stamp) the way the parser splits a line, in first-line order."""
    out: dict[tuple, list] = {}
    for text in lines:
        node = None
        if text.startswith("node="):
            node, _, text = text[5:].partition(" ")
        space = text.find(" ")
        close = text.find("):", space)
        out.setdefault((node, text[space + 11: close]), []).append((text[5:space], text[close + 2:]))
    return [(node, stamp, records) for (node, stamp), records in out.items()]


def assert_same(lines: list[str]) -> int:
    checked = 0
    for node, stamp, records in groups(lines):
        want = reference.normalize_group(node, stamp, records)
        assert auditd_log.normalize_group(node, stamp, records) == want, (stamp, records)
        checked += 1
    return checked


def test_every_go_libaudit_event_normalizes_as_before(shared):
    folder = shared("datasets", "auditbeat", "go-libaudit")
    checked = 0
    for path in sorted(folder.glob("*.yaml")):
        for lines in yaml_tests(path).values():
            checked += assert_same(lines)
    assert checked >= 15


def test_bundled_sample_normalizes_as_before():
    text = (resources.files("vigil") / "data" / "samples" / "auditd.log").read_text()
    # split("\n"), not splitlines(): that would also split at the ENRICHED separator \x1d
    lines = [line for line in text.split("\n") if auditd_log.looks_like_audit_line(line.encode())]
    assert assert_same(lines) >= 30


def test_parse_fields_matches_the_reference_on_the_tricky_cases():
    cases = [
        ("SYSCALL", 'arch=c000003e syscall=59 comm="a b" exe=2F62696E2F6C73 key=(null) subj=x:y:z:s0 tty="pts0"'),
        ("USER_CMD", "pid=1 uid=0 auid=1000 msg='cwd=\"/root\" cmd=6C73202D6C terminal=pts/0 res=success'"),
        ("EXECVE", 'argc=2 a0="ls" a1_len=4 a1[0]=6162 a1[1]=6364'),
        ("PATH", 'item=0 name="unterminated nametype=NORMAL'),
        ("PATH", 'item=0 name=(null) inode=5'),
        ("CWD", "cwd=2F6F6464"),  # odd-length hex stays as written
        ("SYSCALL", 'comm="x" weird=a"b'),
        ("SYSCALL", 'comm="x"\x1dUID="root" AUID="unset"'),
        ("PROCTITLE", "proctitle="),
    ]
    for rtype, rest in cases:
        assert auditd_log.parse_fields(rest, rtype) == reference.parse_fields(rest, rtype), rest


# Values that exercise every decoding rule of an audit field.
_text = st.text(alphabet=st.sampled_from(list("ab /-_.:=0F\t'\"")), max_size=12)
_value = st.one_of(
    st.sampled_from(["0", "1000", "4294967295", "unset", "(null)", "", "yes", "no", "c000003e", "59", "0100755"]),
    _text.map(lambda s: '"' + s.replace('"', "") + '"'),
    _text.map(lambda s: s.encode().hex().upper()),
    st.from_regex(r"[0-9A-F]{1,9}", fullmatch=True),
)
_key = st.sampled_from(["arch", "syscall", "success", "pid", "ppid", "uid", "auid", "euid", "gid", "egid", "suid",
                        "sgid", "fsuid", "fsgid", "ses", "comm", "exe", "key", "subj", "name", "cwd", "proctitle",
                        "mode", "inode", "ouid", "ogid", "rdev", "argc", "a0", "a1", "a2", "a1_len", "a1[0]",
                        "a1[1]", "res", "cmd", "terminal", "exit", "items"])
_body = st.lists(st.tuples(_key, _value), max_size=14).map(lambda kv: " ".join(f"{k}={v}" for k, v in kv))
_enriched = st.lists(st.tuples(st.sampled_from(["UID", "AUID", "EUID", "GID", "EGID", "OUID", "SYSCALL"]),
                               st.sampled_from(['"root"', '"alice"', '"unset"', '"?"', "x"])), max_size=4)
_record = st.tuples(
    st.sampled_from(["SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE", "EOE", "USER_CMD", "USER_START", "CONFIG_CHANGE"]),
    _body, _enriched,
).map(lambda r: (r[0], r[1] + ("\x1d" + " ".join(f"{k}={v}" for k, v in r[2]) if r[2] else "")))


@settings(max_examples=150, deadline=None)
@given(records=st.lists(_record, min_size=1, max_size=6), node=st.sampled_from([None, "web-1"]),
       stamp=st.sampled_from(["1700000000.123:42", "1700000000.5:7", "1700000000:9", "1700000001.123456:1"]))
def test_generated_events_normalize_as_before(records, node, stamp):
    assert auditd_log.normalize_group(node, stamp, records) == reference.normalize_group(node, stamp, records)


@pytest.mark.parametrize("stamp", ["abc.123:1", "99999999999999999999.1:2"])
def test_an_unrepresentable_time_stamp_is_a_bad_event_not_a_crash(stamp):
    bad: list[tuple[int, str]] = []
    parser = auditd_log.AuditLogParser(on_bad=lambda line, reason: bad.append((line, reason)))
    parser.feed(f"type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 pid=1", 3)
    assert parser.flush() == [] and bad and bad[0][0] == 3 and "cannot normalize" in bad[0][1]
