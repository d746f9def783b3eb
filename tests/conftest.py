from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tradejet.testing import shared_data_dir

settings.register_profile("fast", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "fast"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data folder (TRADEJET_DATA); skip with the reason when absent."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real data folder not found at {d} (set TRADEJET_DATA)")
    return d
