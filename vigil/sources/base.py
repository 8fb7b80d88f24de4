"""What every reader yields and every adapter provides: the contract between `sources/` and the rest of vigil.

A reader turns bytes into raw records (dicts) with their location; an adapter recognises one vendor's raw record and
normalizes it into the ECS document that vendor's Elastic integration would index, naming the index (data stream) it
would land in, so that a rule's index patterns (`logs-endpoint.events.*`, `auditbeat-*`, ...) select it.

Projection: while detecting, a record may carry only the ECS fields the enabled rules read (`Adapter.project`,
`open_sources(..., fields=...)`); `Record.complete()` builds the full document when it is needed (an alert).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

# What a failing full normalization may raise (the same list `detect._to_record` counts as a bad record).
_NORMALIZE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


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
        completer: for a record read with projection (`doc` holds only the fields the rules read), a function
            building the full document; None once `complete()` ran, and for records that were never projected.
    """

    doc: dict
    index: str
    id: t.Optional[str] = None
    path: str = "-"
    line: int = 0
    source: str = ""
    completer: t.Optional[t.Callable[[], t.Optional[dict]]] = None

    def complete(self) -> dict:
        """The full ECS document: built once (it then replaces the projected `doc`), else `doc` as it is.

        The projected fields of the full document equal `doc`'s (the projection invariant), so anything computed
        from `doc` during detection stays true. Should the full normalization fail where the projected one did
        not (a converter on a field the rules do not read), the projected document is kept: the event was read."""
        completer = self.completer
        if completer is not None:
            self.completer = None
            try:
                full = completer()
            except _NORMALIZE_ERRORS:
                full = None
            if full is not None:
                self.doc = full
        return self.doc


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
        projector: fields -> a normalize callable building only the paths those fields need (see
            `mapping.needed`), for adapters with a mapping table; None: projection gives the full `normalize`.
            The callable may carry `.decode(line: bytes) -> dict | None` (projected decoding of a raw line, None
            meaning "decode this line in full"); see vigil/sources/adapters/projection.py.
        index_fields: the fields `index(doc)` reads: always kept in a projection.
    """

    name: str
    description: str
    sniff: t.Callable[[dict], bool]
    normalize: t.Callable[[dict], t.Optional[dict]]
    index: t.Callable[[dict], str]
    aliases: tuple[str, ...] = field(default=())
    projector: t.Optional[t.Callable[[frozenset[str]], t.Callable[[dict], t.Optional[dict]]]] = None
    index_fields: tuple[str, ...] = ()

    def project(self, fields: t.Optional[t.Collection[str]]) -> t.Callable[[dict], t.Optional[dict]]:
        """`normalize` restricted to what reading `fields` needs: for every raw record r,
        `restrict(project(F)(r), F) == restrict(normalize(r), F)` and `index()` gives the same index. Adapters
        without a projector (pass-through ECS, hand-written mappings) return `normalize` itself; `fields` None too."""
        if fields is None or self.projector is None:
            return self.normalize
        return self.projector(frozenset(fields) | frozenset(self.index_fields))
