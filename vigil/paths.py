"""Where vigil keeps its files: one data directory (XDG), overridable for tests and services.

Order: the `VIGIL_HOME` environment variable, else the XDG data directory (`~/.local/share/vigil` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """The data directory, created on first use."""
    home = os.environ.get("VIGIL_HOME")
    path = Path(home) if home else Path(platformdirs.user_data_dir("vigil", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_store_path() -> Path:
    """The alert store (SQLite) used when no `--db` / configuration says otherwise."""
    return data_dir() / "vigil.db"


def rules_dir() -> Path:
    """Where `vigil rules import` keeps imported rule files."""
    path = data_dir() / "rules"
    path.mkdir(parents=True, exist_ok=True)
    return path
