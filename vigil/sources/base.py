"""What every reader yields and every adapter provides: the contract between `sources/` and the rest of vigil.

A reader turns bytes into raw records (dicts) with their location; an adapter recognises one vendor's raw record and
normalizes it into the ECS document that vendor's Elastic integration would index, naming the index (data stream) it
would land in, so that a rule's index patterns (`logs-endpoint.events.*`, `auditbeat-*`, ...) select it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field


@dataclass(slots=True)
class Record:
    """One event ready for detection.

    Attributes:
        doc: the ECS document (nested objects, as stored in Elasticsearch `_source`).
        index: the concrete index / data stream name, e.g. `logs-endpoint.events.process-default`.
        id: the document id (`_id`) when the input had one, else None (alerts then use a content hash).
        path: the file it came from (`-` for stdin).
        line: the 1-based line of its first byte in that file.
        source: the adapter name that produced it (`defend`, `crowdstrike_fdr`, ...).
    """

    doc: dict
    index: str
    id: t.Optional[str] = None
    path: str = "-"
    line: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Adapter:
    """One source format.

    Attributes:
        name: short stable name used by `--source NAME` (`defend`, `endgame`, `auditbeat`, `auditd_manager`,
            `crowdstrike_fdr`, `sentinel_one_cloud_funnel`, `auditd_log`, `ecs`).
        description: one line for `--help` and error messages.
        sniff: given a raw decoded JSON object, True when it looks like this source (cheap key checks).
        normalize: raw object -> ECS document, or None when the record is not an event this source maps.
        index: ECS document -> the index / data stream name its integration writes it to.
    """

    name: str
    description: str
    sniff: t.Callable[[dict], bool]
    normalize: t.Callable[[dict], t.Optional[dict]]
    index: t.Callable[[dict], str]
    aliases: tuple[str, ...] = field(default=())
