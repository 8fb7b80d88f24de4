"""`vigil exceptions`: silence known-good activity with Elastic exception lists."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
import uuid
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vigil.errors import Location
from vigil.exceptions import (
    ExceptionItem,
    ExceptionStore,
    describe_entry,
    parse_entry_spec,
    read_exception_ndjson,
    rule_default_list_id,
    write_exception_ndjson,
)
from vigil.exceptions.model import ExceptionError, parse_time


def _store(root: str | None) -> ExceptionStore:
    return ExceptionStore(Path(root) if root else None)


store_option = click.option(
    "--dir", "root", type=click.Path(file_okay=False), help="Exception store folder (default: <data dir>/exceptions)."
)


@click.group("exceptions")
def exceptions_group() -> None:
    """Exception lists: events matching any item are removed before a rule's query runs."""


@exceptions_group.command("add")
@click.option("--rule", "rule_id", help="Attach to this rule's own exception list (rule_id).")
@click.option("--list", "list_id", help="Add to this shared list instead (created when missing).")
@click.option("--name", required=True, help="A name saying why this is known-good.")
@click.option("--entry", "entries", multiple=True, required=True,
              help='A condition, e.g. "user.name is svc-scan"; repeat to AND several.')
@click.option("--os", "os_types", multiple=True, type=click.Choice(["linux", "macos", "windows"]),
              help="Only for hosts of this OS type (repeatable).")
@click.option("--expires", help="ISO-8601 time after which the item stops applying (e.g. the end of a pen test).")
@click.option("--comment", "comments", multiple=True, help="A comment kept with the item (repeatable).")
@click.option("--value-list-type", default="keyword", show_default=True,
              help="Type of value lists referenced with `is in list`.")
@store_option
def add(rule_id, list_id, name, entries, os_types, expires, comments, value_list_type, root) -> None:
    """Add an exception item (its entries are ANDed)."""
    if bool(rule_id) == bool(list_id):
        raise ExceptionError("give exactly one of --rule or --list", Location(key="--rule/--list"))
    target = list_id or rule_default_list_id(rule_id)
    user = getpass.getuser()
    now = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    item = ExceptionItem(
        item_id=str(uuid.uuid4()),
        list_id=target,
        name=name,
        entries=tuple(parse_entry_spec(e, list_type=value_list_type) for e in entries),
        os_types=tuple(os_types),
        expire_time=parse_time(expires, Location(key="--expires")),
        comments=tuple({"comment": c, "created_by": user, "created_at": now} for c in comments),
    )
    _store(root).add_item(item, rule_id=rule_id, list_name=f"Exceptions for rule {rule_id}" if rule_id else "")
    click.echo(f"added exception item {item.item_id} to list {target}")


@exceptions_group.command("list")
@click.option("--rule", "rule_id", help="Only lists attached to this rule.")
@store_option
def list_(rule_id, root) -> None:
    """List exception lists and their items."""
    store = _store(root)
    lists = store.lists()
    if rule_id:
        lists = [lst for lst in lists if rule_id in lst.rule_ids]
    if not lists:
        click.echo("no exception lists")
        return
    table = Table("list", "item", "name", "conditions", "os", "expires")
    now = dt.datetime.now(dt.timezone.utc)
    for lst in lists:
        for item in lst.items:
            expires = "" if item.expire_time is None else item.expire_time.isoformat()
            if item.expired(now):
                expires += " (expired)"
            table.add_row(lst.list_id, item.item_id, item.name,
                          "\n".join(describe_entry(e) for e in item.entries), ",".join(item.os_types), expires)
    Console().print(table)


@exceptions_group.command("remove")
@click.argument("ident")
@store_option
def remove(ident, root) -> None:
    """Remove an item (by item id) or a whole list (by list id)."""
    click.echo(f"removed {_store(root).remove(ident)}")


@exceptions_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--rule", "rule_id", help="Also attach the imported lists to this rule.")
@click.option("--overwrite", is_flag=True, help="Replace lists with the same id instead of merging items.")
@store_option
def import_(files, rule_id, overwrite, root) -> None:
    """Import Kibana exception-list exports (NDJSON)."""
    from dataclasses import replace

    store = _store(root)
    total = 0
    for path in files:
        lists = read_exception_ndjson(path)
        if rule_id:
            lists = [replace(lst, rule_ids=tuple({*lst.rule_ids, rule_id})) for lst in lists]
        total += store.import_lists(lists, overwrite=overwrite)
        click.echo(f"{path}: {len(lists)} list(s)")
    click.echo(f"{total} item(s) stored")


@exceptions_group.command("export")
@click.argument("list_ids", nargs=-1)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@store_option
def export(list_ids, out, root) -> None:
    """Export lists in Kibana's NDJSON format (all lists when none is named)."""
    store = _store(root)
    lists = [lst for lst in store.lists() if not list_ids or lst.list_id in list_ids]
    missing = set(list_ids) - {lst.list_id for lst in lists}
    if missing:
        raise ExceptionError(f"no exception list with id {', '.join(sorted(missing))}")
    data = write_exception_ndjson(lists)
    if out:
        Path(out).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


@exceptions_group.command("value-list")
@click.argument("list_id")
@click.argument("file", type=click.File("r"))
@click.option("--type", "kind", default="keyword", show_default=True,
              help="keyword, ip, ip_range (CIDRs or a-b ranges), text, long, ...")
@store_option
def value_list(list_id, file, kind, root) -> None:
    """Create or replace a value list from FILE (one value per line; `-` for stdin)."""
    count = _store(root).put_value_list(list_id, kind, file.read().splitlines())
    click.echo(f"value list {list_id} ({kind}): {count} value(s)")


def register(group: click.Group) -> None:
    group.add_command(exceptions_group)
