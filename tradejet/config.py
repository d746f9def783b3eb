"""Configuration: strict msgspec structs, loaded from TOML plus the environment.

Precedence: built-in defaults < TOML file < environment (``DEPLOYMENT_ENV``,
``LOG_LEVEL``, ``TRADEJET_HOME``). A wrong or unknown field raises
:class:`~tradejet.errors.ConfigError` naming the key and the file.

Later issues add their sections (universe, schedule, strategies, risk, fills, ...) as
nested structs with defaults, so an empty file is always a valid config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from tradejet.errors import ConfigError

__all__ = ["Config", "load_config", "tradejet_home", "default_store_dir", "FillConfig", "PairFillConfig"]

_ENV_KEYS = {"DEPLOYMENT_ENV": "deployment_env", "LOG_LEVEL": "log_level", "TRADEJET_HOME": "home"}


_Fee = Annotated[float, msgspec.Meta(ge=-0.01, lt=0.1)]


class PairFillConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-pair overrides of the fill costs; an unset field takes FillConfig's value."""

    maker_fee: _Fee | None = None
    """Maker rate, fraction of notional (0.0016 = 0.16 %)."""
    taker_fee: _Fee | None = None
    """Taker rate, fraction of notional."""
    spread: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] | None = None
    """Full relative bid/ask spread (0.0002 = 2 bp); unset: estimated from the bars (Corwin-Schultz)."""


class FillConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fill model's parameters (backtest and paper fill alike; see tradejet.kernels.fills).

    Pair decimals and minimums (tick size, lot decimals, ordermin, costmin) come from
    the venue's pair metadata, not from here.
    """

    latency_ms: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    """Order latency; a market order fills at the open of the first bar starting after
    it (0: the next bar's open)."""
    participation: Annotated[float, msgspec.Meta(gt=0.0)] = 0.10
    """Largest share of a bar's volume one order may take; the rest fills on later bars."""
    impact_coef: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    """Y in the square-root law: impact = Y * sigma * sqrt(qty / volume), per bar."""
    max_impact: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.05
    """Cap on the relative impact of one fill."""
    min_spread: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] = 0.0
    """Floor on the spread (relative) when it is estimated from the bars."""
    spread_window: Annotated[int, msgspec.Meta(ge=1)] = 60
    """Bars averaged in the Corwin-Schultz spread estimate."""
    vol_window: Annotated[int, msgspec.Meta(ge=2)] = 60
    """Bars in the volatility and average-volume estimates used for impact."""
    maker_fee: _Fee = 0.0025
    """Default maker rate: Kraken's base tier (0.25 %, < $10k 30-day volume)."""
    taker_fee: _Fee = 0.0040
    """Default taker rate: Kraken's base tier (0.40 %)."""
    pairs: dict[str, PairFillConfig] = msgspec.field(default_factory=dict)
    """Overrides by pair name (e.g. ``"BTC/USD"``)."""

    def costs(self, pair: str) -> tuple[float, float, float]:
        """Return ``(maker_fee, taker_fee, spread)`` for ``pair``; spread NaN = estimate it.

        >>> FillConfig(pairs={"BTC/USD": PairFillConfig(spread=1e-4)}).costs("BTC/USD")
        (0.0025, 0.004, 0.0001)
        """
        p = self.pairs.get(pair) or PairFillConfig()
        return (self.maker_fee if p.maker_fee is None else p.maker_fee,
                self.taker_fee if p.taker_fee is None else p.taker_fee,
                float("nan") if p.spread is None else p.spread)


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The root configuration."""

    system: Literal["crypto", "swing"] = "crypto"
    deployment_env: Literal["backtest", "paper", "live"] = "paper"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    home: str | None = None
    fills: FillConfig = msgspec.field(default_factory=FillConfig)


def tradejet_home(env: Mapping[str, str] | None = None) -> Path:
    """Return ``$TRADEJET_HOME``, default ``~/.tradejet``.

    >>> tradejet_home({"TRADEJET_HOME": "/tmp/tj"}).as_posix()
    '/tmp/tj'
    """
    env = os.environ if env is None else env
    home = env.get("TRADEJET_HOME")
    return Path(home).expanduser() if home else Path("~/.tradejet").expanduser()


def default_store_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the default bar store, ``$TRADEJET_HOME/data``."""
    return tradejet_home(env) / "data"


_PATH_RE = re.compile(r"at `\$\.?([^`]*)`")


def _convert(raw: dict[str, Any], source: str) -> Config:
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as e:
        msg = str(e)
        m = _PATH_RE.search(msg)
        key = m.group(1) if m else None
        if key is None and "unknown field" in msg:
            key = msg.split("`")[1] if "`" in msg else None
        raise ConfigError(msg.split(" - at ")[0], key=key, source=source) from None


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load a :class:`Config` from a TOML file and the environment.

    >>> load_config(env={"LOG_LEVEL": "DEBUG"}).log_level
    'DEBUG'
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read config: {e.strerror}", source=source) from None
        try:
            raw = msgspec.toml.decode(text)
        except msgspec.DecodeError as e:
            raise ConfigError(f"not valid TOML: {e}", source=source) from None
    for env_key, field in _ENV_KEYS.items():
        if env.get(env_key):
            raw[field] = env[env_key]
            source = f"{source} + ${env_key}" if path is None else source
    return _convert(raw, source)
