"""The versioned feature schema: ordered names, dtypes, the kernel and parameters of each.

A schema is data (msgspec structs), hashed canonically: the hash changes when a name,
the order, a dtype, a kernel, a parameter or the version changes, and it is written into
every exported model and manifest. Inference and the schema gate compare hashes and names
so that a model is never fed columns it was not trained on.

This module needs only msgspec and the standard library (the inference path imports it).

>>> DEFAULT_SCHEMA.names[:3]
('ret_1', 'ret_6', 'ret_24')
>>> len(DEFAULT_SCHEMA.hash)
64
"""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

__all__ = ["FeatureSpec", "FeatureSchema", "DEFAULT_SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


class FeatureSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One feature column: its name, dtype, the kernel that makes it and its parameters.

    ``kernel`` names a function of :mod:`tradejet.kernels` (or ``"input"`` for a column
    supplied by the caller, like the regime); ``transform`` says how the kernel's output
    becomes the column (see :mod:`tradejet.models.features`).
    """

    name: str
    kernel: str
    params: dict[str, float | int] = {}
    transform: str = "identity"
    dtype: Literal["float32"] = "float32"


class FeatureSchema(msgspec.Struct, frozen=True, kw_only=True):
    """An ordered list of :class:`FeatureSpec` with a version; ``hash`` covers all of it."""

    version: int
    features: tuple[FeatureSpec, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique, were {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def width(self) -> int:
        return len(self.features)

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the schema (sorted keys)."""
        raw = msgspec.json.encode(msgspec.to_builtins(self), order="sorted")
        return hashlib.sha256(raw).hexdigest()


def _f(name: str, kernel: str, transform: str = "identity", **params: float | int) -> FeatureSpec:
    return FeatureSpec(name=name, kernel=kernel, params=params, transform=transform)


DEFAULT_SCHEMA = FeatureSchema(
    version=SCHEMA_VERSION,
    features=(
        _f("ret_1", "roc", period=1),
        _f("ret_6", "roc", period=6),
        _f("ret_24", "roc", period=24),
        _f("rsi_14", "rsi", period=14),
        _f("natr_14", "natr", period=14),
        _f("bb_pctb_20", "bbands", "percent_b", period=20, nbdev=2.0),
        _f("macd_hist", "macd", "hist_pct_of_close", fast=12, slow=26, signal=9),
        _f("adx_14", "adx", period=14),
        _f("rvol_24", "realized_vol", "times_100", period=24),
        _f("volume_z_24", "zscore", "of_volume", period=24),
        _f("regime", "input", "regime_code"),
    ),
)
