"""Exception lists: every entry kind, os_types, expiry, Kibana NDJSON round trip, located errors, the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.exceptions import (
    ExceptionItem,
    ExceptionList,
    ExceptionStore,
    compile_exceptions,
    describe_entry,
    parse_entry_spec,
    read_exception_ndjson,
    write_exception_ndjson,
)
from vigil.exceptions.model import ExceptionError, item_from_dict
from vigil.errors import Location

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def nping(**over) -> dict:
    """A Linux nping start as Elastic Defend writes it (nested _source)."""
    doc = {
        "@timestamp": "2026-11-28T11:58:00.000Z",
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"name": "web-01", "os": {"type": "linux", "name": "Ubuntu"}},
        "user": {"name": "alice", "id": "1000"},
        "process": {
            "name": "nping",
            "executable": "/usr/bin/nping",
            "args": ["nping", "--tcp", "-p", "80", "127.0.0.1"],
            "parent": {"name": "bash", "executable": "/usr/bin/bash"},
        },
    }
    for dotted, value in over.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return doc


def excepted(doc: dict, *entries: str, os_types=(), expire_time=None, value_lists=None) -> bool:
    item = ExceptionItem(
        item_id="i1", list_id="l1", name="t", entries=tuple(parse_entry_spec(e) for e in entries),
        os_types=tuple(os_types), expire_time=expire_time,
    )
    pred = compile_exceptions([ExceptionList("l1", "l1", items=(item,))], at=NOW, value_lists=value_lists)
    assert pred is not None
    return pred(doc)


# ---------------------------------------------------------------- the Nping rule's false-positive analysis, case by case
def test_by_user_account():
    assert excepted(nping(user__name="svc-netmon"), "user.name is svc-netmon")
    assert not excepted(nping(), "user.name is svc-netmon")


def test_by_host():
    assert excepted(nping(host__name="scanner-01"), "host.name is one of scanner-01, scanner-02")
    assert not excepted(nping(), "host.name is one of scanner-01, scanner-02")


def test_by_executable_path_of_a_known_script():
    doc = nping(process__parent={"name": "healthcheck.sh", "executable": "/opt/netops/bin/healthcheck.sh"})
    assert excepted(doc, "process.parent.executable matches /opt/netops/bin/*.sh")
    assert not excepted(nping(), "process.parent.executable matches /opt/netops/bin/*.sh")
    # wildcard on keyword is case-sensitive, as Elasticsearch's wildcard query
    assert not excepted(doc, "process.parent.executable matches /OPT/netops/*")


def test_by_parent_process():
    doc = nping(process__parent={"name": "ansible-playbook", "executable": "/usr/bin/python3"})
    assert excepted(doc, "process.parent.name is ansible-playbook", "user.name is alice")
    # entries are ANDed: one failing entry keeps the alert
    assert not excepted(doc, "process.parent.name is ansible-playbook", "user.name is bob")


def test_pen_test_window_expires():
    end = NOW + dt.timedelta(hours=1)
    assert excepted(nping(), "host.name is web-01", expire_time=end)
    item = ExceptionItem("i", "l", "pentest", (parse_entry_spec("host.name is web-01"),),
                         expire_time=NOW - dt.timedelta(minutes=1))
    assert compile_exceptions([ExceptionList("l", "l", items=(item,))], at=NOW) is None  # expired: nothing applies


# ------------------------------------------------------------------------------------------------- entry semantics
def test_match_is_case_sensitive_and_any_element_of_arrays():
    assert not excepted(nping(), "process.name is NPING")
    assert excepted(nping(), "process.args is 127.0.0.1")  # any element of an array
    assert excepted(nping(), "event.type is start")


def test_match_coerces_numbers_and_cidr_on_ip_fields():
    doc = nping(process__pid=4242, source={"ip": "10.1.2.3"})
    assert excepted(doc, "process.pid is 4242")
    assert excepted(doc, "source.ip is 10.0.0.0/8")
    assert not excepted(doc, "source.ip is 192.168.0.0/16")


def test_exists_and_excluded_operator():
    assert excepted(nping(), "process.parent.name exists")
    assert not excepted(nping(), "process.working_directory exists")
    assert excepted(nping(), "process.working_directory does not exist")
    assert excepted(nping(), "user.name is not root")
    assert not excepted(nping(), "user.name is not alice")
    assert excepted(nping(), "host.name does not match db-*")


def test_flattened_documents_are_read_like_nested_ones():
    flat = {"user.name": "svc-netmon", "host.os.type": "linux"}
    assert excepted(flat, "user.name is svc-netmon")


def test_os_types_restrict_an_item():
    assert excepted(nping(), "user.name is alice", os_types=["linux"])
    assert not excepted(nping(), "user.name is alice", os_types=["windows"])
    # Kibana's second clause: the lower-cased host.os.name
    doc = nping(host__os={"name": "Linux"})
    assert excepted(doc, "user.name is alice", os_types=["linux"])


def test_value_lists_keyword_and_ip_range(tmp_path):
    store = ExceptionStore(tmp_path)
    store.put_value_list("scanners", "keyword", ["scanner-01", "web-01", ""])
    store.put_value_list("mgmt", "ip_range", ["10.0.0.0/8", "192.168.1.10-192.168.1.20"])
    assert excepted(nping(), "host.name is in list scanners", value_lists=store.value_list)
    assert excepted(nping(source={"ip": "192.168.1.15"}), "source.ip is in list mgmt", value_lists=store.value_list)
    assert not excepted(nping(source={"ip": "192.168.1.21"}), "source.ip is in list mgmt",
                        value_lists=store.value_list)
    with pytest.raises(ExceptionError, match="does not exist"):
        excepted(nping(), "host.name is in list nope", value_lists=store.value_list)


def test_nested_entries_hold_on_the_same_object():
    doc = nping(process__Ext={"code_signature": [{"subject_name": "Acme", "trusted": False},
                                                 {"subject_name": "Other", "trusted": True}]})
    item = item_from_dict({"entries": [{"field": "process.Ext.code_signature", "type": "nested", "entries": [
        {"field": "subject_name", "type": "match", "operator": "included", "value": "Acme"},
        {"field": "trusted", "type": "match", "operator": "included", "value": "true"}]}]}, Location())
    pred = compile_exceptions([ExceptionList("l", "l", items=(item,))], at=NOW)
    assert not pred(doc)  # Acme is untrusted; the trusted one is Other: no single object satisfies both
    doc["process"]["Ext"]["code_signature"][0]["trusted"] = True
    assert pred(doc)


def test_items_are_ored():
    items = tuple(ExceptionItem(f"i{n}", "l", "t", (parse_entry_spec(e),))
                  for n, e in enumerate(["user.name is bob", "host.name is web-01"]))
    pred = compile_exceptions([ExceptionList("l", "l", items=items)], at=NOW)
    assert pred(nping())
    assert not pred(nping(host__name="db-01"))


# ----------------------------------------------------------------------------------------------- formats and errors
def test_entry_spec_round_trip():
    for spec in ["user.name is root", "user.name is not root", "host.name is one of a, b",
                 "process.executable matches /opt/*", "process.pid exists", "x does not exist",
                 "host.name is in list scanners", "host.name does not match db-*"]:
        assert describe_entry(parse_entry_spec(spec)) == spec


def test_bad_entry_spec_has_a_hint():
    with pytest.raises(ExceptionError) as info:
        parse_entry_spec("user.name == root")
    assert "FIELD is VALUE" in str(info.value)


def test_kibana_ndjson_round_trip(tmp_path):
    export = tmp_path / "export.ndjson"
    lines = [
        {"list_id": "netops", "name": "Network operations", "description": "known scanners", "type": "detection",
         "namespace_type": "single", "os_types": [], "tags": [], "id": "abc", "version": 1},
        {"item_id": "it-1", "list_id": "netops", "name": "netmon service", "type": "simple",
         "namespace_type": "single", "os_types": ["linux"], "entries": [
             {"field": "user.name", "type": "match", "operator": "included", "value": "svc-netmon"},
             {"field": "host.name", "type": "match_any", "operator": "included", "value": ["a", "b"]}],
         "comments": [{"comment": "approved"}], "tags": [], "description": "", "expire_time": "2027-01-01T00:00:00Z"},
        {"exported_exception_list_count": 1, "exported_exception_list_item_count": 1},
    ]
    export.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    lists = read_exception_ndjson(export)
    assert [lst.list_id for lst in lists] == ["netops"]
    item = lists[0].items[0]
    assert item.os_types == ("linux",) and item.expire_time == dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    again = tmp_path / "again.ndjson"
    again.write_bytes(write_exception_ndjson(lists))
    assert read_exception_ndjson(again) == lists
    assert json.loads(again.read_text().splitlines()[-1])["exported_exception_list_item_count"] == 1


def test_bad_exception_file_is_located(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps({"list_id": "l"}) + "\n" + json.dumps(
        {"item_id": "x", "list_id": "l", "entries": [{"field": "user.name", "type": "regex", "value": "a"}]}) + "\n")
    with pytest.raises(ExceptionError) as info:
        read_exception_ndjson(bad)
    message = str(info.value)
    assert f"{bad}:2" in message and "entries[0].type" in message and "unknown entry type" in message


def test_cli_add_list_export_import_remove(tmp_path):
    runner = CliRunner()
    root = str(tmp_path / "ex")
    rule = "0d69150b-96f8-467c-a86d-a67a3378ce77"
    result = runner.invoke(cli, ["exceptions", "add", "--dir", root, "--rule", rule, "--name", "netmon",
                                 "--entry", "user.name is svc-netmon", "--os", "linux",
                                 "--expires", "2027-01-01T00:00:00Z", "--comment", "approved by SOC"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(cli, ["exceptions", "list", "--dir", root, "--rule", rule])
    assert "svc-netmon" in listing.output and "netmon" in listing.output
    exported = tmp_path / "out.ndjson"
    assert runner.invoke(cli, ["exceptions", "export", "--dir", root, "--out", str(exported)]).exit_code == 0
    lists = read_exception_ndjson(exported)
    assert lists[0].rule_ids == (rule,) and lists[0].type == "rule_default"

    class Rule:
        rule_id = rule
        exceptions_list = []

    store = ExceptionStore(root)
    pred = compile_exceptions(store.lists_for_rule(Rule()), at=NOW)
    assert pred(nping(user__name="svc-netmon")) and not pred(nping())

    other = str(tmp_path / "other")
    assert runner.invoke(cli, ["exceptions", "import", "--dir", other, str(exported)]).exit_code == 0
    assert ExceptionStore(other).lists() == ExceptionStore(root).lists()

    item_id = lists[0].items[0].item_id
    assert runner.invoke(cli, ["exceptions", "remove", "--dir", root, item_id]).exit_code == 0
    assert ExceptionStore(root).lists()[0].items == ()


def test_cli_errors_have_no_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["exceptions", "add", "--dir", str(tmp_path), "--rule", "r", "--name", "n",
                                      "--entry", "user.name == root"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "cannot read the entry" in result.output
