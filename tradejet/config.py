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

__all__ = ["Config", "MLConfig", "load_config", "tradejet_home", "default_store_dir"]

_ENV_KEYS = {"DEPLOYMENT_ENV": "deployment_env", "LOG_LEVEL": "log_level", "TRADEJET_HOME": "home"}


_PosInt = Annotated[int, msgspec.Meta(ge=1)]
_PosFloat = Annotated[float, msgspec.Meta(gt=0)]
_NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]


class MLConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ML pipeline (issue 6): model parameters, labels, walk-forward, gate limits, time budget.

    Gate 3 floors apply to the out-of-sample window; ``margin`` is how much worse than
    the promoted model's F1 (on the same rows) a candidate may be. Gate 4 limits apply
    to the interim risk simulation (long-only, ``risk_fraction`` of equity per entry,
    held ``horizon`` bars, ``fee_bps`` per side).
    """

    model: Literal["hgb", "logreg"] = "hgb"
    seed: int = 7
    # OpenMP threads for training; 1 by default: on a busy machine more threads spin and
    # crawl (20x slower measured on the shared 2-core box). Raise it on a dedicated host.
    train_threads: _PosInt = 1
    # gradient-boosted trees (HistGradientBoostingClassifier)
    learning_rate: _PosFloat = 0.05
    max_iter: _PosInt = 150
    max_leaf_nodes: Annotated[int, msgspec.Meta(ge=2)] = 15
    min_samples_leaf: _PosInt = 200
    l2_regularization: _NonNegFloat = 1.0
    # logistic-regression baseline
    logreg_c: _PosFloat = 1.0
    # triple-barrier labels, in bars and ATR multiples
    horizon: _PosInt = 24
    atr_period: _PosInt = 14
    take_profit_atr: _PosFloat = 2.0
    stop_loss_atr: _PosFloat = 2.0
    # walk-forward split
    n_folds: Annotated[int, msgspec.Meta(ge=0)] = 3
    oos_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.2
    embargo_bars: Annotated[int, msgspec.Meta(ge=0)] = 24
    max_rows_per_symbol: Annotated[int, msgspec.Meta(ge=0)] = 0
    # decision threshold on P(take-profit first)
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    # gate 3: out-of-sample floors and the margin against the promoted model
    min_precision: float = 0.40
    min_precision_lift: float = 0.02  # precision must also beat the OOS base rate by this much
    min_recall: float = 0.02
    min_f1: float = 0.04
    margin: float = 0.02
    # gate 4: interim risk simulation limits
    risk_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.05
    fee_bps: _NonNegFloat = 10.0
    max_drawdown: float = 0.30
    max_turnover: float = 120.0
    max_position: float = 0.25
    # the retraining pipeline's time budget (seconds); it must end before DOWNTIME does
    budget_s: _PosFloat = 900.0


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The root configuration."""

    system: Literal["crypto", "swing"] = "crypto"
    deployment_env: Literal["backtest", "paper", "live"] = "paper"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    home: str | None = None
    ml: MLConfig = msgspec.field(default_factory=MLConfig)


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
