"""The retraining pipeline: gather data, train, export, gate, promote or reject, within a budget.

:func:`run_retraining` is what the scheduler calls when a system enters DOWNTIME (and what
``tradejet models train`` runs on demand). Every step checks the deadline; when the
budget runs out the run stops cleanly (:class:`~tradejet.models.train.BudgetExceeded`
is caught), a half-made candidate is marked rejected, the promoted model is untouched,
and the audit log says so. Boosting is trained in chunks of iterations so the deadline
is checked inside the longest step too.

Files: models under ``<home>/models/<system>/``, the audit log at
``<home>/audit/<system>.jsonl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from tradejet.io.audit import AuditLog
from tradejet.models.artifacts import ArtifactStore, GateResult, Manifest
from tradejet.models.data import Candles, data_hash, load_folder
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema
from tradejet.models.train import BudgetExceeded, build_dataset, train

if TYPE_CHECKING:
    # ``cfg`` is a tradejet.config.MLConfig; models may not import config (layering), the
    # caller (CLI, scheduler) passes it in.
    MLConfig = Any

__all__ = ["run_retraining", "RetrainResult", "SYSTEM_INTERVAL_S", "audit_path"]

log = logging.getLogger(__name__)

SYSTEM_INTERVAL_S = {"crypto": 3600, "swing": 86400}


class RetrainResult(msgspec.Struct, kw_only=True):
    """What one retraining run did: ``outcome`` is promoted, rejected, timeout or failed."""

    system: str
    outcome: str
    reason: str
    model_id: str | None = None
    promoted_id: str | None = None
    gates: list[GateResult] = []
    metrics: dict[str, float] = {}
    elapsed_s: float = 0.0
    skipped_files: list[str] = []


def audit_path(home: str | Path, system: str) -> Path:
    return Path(home) / "audit" / f"{system}.jsonl"


def run_retraining(system: str, data: str | Path | list[Candles], budget_s: float, home: str | Path, *,
                   cfg: MLConfig, schema: FeatureSchema = DEFAULT_SCHEMA,
                   regimes: dict[str, np.ndarray] | None = None, promote: bool = True,
                   progress: Callable[[str], None] | None = None,
                   risk_backtest: Callable[..., dict[str, float]] | None = None) -> RetrainResult:
    """Run the whole pipeline for ``system`` and return what happened (never raises on a gate failure).

    ``cfg`` is the ``ml`` section of the config (``load_config().ml``): the models layer
    may not import :mod:`tradejet.config`, so the caller hands it in.
    ``data`` is a folder of candle CSVs (files of the system's bar interval are used) or a
    list of :class:`~tradejet.models.data.Candles`. ``risk_backtest`` is gate 4's backtest
    (:func:`tradejet.engine.mlgate.ml_signal_backtest`; the models layer may not import the
    engine). ``budget_s`` bounds the run; when it
    runs out the promoted model stays. Bad data raises :class:`~tradejet.errors.DataError`
    (after auditing it).
    """
    from tradejet.models.export import export_onnx
    from tradejet.models.gates import run_gates

    if budget_s <= 0:
        raise ValueError(f"budget_s must be > 0, was {budget_s}")
    t_start = time.monotonic()
    deadline = t_start + budget_s
    step = progress or (lambda s: None)
    with AuditLog(audit_path(home, system)) as audit:
        store = ArtifactStore(home, system, audit=audit)
        old = store.promoted_id()
        src = str(data) if not isinstance(data, list) else f"{len(data)} series in memory"
        audit.append("training_started", {"system": system, "data": src, "budget_s": budget_s,
                                          "promoted": old, "model": cfg.model})
        candidate: str | None = None
        skipped: list[str] = []

        def finish(outcome: str, reason: str, **kw) -> RetrainResult:
            res = RetrainResult(system=system, outcome=outcome, reason=reason, model_id=candidate,
                                promoted_id=store.promoted_id(), elapsed_s=time.monotonic() - t_start,
                                skipped_files=skipped, **kw)
            audit.append("training_finished", {"outcome": outcome, "reason": reason, "model": candidate,
                                               "promoted": res.promoted_id, "elapsed_s": round(res.elapsed_s, 3)})
            return res

        try:
            step("gather data")
            if isinstance(data, list):
                candles = data
            else:
                candles, skipped = load_folder(data, interval_s=SYSTEM_INTERVAL_S[system],
                                               max_rows=cfg.max_rows_per_symbol)
            if time.monotonic() > deadline:
                raise BudgetExceeded("time budget ran out while gathering data")
            step("features and labels")
            ds = build_dataset(candles, cfg, schema, regimes)
            if time.monotonic() > deadline:
                raise BudgetExceeded("time budget ran out while computing features")
            tr = train(ds, cfg, deadline=deadline, progress=step)
            if time.monotonic() > deadline:
                raise BudgetExceeded("time budget ran out before the export")
            step("export to ONNX")
            blob, diff = export_onnx(tr.model, tr.oos.X, schema=schema, system=system)
            created = time.time_ns()
            manifest = Manifest(
                id=store.new_id(created), system=system, created=created, status="candidate",
                feature_schema_hash=schema.hash, feature_names=list(schema.names), schema_version=schema.version,
                training_data_hash=data_hash(candles), params={**tr.params, "horizon": cfg.horizon,
                                                                "take_profit_atr": cfg.take_profit_atr,
                                                                "stop_loss_atr": cfg.stop_loss_atr,
                                                                "atr_period": cfg.atr_period,
                                                                "n_folds": cfg.n_folds,
                                                                "oos_fraction": cfg.oos_fraction,
                                                                "embargo_bars": cfg.embargo_bars,
                                                                "oos_start_ts": tr.oos_start_ts},
                # undefined metrics (NaN) are left out: JSON has no NaN and the manifest must read back
                metrics={k: float(v) for k, v in {**tr.metrics, "export_max_abs_diff": diff}.items()
                         if np.isfinite(v)}, threshold=cfg.threshold, model_sha256="",
                validation_sha256="", export_max_abs_diff=diff, data_sources=[c.source for c in candles])
            oos = tr.oos
            validation = {"X": oos.X, "y": oos.y, "ts": oos.ts, "sym": oos.sym, "close": oos.close,
                          "symbols": np.array(oos.symbols)}
            if oos.ohlv is not None:  # the OOS window's bars, for gate 4's engine backtest
                validation.update(open=oos.ohlv[:, 0], high=oos.ohlv[:, 1], low=oos.ohlv[:, 2],
                                  volume=oos.ohlv[:, 3])
            candidate = store.add_candidate(manifest, blob, validation).id
            if time.monotonic() > deadline:
                raise BudgetExceeded("time budget ran out before the gates")
            step("gates")
            gates = run_gates(store, candidate, schema, cfg, risk_backtest=risk_backtest)
            store.record_gates(candidate, gates)
            failed = [g for g in gates if not g.passed]
            if failed:
                store.set_status(candidate, "rejected", f"gate {failed[0].gate}: {failed[0].reason}")
                return finish("rejected", f"gate {failed[0].gate} failed: {failed[0].reason}", gates=gates,
                              metrics=tr.metrics)
            store.set_status(candidate, "validated", "passed all four gates")
            if time.monotonic() > deadline:
                raise BudgetExceeded("time budget ran out before promotion")
            if not promote:
                return finish("validated", "passed all gates; not promoted (promote=False)", gates=gates,
                              metrics=tr.metrics)
            step("promote")
            store.promote(candidate, "passed all four gates")
            return finish("promoted", "passed all four gates", gates=gates, metrics=tr.metrics)
        except BudgetExceeded as e:
            log.warning("%s retraining stopped: %s; the promoted model %s stays", system, e, old)
            audit.append("training_stopped", {"reason": str(e), "model": candidate, "promoted": old})
            if candidate is not None and store.manifest(candidate).status in ("candidate", "validated"):
                store.set_status(candidate, "rejected", str(e))
            return finish("timeout", str(e))
        except Exception as e:  # bad data, a refused export, or a bug: audit it, reject the candidate, re-raise
            audit.append("training_failed", {"reason": f"{type(e).__name__}: {e}", "model": candidate})
            if candidate is not None and store.manifest(candidate).status in ("candidate", "validated"):
                store.set_status(candidate, "rejected", str(e))
            raise
