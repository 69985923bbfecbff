"""The chaos tests: the schedule and the checker are pure (fast); ``test_campaign.py`` runs a
real campaign (marker ``e2e``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end tests with the real programs as processes and a real broker"
    )
