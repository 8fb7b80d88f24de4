"""An append-only NDJSON file of alert documents: one line per alert, fsync'ed per batch, safe for many writers.

Each line is the alert document as stored (flat `kibana.alert.*` keys plus the event's ECS fields), so the file
can be read back by `jq`, shipped by Filebeat, or bulk-indexed into Elasticsearch.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import orjson

from vigil.notify.appendfile import FileChannel
from vigil.notify.base import ChannelOptions
from vigil.notify.section import Section


def _line(alert: t.Mapping[str, t.Any]) -> bytes:
    return orjson.dumps(alert, default=str)


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> FileChannel:
    return FileChannel(options, section.path("path"), dead_letter, kind="file", format_line=_line,
                       fsync=section.bool("fsync", True))
