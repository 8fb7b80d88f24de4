"""An append-only NDJSON file of alert documents: one line per alert, fsync'ed per batch, safe for many writers.

Each line is the alert document as stored (flat `kibana.alert.*` keys plus the event's ECS fields), so the file
can be read back by `jq`, shipped by Filebeat, or bulk-indexed into Elasticsearch.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.notify.appendfile import append_lines
from vigil.notify.base import Batch, ChannelOptions, DeliveryResult
from vigil.notify.delivery import deliver
from vigil.notify.retry import PermanentFailure, RetryPolicy
from vigil.notify.section import Section


@dataclass
class NdjsonFileChannel:
    options: ChannelOptions
    path: Path
    dead_letter: t.Optional[Path]
    fsync: bool = True
    kind: str = "file"

    @property
    def name(self) -> str:
        return self.options.name

    def send(self, batch: Batch) -> DeliveryResult:
        lines = [orjson.dumps(alert, default=str) for alert in batch.alerts]

        def attempt() -> str:
            try:
                append_lines(self.path, lines, fsync=self.fsync)
            except OSError as error:  # retrying a full or read-only disk at once does not help
                raise PermanentFailure(f"cannot append to {self.path}: {error.strerror or error}") from None
            return f"{len(lines)} lines appended"

        return deliver(channel=self.name, kind=self.kind, target=str(self.path), alerts=len(batch.alerts),
                       attempt=attempt, policy=RetryPolicy(retries=0), dead_letter=self.dead_letter,
                       payload=batch.to_payload)


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> NdjsonFileChannel:
    return NdjsonFileChannel(options, section.path("path"), dead_letter, fsync=section.bool("fsync", True))
