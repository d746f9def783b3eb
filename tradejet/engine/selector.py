"""Strategy selection and capital allocation per regime.

A thin facade over :mod:`tradejet.kernels.selector`: it turns a
:class:`~tradejet.config.SelectorConfig` into the kernel's int/float table, keeps the
selector state between bars for the event driver, and turns each switch into an
:class:`~tradejet.messages.AllocationChanged` event carrying its reason.

>>> sel = Selector()
>>> sel.select(Regime.RISK_ON)
{'trend_following': 0.6, 'breakout': 0.4}
>>> sel.select(Regime.PANIC)
{'defensive': 1.0}
"""

from __future__ import annotations

import numpy as np

from tradejet.config import STRATEGY_NAMES, SelectorConfig
from tradejet.errors import StrategyError
from tradejet.kernels import selector as ksel
from tradejet.kernels.codes import (N_STRATEGIES, REGIME_TEXT, STRATEGY_STATUS_TEXT, STRATEGY_TEXT, Regime,
                                    StrategyStatus)
from tradejet.messages import AllocationChanged

__all__ = ["Selector", "Regime", "StrategyStatus", "strategy_code"]

_REGIME_KEYS = ("risk_on", "neutral", "risk_off", "panic")  # in Regime code order
_NS_PER_MIN = 60_000_000_000


def strategy_code(name: str) -> int:
    """Return the integer code of a strategy name.

    >>> strategy_code("breakout")
    2
    """
    try:
        return STRATEGY_TEXT.index(name)
    except ValueError:
        raise StrategyError(f"unknown strategy {name!r}; known: {', '.join(STRATEGY_TEXT)}") from None


def _check_regime(regime: int) -> int:
    if not isinstance(regime, (int, np.integer)) or isinstance(regime, bool) or not 0 <= regime < len(REGIME_TEXT):
        raise StrategyError(f"regime must be a code 0..{len(REGIME_TEXT) - 1} (codes.Regime), was {regime!r}")
    return int(regime)


class Selector:
    """Pick at most two strategies and their capital shares for each regime.

    Parameters
    ----------
    config : SelectorConfig, optional
        The per-regime table and the wind-down time; defaults to the documented table.

    Attributes
    ----------
    table_strategy, table_share : np.ndarray
        The table as kernels take it (``(4, 2)`` int64 codes with -1 for empty, float64 shares).
    shares, status, deadline : np.ndarray
        The current state, one entry per strategy code.
    """

    def __init__(self, config: SelectorConfig | None = None):
        config = SelectorConfig() if config is None else config
        if tuple(STRATEGY_NAMES) != tuple(STRATEGY_TEXT):
            raise StrategyError("config.STRATEGY_NAMES and codes.STRATEGY_TEXT disagree")
        self.config = config
        ts = np.full((ksel.N_REGIMES, ksel.MAX_ACTIVE), -1, dtype=np.int64)
        sh = np.zeros((ksel.N_REGIMES, ksel.MAX_ACTIVE), dtype=np.float64)
        for r, key in enumerate(_REGIME_KEYS):
            rows = getattr(config, key)
            if len(rows) > ksel.MAX_ACTIVE:
                raise StrategyError(f"selector.{key}: at most {ksel.MAX_ACTIVE} strategies, got {len(rows)}")
            total = 0.0
            for k, row in enumerate(rows):
                ts[r, k] = strategy_code(row.strategy)
                if not 0.0 < row.share <= 1.0:
                    raise StrategyError(f"selector.{key}: share of {row.strategy} must be in (0, 1], was {row.share}")
                sh[r, k] = row.share
                total += row.share
            if total > 1.0 + 1e-9:
                raise StrategyError(f"selector.{key}: shares must sum to <= 1, was {total:.6g}")
            if len(rows) == 2 and ts[r, 0] == ts[r, 1]:
                raise StrategyError(f"selector.{key}: strategy listed twice: {rows[0].strategy}")
        if config.wind_down_minutes < 0:
            raise StrategyError(f"selector.wind_down_minutes must be >= 0, was {config.wind_down_minutes}")
        ts.setflags(write=False)
        sh.setflags(write=False)
        self.table_strategy = ts
        self.table_share = sh
        self.wind_down_ns = np.int64(config.wind_down_minutes * _NS_PER_MIN)
        self.shares = np.zeros(N_STRATEGIES, dtype=np.float64)
        self.status = np.zeros(N_STRATEGIES, dtype=np.int64)
        self.deadline = np.zeros(N_STRATEGIES, dtype=np.int64)
        self.regime: int | None = None

    def select(self, regime: int) -> dict[str, float]:
        """Return ``{strategy name: capital share}`` allowed in ``regime`` (pure; state untouched)."""
        regime = _check_regime(regime)
        out = np.zeros(N_STRATEGIES, dtype=np.float64)
        ksel.allocation_nb(regime, self.table_strategy, self.table_share, out)
        return {STRATEGY_TEXT[int(s)]: float(out[s]) for s in self.table_strategy[regime] if s >= 0}

    def update(self, regime: int, ts: int, pos_qty: np.ndarray | None = None) -> AllocationChanged | None:
        """Apply ``regime`` at ``ts`` (ns UTC); return the switch event, or ``None`` when nothing changed.

        ``pos_qty`` is the portfolio's ``(n_strategies, n_pairs)`` positions (``None``: flat).
        """
        regime = _check_regime(regime)
        if pos_qty is None:
            pos_qty = np.zeros((N_STRATEGIES, 1), dtype=np.float64)
        pos_qty = np.asarray(pos_qty, dtype=np.float64)
        if pos_qty.ndim != 2 or pos_qty.shape[0] != N_STRATEGIES:
            raise StrategyError(f"pos_qty must have shape ({N_STRATEGIES}, n_pairs), was {pos_qty.shape}")
        before = self.status.copy()
        prev_regime = self.regime
        changed = ksel.selector_step_nb(regime, np.int64(ts), self.table_strategy, self.table_share,
                                        self.wind_down_ns, self.shares, self.status, self.deadline, pos_qty)
        self.regime = regime
        if not changed and prev_regime == regime:
            return None
        return AllocationChanged(
            ts_event=int(ts), previous_regime=-1 if prev_regime is None else prev_regime, regime=regime,
            shares=[float(x) for x in self.shares], status=[int(x) for x in self.status],
            deadlines=[int(x) for x in self.deadline], reason=self._reason(prev_regime, regime, before, int(changed)))

    def _reason(self, prev: int | None, regime: int, before: np.ndarray, changed: int) -> str:
        head = (f"start in {REGIME_TEXT[regime]}" if prev is None else
                f"regime {REGIME_TEXT[prev]} -> {REGIME_TEXT[regime]}" if prev != regime else
                f"in {REGIME_TEXT[regime]}")
        parts = []
        for s in range(N_STRATEGIES):
            if changed >> s & 1:
                old, new = STRATEGY_STATUS_TEXT[int(before[s])], STRATEGY_STATUS_TEXT[int(self.status[s])]
                why = ""
                if int(self.status[s]) == StrategyStatus.FLATTEN:
                    why = " (PANIC: flatten at once)" if regime == Regime.PANIC else " (wind-down deadline passed)"
                elif int(self.status[s]) == StrategyStatus.INACTIVE:
                    why = " (positions closed)" if old != "ACTIVE" else " (no positions to wind down)"
                parts.append(f"{STRATEGY_TEXT[s]} {old} -> {new}{why}")
        active = ", ".join(f"{STRATEGY_TEXT[s]} {self.shares[s]:.0%}" for s in range(N_STRATEGIES) if self.shares[s] > 0)
        return f"{head}: {'; '.join(parts) if parts else 'no status change'}; active: {active or 'none'}"

    def status_text(self) -> dict[str, str]:
        """Return ``{strategy name: status name}``."""
        return {STRATEGY_TEXT[s]: STRATEGY_STATUS_TEXT[int(self.status[s])] for s in range(N_STRATEGIES)}
