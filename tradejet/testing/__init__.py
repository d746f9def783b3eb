"""Fixtures that embedding bots reuse: where the shared real data lives, bar makers,
recorded venue responses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["shared_data_dir", "FakeVenue"]


def shared_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the real-data folder: ``$TRADEJET_DATA``, else ``../shared/data`` from the repo root.

    The repo root is the folder holding the ``tradejet`` package in a source checkout;
    for an installed package it is the current directory. The folder may not exist:
    callers skip (tests) or fall back to the synthetic market (demos).
    """
    env = os.environ if env is None else env
    if env.get("TRADEJET_DATA"):
        return Path(env["TRADEJET_DATA"]).expanduser()
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists():
        root = Path.cwd()
    return (root / ".." / "shared" / "data").resolve()


from tradejet.testing.venue import FakeVenue  # noqa: E402
