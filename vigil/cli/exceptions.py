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

from vigil.cli.common import config_option
from vigil.config import load_config
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
from vigil.rules import resolve_rule


def _store(root: str | None, config_path: Path | None) -> ExceptionStore:
    # the folder `vigil run` reads: --dir, else [exceptions] dir of the configuration, else <data dir>/exceptions
    return ExceptionStore(Path(root) if root else load_config(config_path).exceptions_dir)


def _rule_id(ref: str | None, config_path: Path | None) -> str | None:
    """The full rule_id of `--rule` (a rule_id, a unique prefix, builtin:<id> or a rule file). An exception attached
    to a mistyped id would silently never apply, so an unknown rule is an error."""
    if not ref:
        return None
    return resolve_rule(ref, load_config(config_path).rule_dirs).rule_id


def store_option(function):  # type: ignore[no-untyped-def]
    """`--dir` and `--config`: where the exception lists are."""
    function = click.option("--dir", "root", type=click.Path(file_okay=False),
                            help="Exception store folder. Default: [exceptions] dir of the configuration, else "
                                 "exceptions/ in the data directory.")(function)
    return config_option()(function)


@click.group("exceptions")
def exceptions_group() -> None:
    """Exception lists: events matching any item are removed before a rule's query runs.

    \b
    Examples:
      vigil exceptions add --rule 0d69150b --name "netops scanner" --entry "user.name is svc-netmon"
      vigil exceptions add --list scanners --name "scan hosts" --entry "host.name is one of scan-01, scan-02"
      vigil exceptions list --rule 0d69150b
      vigil exceptions export -o exceptions.ndjson
    """


@exceptions_group.command("add")
@click.option("--rule", "rule_ref", metavar="RULE",
              help="Attach to this rule's own exception list (a rule_id or unique prefix, or builtin:<id>).")
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
def add(rule_ref, list_id, name, entries, os_types, expires, comments, value_list_type, root, config_path) -> None:
    """Add an exception item (its entries are ANDed)."""
    if bool(rule_ref) == bool(list_id):
        raise ExceptionError("give exactly one of --rule or --list", Location(key="--rule/--list"))
    parsed = tuple(parse_entry_spec(e, list_type=value_list_type) for e in entries)  # the item's own mistakes first
    rule_id = _rule_id(rule_ref, config_path)
    target = list_id or rule_default_list_id(rule_id)
    user = getpass.getuser()
    now = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    item = ExceptionItem(
        item_id=str(uuid.uuid4()),
        list_id=target,
        name=name,
        entries=parsed,
        os_types=tuple(os_types),
        expire_time=parse_time(expires, Location(key="--expires")),
        comments=tuple({"comment": c, "created_by": user, "created_at": now} for c in comments),
    )
    list_name = f"Exceptions for rule {rule_id}" if rule_id else ""
    _store(root, config_path).add_item(item, rule_id=rule_id, list_name=list_name)
    click.echo(f"added exception item {item.item_id} to list {target}")


@exceptions_group.command("list")
@click.option("--rule", "rule_ref", metavar="RULE", help="Only lists attached to this rule (rule_id or prefix).")
@store_option
def list_(rule_ref, root, config_path) -> None:
    """List exception lists and their items."""
    store = _store(root, config_path)
    rule_id = _rule_id(rule_ref, config_path)
    lists = store.lists()
    if rule_id:
        lists = [lst for lst in lists if rule_id in lst.rule_ids]
    if not lists:
        click.echo("no exception lists")
        return
    table = Table()
    # ids are what `vigil exceptions remove` takes: never cut them with an ellipsis
    table.add_column("list", overflow="fold", min_width=20)
    table.add_column("item", no_wrap=True, min_width=36)
    for column in ("name", "conditions", "os", "expires"):
        table.add_column(column, overflow="fold")
    now = dt.datetime.now(dt.timezone.utc)
    for lst in lists:
        for item in lst.items:
            expires = "" if item.expire_time is None else item.expire_time.isoformat()
            if item.expired(now):
                expires += " (expired)"
            table.add_row(lst.list_id, item.item_id, item.name,
                          "\n".join(describe_entry(e) for e in item.entries), ",".join(item.os_types), expires)
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140).print(table)


@exceptions_group.command("remove")
@click.argument("ident")
@store_option
def remove(ident, root, config_path) -> None:
    """Remove an item (by item id) or a whole list (by list id)."""
    click.echo(f"removed {_store(root, config_path).remove(ident)}")


@exceptions_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--rule", "rule_ref", metavar="RULE",
              help="Also attach the imported lists to this rule (rule_id or prefix).")
@click.option("--overwrite", is_flag=True, help="Replace lists with the same id instead of merging items.")
@store_option
def import_(files, rule_ref, overwrite, root, config_path) -> None:
    """Import Kibana exception-list exports (NDJSON)."""
    from dataclasses import replace

    store = _store(root, config_path)
    rule_id = _rule_id(rule_ref, config_path)
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
@click.option("-o", "--output", "--out", "out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write here instead of standard output.")
@store_option
def export(list_ids, out, root, config_path) -> None:
    """Export lists in Kibana's NDJSON format (all lists when none is named)."""
    store = _store(root, config_path)
    lists = [lst for lst in store.lists() if not list_ids or lst.list_id in list_ids]
    missing = set(list_ids) - {lst.list_id for lst in lists}
    if missing:
        raise ExceptionError(f"no exception list with id {', '.join(sorted(missing))}")
    data = write_exception_ndjson(lists)
    if out:
        try:
            Path(out).write_bytes(data)
        except OSError as error:
            raise ExceptionError(f"cannot write the export: {error.strerror}", Location(path=str(out))) from None
        click.echo(f"exported {len(lists)} list(s) to {out}", err=True)
    else:
        sys.stdout.buffer.write(data)


@exceptions_group.command("value-list")
@click.argument("list_id")
@click.argument("file", type=click.File("r"))
@click.option("--type", "kind", default="keyword", show_default=True,
              help="keyword, ip, ip_range (CIDRs or a-b ranges), text, long, ...")
@store_option
def value_list(list_id, file, kind, root, config_path) -> None:
    """Create or replace a value list from FILE (one value per line; `-` for stdin)."""
    count = _store(root, config_path).put_value_list(list_id, kind, file.read().splitlines())
    click.echo(f"value list {list_id} ({kind}): {count} value(s)")


def register(group: click.Group) -> None:
    group.add_command(exceptions_group)
