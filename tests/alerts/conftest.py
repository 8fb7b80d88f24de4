"""Fixtures for the alert tests (helpers live in alert_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.alerts.alert_fixtures import nping_event, nping_rule


@pytest.fixture
def rule(shared):
    return nping_rule(shared)


@pytest.fixture
def event():
    return nping_event()
