"""The source adapters: each vendor's records normalized to the ECS documents its Elastic integration indexes.

`ADAPTERS` maps a name to its `Adapter` in sniffing order: specific formats first, the generic `ecs` pass-through
last, so the fallback never takes a record a specific adapter recognises. `sniff_adapter(raw)` applies that order;
`get_adapter(name)` resolves names and aliases for `--source NAME`.

| name | raw input | index |
|---|---|---|
| crowdstrike_fdr | FDR raw events (`event_simpleName`, `aid`, ...) | logs-crowdstrike.fdr-default |
| sentinel_one_cloud_funnel | Cloud Funnel raw events (flat `tgt.process.*` keys) | logs-sentinel_one_cloud_funnel.event-default |
| endgame | Endgame ECS (`endgame.*`) or native (`event_subtype_full`) | endgame-8.x |
| auditd_manager | Elastic Agent auditd documents | logs-auditd_manager.auditd-<namespace> |
| auditbeat | Auditbeat documents | auditbeat-<version>-<yyyy.MM.dd> |
| defend | Elastic Defend documents | logs-endpoint.events.<stream>-<namespace> |
| ecs | any other ECS document | its data_stream, else logs-generic-default |
"""

from __future__ import annotations

import typing as t

from vigil.errors import SourceError
from vigil.sources.adapters import (
    auditbeat,
    auditd_manager,
    crowdstrike_fdr,
    defend,
    ecs,
    endgame,
    sentinel_one_cloud_funnel,
)
from vigil.sources.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        crowdstrike_fdr.ADAPTER,
        sentinel_one_cloud_funnel.ADAPTER,
        endgame.ADAPTER,
        auditd_manager.ADAPTER,
        auditbeat.ADAPTER,
        defend.ADAPTER,
        ecs.ADAPTER,  # must stay last: the fallback
    )
}

_BY_NAME: dict[str, Adapter] = {}
for _adapter in ADAPTERS.values():
    for _name in (_adapter.name, *_adapter.aliases):
        _BY_NAME[_name.lower()] = _adapter


def sniff_adapter(raw: t.Any) -> t.Optional[Adapter]:
    """The first adapter (in `ADAPTERS` order) whose `sniff` accepts `raw`, or None."""
    if not isinstance(raw, dict):
        return None
    for adapter in ADAPTERS.values():
        if adapter.sniff(raw):
            return adapter
    return None


def get_adapter(name: str) -> Adapter:
    """The adapter called `name` or one of its aliases (case-insensitive); SourceError naming the choices if none."""
    found = _BY_NAME.get(name.lower())
    if found is None:
        choices = ", ".join(ADAPTERS)
        raise SourceError(f"unknown source format {name!r}", hint=f"choose one of: {choices}")
    return found


__all__ = ["ADAPTERS", "Adapter", "get_adapter", "sniff_adapter"]
