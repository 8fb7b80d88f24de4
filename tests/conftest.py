"""Shared test fixtures. Data under ../shared is used in place; tests that need it skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIGIL_SHARED", REPO.parent / "shared")).resolve()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the calling test with the reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (set VIGIL_SHARED to the shared/ folder)")
    return path


@pytest.fixture
def shared():
    return shared_path
