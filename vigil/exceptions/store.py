"""Exception lists and value lists on disk: one Kibana-format NDJSON file per list, one JSON file per value list.

Kept as plain files under `<data_dir>/exceptions/` so they can be reviewed, diffed and versioned like rules. Every write
goes to a temporary file first and is renamed into place, so a crash never leaves half a list.
"""

from __future__ import annotations

import os
import re
import tempfile
import typing as t
from pathlib import Path

import orjson

from vigil.errors import Location
from vigil.exceptions.model import (
    VALUE_LIST_TYPES,
    ExceptionError,
    ExceptionItem,
    ExceptionList,
)
from vigil.exceptions.ndjson import read_exception_ndjson, write_exception_ndjson

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rule_default_list_id(rule_id: str) -> str:
    """The id vigil gives a rule's own (rule_default) exception list."""
    return f"rule_default-{rule_id}"


class ExceptionStore:
    """Exception lists of one vigil installation."""

    def __init__(self, root: t.Union[str, Path, None] = None):
        if root is None:
            from vigil.paths import data_dir

            root = data_dir() / "exceptions"
        self.root = Path(root)

    # --------------------------------------------------------------------------------------------- lists and items
    def _list_path(self, list_id: str) -> Path:
        return self.root / f"{_SAFE.sub('_', list_id)}.ndjson"

    def lists(self) -> list[ExceptionList]:
        if not self.root.is_dir():
            return []
        out: list[ExceptionList] = []
        for path in sorted(self.root.glob("*.ndjson")):
            out.extend(read_exception_ndjson(path))
        return out

    def get(self, list_id: str) -> t.Optional[ExceptionList]:
        path = self._list_path(list_id)
        if not path.exists():
            return None
        for lst in read_exception_ndjson(path):
            if lst.list_id == list_id:
                return lst
        return None

    def save(self, lst: ExceptionList) -> None:
        _atomic_write(self._list_path(lst.list_id), write_exception_ndjson([lst]))

    def import_lists(self, lists: t.Iterable[ExceptionList], *, overwrite: bool = False) -> int:
        """Store lists (merging items into existing lists by item_id unless `overwrite`). Returns items stored."""
        count = 0
        for lst in lists:
            current = None if overwrite else self.get(lst.list_id)
            if current is not None:
                by_id = {i.item_id: i for i in current.items}
                by_id.update({i.item_id: i for i in lst.items})
                lst = current.with_items(by_id.values())
            self.save(lst)
            count += len(lst.items)
        return count

    def add_item(self, item: ExceptionItem, *, rule_id: t.Optional[str] = None, list_name: str = "") -> ExceptionList:
        """Add an item to its list, creating the list when needed (a rule's own list when `rule_id` is given)."""
        lst = self.get(item.list_id)
        if lst is None:
            lst = ExceptionList(
                list_id=item.list_id,
                name=list_name or item.list_id,
                type="rule_default" if rule_id else "detection",
                rule_ids=(rule_id,) if rule_id else (),
            )
        elif rule_id and rule_id not in lst.rule_ids:
            from dataclasses import replace

            lst = replace(lst, rule_ids=(*lst.rule_ids, rule_id))
        items = [i for i in lst.items if i.item_id != item.item_id] + [item]
        lst = lst.with_items(items)
        self.save(lst)
        return lst

    def remove(self, ident: str) -> str:
        """Remove an item (by item_id) or a whole list (by list_id). Returns what was removed."""
        lst = self.get(ident)
        if lst is not None:
            self._list_path(ident).unlink()
            return f"list {ident} ({len(lst.items)} items)"
        for lst in self.lists():
            kept = [i for i in lst.items if i.item_id != ident]
            if len(kept) != len(lst.items):
                self.save(lst.with_items(kept))
                return f"item {ident} from list {lst.list_id}"
        raise ExceptionError(f"no exception list or item with id {ident!r}")

    def lists_for_rule(self, rule: t.Any) -> list[ExceptionList]:
        """The lists that apply to `rule`: those its `exceptions_list` names and those attached to its rule_id."""
        wanted = set()
        for ref in getattr(rule, "exceptions_list", None) or ():
            list_id = ref.get("list_id") if isinstance(ref, dict) else getattr(ref, "list_id", None)
            if list_id:
                wanted.add(list_id)
        rule_id = getattr(rule, "rule_id", None)
        return [lst for lst in self.lists() if lst.list_id in wanted or (rule_id and rule_id in lst.rule_ids)]

    # ------------------------------------------------------------------------------------------------- value lists
    def _value_list_path(self, list_id: str) -> Path:
        return self.root / "value_lists" / f"{_SAFE.sub('_', list_id)}.json"

    def put_value_list(self, list_id: str, kind: str, values: t.Iterable[str]) -> int:
        if kind not in VALUE_LIST_TYPES:
            raise ExceptionError(f"unknown value list type {kind!r} (expected one of {', '.join(VALUE_LIST_TYPES)})")
        vals = sorted({v.strip() for v in values if v.strip()})
        _atomic_write(self._value_list_path(list_id), orjson.dumps({"id": list_id, "type": kind, "values": vals}))
        return len(vals)

    def value_list(self, list_id: str) -> t.Optional[tuple[str, list[str]]]:
        path = self._value_list_path(list_id)
        if not path.exists():
            return None
        try:
            obj = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as error:
            raise ExceptionError(f"corrupt value list: {error}", Location(path=str(path))) from None
        return obj["type"], list(obj["values"])
