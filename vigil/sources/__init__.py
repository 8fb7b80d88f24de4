"""Reading sources: files, directories, Elasticsearch exports, raw audit logs, followed live, normalized to ECS.

The rest of vigil uses one entry point:

    from vigil.sources import open_sources, SourceStats
    stats = SourceStats()
    with open_sources(["/var/log/audit/audit.log", "export.ndjson.gz"], stats=stats) as records:
        for record in records:          # Record(doc, index, id, path, line, source)
            ...
    print(stats.report())
"""

from __future__ import annotations

from vigil.sources.base import Adapter, Record
from vigil.sources.detect import SourceStats, SourceStream, all_adapters, detect_file, open_sources, resolve

__all__ = ["Adapter", "Record", "SourceStats", "SourceStream", "all_adapters", "detect_file", "open_sources", "resolve"]
