"""Kibana's exception-list export format (NDJSON): a list line, its item lines, ... and a closing summary line.

`POST /api/exception_lists/_export` writes one header object per list (it has `list_id` and no `entries`), the list's
items (objects with `item_id` and `entries`) and, last, `{"exported_exception_list_count": N, ...}`. Import accepts
the same, in any order of lists, and items for lists that appear later in the file.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import orjson

from vigil.errors import Location
from vigil.exceptions.model import ExceptionError, ExceptionList, item_from_dict, list_from_dict


def read_exception_ndjson(path: t.Union[str, Path]) -> list[ExceptionList]:
    """Every list in a Kibana export file, with its items. Errors carry file:line and the key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ExceptionError(f"cannot read {path}: {error.strerror}", Location(path=str(path))) from None
    lists: dict[str, ExceptionList] = {}
    items: dict[str, list] = {}
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        loc = Location(path=str(path), line=lineno)
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ExceptionError(f"not valid JSON: {error}", loc) from None
        if not isinstance(obj, dict):
            raise ExceptionError("each line must be a JSON object", loc)
        if "exported_exception_list_count" in obj or "exported_count" in obj:
            continue  # the export summary
        if "entries" in obj:
            item = item_from_dict(obj, loc)
            if not item.list_id:
                raise ExceptionError("an exception item needs `list_id`", Location(str(path), lineno, key="list_id"))
            items.setdefault(item.list_id, []).append(item)
        else:
            lst = list_from_dict(obj, loc)
            lists[lst.list_id] = lst
    for list_id, its in items.items():
        if list_id not in lists:
            # Items exported without their list header (e.g. from the items API): make the list they name.
            lists[list_id] = ExceptionList(list_id=list_id, name=list_id)
        lists[list_id] = lists[list_id].with_items([*lists[list_id].items, *its])
    return list(lists.values())


def write_exception_ndjson(lists: t.Sequence[ExceptionList]) -> bytes:
    """Kibana's export format for `lists`, summary line included."""
    out = []
    count = 0
    for lst in lists:
        out.append(orjson.dumps(lst.header_dict()))
        for item in lst.items:
            out.append(orjson.dumps(item.to_dict()))
            count += 1
    out.append(
        orjson.dumps(
            {
                "exported_exception_list_count": len(lists),
                "exported_exception_list_item_count": count,
                "missing_exception_list_item_count": 0,
                "missing_exception_list_items": [],
                "missing_exception_lists": [],
                "missing_exception_lists_count": 0,
            }
        )
    )
    return b"\n".join(out) + b"\n"
