"""Retraining in the daily downtime window: train, gate, promote, and swap the live scorer's model.

:class:`DowntimeRetrainer` is an ``on_bar_done`` hook of :meth:`tradejet.engine.Engine.run`.
When the schedule enters DOWNTIME (trading paused; DESIGN: "models retrain" there) it runs
:func:`tradejet.models.pipeline.run_retraining` once per window on the bars seen so far (a
``history(ts)`` callable gives them, causally: nothing after ``ts``), with gate 4 on the
engine (:func:`tradejet.engine.mlgate.ml_signal_backtest`). The time budget is the
config's ``ml.budget_s`` cut to what is left of the window, less a margin, so a run never
spills into trading; when it runs out, the pipeline stops cleanly and the old model stays.
A promoted model is loaded through the artifact store (SHA-256, schema) and put into the
:class:`~tradejet.models.scoring.StreamingScorer`, whose feature states carry on (same
schema); a rejected or refused one changes nothing. Every step is in the system's audit
log (the pipeline's events) and in the run's own audit log (``retrain_*``).

Two ways to run: ``background=False`` (replays) trains in the loop, so the same bars give
the same run; ``background=True`` (live) trains in a worker thread while the loop keeps
taking bars and executions, and the model is swapped on the first bar after it finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tradejet.config import Config
from tradejet.engine.schedule import Schedule
from tradejet.kernels.codes import TradingState

__all__ = ["DowntimeRetrainer", "store_history"]

log = logging.getLogger(__name__)


class DowntimeRetrainer:
    """Train once per DOWNTIME window; swap the scorer's model when a new one is promoted.

    Parameters
    ----------
    config : the run's config (``schedule``, ``ml``, and the rest for gate 4's backtest).
    home : the models' home (``$TRADEJET_HOME``): artifacts and the system's audit log.
    history : ``history(ts) -> list[Candles]``, each symbol's bars up to ``ts``.
    scorer : the engine's :class:`~tradejet.models.scoring.StreamingScorer` (its model is
        replaced), or ``None`` to train and promote only.
    background : train in a worker thread (live) instead of in the loop (replay).
    audit : the run's :class:`~tradejet.io.audit.AuditLog`, for ``retrain_*`` events.
    now : the wall clock in ns (tests replace it); used for the budget in live mode.
    """

    MARGIN_S = 60.0  # the run must end this long before the window does

    def __init__(self, config: Config, home: str | Path, history: Callable[[int], list], *, system: str = "crypto",
                 scorer=None, background: bool = False, audit=None, now: Callable[[], int] = time.time_ns):
        self.config = config
        self.home = Path(home)
        self.history = history
        self.system = system
        self.scorer = scorer
        self.background = background
        self.audit = audit
        self.now = now
        self.schedule = Schedule(config.schedule)
        self._last_state: int | None = None
        self._thread: threading.Thread | None = None
        self._result: Any = None
        self.results: list[Any] = []
        self.swaps: list[str] = []

    # -- the hook ---------------------------------------------------------------------------
    def __call__(self, engine) -> None:
        ts = engine.last_ts
        if ts is None:
            return
        self.on_bar(int(ts))

    def on_bar(self, ts: int) -> None:
        """Advance to bar time ``ts``: start a run on entering DOWNTIME, collect a finished one."""
        self._collect()
        state = self.schedule.state_at(ts)
        entered = state == TradingState.DOWNTIME and self._last_state not in (None, TradingState.DOWNTIME)
        self._last_state = state
        if entered and self._thread is None:
            self._start(ts)
            if not self.background:
                self._collect()

    def close(self, wait: bool = True) -> None:
        """Wait for (and collect) a run still going."""
        if self._thread is not None and wait:
            self._thread.join()
        self._collect()

    # -- internals --------------------------------------------------------------------------
    def budget_s(self, ts: int) -> float:
        """The configured budget, cut to what is left of the window (bar time in replay, wall time live)."""
        _state, window_end = self.schedule.next_change(ts)
        clock = self.now() if self.background else ts
        left = (window_end - clock) / 1e9 - self.MARGIN_S
        return max(1.0, min(float(self.config.ml.budget_s), left))

    def _start(self, ts: int) -> None:
        from tradejet.engine.mlgate import ml_signal_backtest
        from tradejet.models.pipeline import run_retraining

        budget = self.budget_s(ts)
        self._event("retrain_started", {"bar_ts": ts, "budget_s": round(budget, 1)})

        def work() -> None:
            try:
                candles = [c for c in self.history(ts) if len(c) > 1]
                if not candles:
                    raise ValueError("no bars to train on yet")
                self._result = run_retraining(
                    self.system, candles, budget, self.home, cfg=self.config.ml,
                    risk_backtest=lambda rows, p, thr, c: ml_signal_backtest(rows, p, thr, c, config=self.config))
            except Exception as e:  # a failed run never stops trading: logged, the old model stays
                log.error("%s retraining in downtime failed: %s: %s", self.system, type(e).__name__, e)
                self._result = e

        self._thread = threading.Thread(target=work, name="tradejet-retrain", daemon=True)
        self._thread.start()
        if not self.background:
            self._thread.join()

    def _collect(self) -> None:
        t = self._thread
        if t is None or t.is_alive():
            return
        self._thread = None
        res, self._result = self._result, None
        self.results.append(res)
        if isinstance(res, Exception):
            self._event("retrain_failed", {"reason": f"{type(res).__name__}: {res}"})
            return
        self._event("retrain_finished", {"outcome": res.outcome, "reason": res.reason, "model": res.model_id,
                                         "promoted": res.promoted_id, "elapsed_s": round(res.elapsed_s, 3)})
        if res.outcome == "promoted" and self.scorer is not None and res.promoted_id:
            self._swap(res.promoted_id)

    def _swap(self, model_id: str) -> None:
        from tradejet.errors import ModelError
        from tradejet.models.artifacts import ArtifactStore

        try:
            model = ArtifactStore(self.home, self.system).load(model_id)
        except ModelError as e:  # refused at load (tampered between promotion and load): keep the old one
            self._event("retrain_swap_refused", {"model": model_id, "reason": str(e)})
            return
        old = self.scorer.model
        self.scorer.set_model(model)
        self.swaps.append(model_id)
        self._event("model_swapped", {"model": model_id})
        if old is not None and hasattr(old, "close"):
            old.close()

    def _event(self, name: str, data: dict) -> None:
        log.info("%s: %s", name, data)
        if self.audit is not None:
            self.audit.append(name, data)


def store_history(store_root: str | Path, symbols: list[str], timeframe: str, *, max_rows: int = 50_000,
                  venue: str | None = None) -> Callable[[int], list]:
    """``history(ts)`` over the bar store (what ``tradejet data download`` keeps filled): each symbol's
    last ``max_rows`` bars with ``ts <= bar time``; a symbol the store lacks is left out (logged once)."""
    from tradejet.errors import DataError
    from tradejet.io.store import BarStore
    from tradejet.models.data import Candles

    store = BarStore(store_root)
    missing: set[str] = set()

    def history(ts: int) -> list:
        out = []
        for sym in symbols:
            try:
                v = store.find(sym, timeframe, venue)
                cols = store.read(v, sym, timeframe, end=int(ts) + 1)
            except DataError as e:
                if sym not in missing:
                    missing.add(sym)
                    log.warning("retraining without %s: %s", sym, e)
                continue
            k = max(0, len(cols["ts"]) - max_rows)
            out.append(Candles(sym, f"store {store.root}", *(cols[c][k:] for c in
                                                              ("ts", "open", "high", "low", "close", "volume"))))
        return out

    return history
