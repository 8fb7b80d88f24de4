"""Which files a directory argument means, the same for every command that reads telemetry."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

# Files a directory of telemetry commonly carries beside the data (a README, notes); named explicitly they are read.
DOC_SUFFIXES = (".md", ".rst", ".html", ".pdf")


def is_documentation(path: Path) -> bool:
    """Hidden files and documentation, passed over when a whole directory is read."""
    return path.name.startswith(".") or path.suffix.lower() in DOC_SUFFIXES


def files_in(directory: t.Union[str, Path]) -> list[str]:
    """Every data file under `directory`, recursively, sorted."""
    return sorted(str(p) for p in Path(directory).rglob("*") if p.is_file() and not is_documentation(p))


def expand_directories(paths: t.Iterable[str]) -> list[str]:
    """`paths` with each directory replaced by its files; other paths (and `-`) are kept for the reader to open,
    so a missing file is reported by the reader with the others still read."""
    out: list[str] = []
    for raw in paths:
        out.extend(files_in(raw) if raw != "-" and os.path.isdir(raw) else [raw])
    return out
