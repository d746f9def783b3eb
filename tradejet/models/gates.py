"""The four gates a model passes before it may trade.

1. **integrity**: the model and validation files exist and their SHA-256s match the
   manifest; onnxruntime loads the model; its opsets are within :data:`SUPPORTED_OPSETS`.
2. **schema**: the model's input is ``features`` float32 ``[N, width]``; its embedded
   feature names and schema hash equal the current schema's (names, order, width,
   dtype); its probabilities on the validation rows are in [0, 1], no NaN, rows sum to 1.
3. **out-of-sample**: precision, recall and F1 at the manifest's threshold on the
   walk-forward's out-of-sample rows are at least the configured floors, and the F1 is
   not below the promoted model's F1 on the same rows by more than ``margin``.
4. **risk**: a simulation of trading the model's entries over the out-of-sample window
   keeps the max drawdown, the annual turnover and the largest position within limits.

**Gate 4 runs on the engine** when the caller hands in ``risk_backtest``
(:func:`tradejet.engine.mlgate.ml_signal_backtest`: the compiled driver trading
``ml_signal`` with the candidate's scores over the OOS window; the CLI and the scheduler
always do). Without it (an embedding bot calling the models layer alone, or validation
rows saved before they carried OHLCV) the **interim simulation** stands in, and the reason
says which ran: :func:`simulate_entries_nb` walks the OOS rows in time
order, long-only, entering ``risk_fraction`` of equity (cash only, no leverage) at the
close of a bar whose probability reaches the threshold when that symbol is flat,
holding ``horizon`` bars, paying ``fee_bps`` per side, marking to market every bar.
Both report the same numbers under the same names.

Each gate returns a :class:`~tradejet.models.artifacts.GateResult` with its numbers
and reason; :func:`run_gates` stops at the first failure and marks the rest as not run.
Only onnxruntime, NumPy and Numba are needed here (no scikit-learn).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from tradejet.errors import ModelError
from tradejet.models.artifacts import ArtifactStore, GateResult, Manifest
from tradejet.models.schema import FeatureSchema
from tradejet.models.train import classification_metrics

if TYPE_CHECKING:
    # ``cfg`` is a tradejet.config.MLConfig; models may not import config (layering), the
    # caller (CLI, scheduler) passes it in.
    MLConfig = Any
    from tradejet.models.inference import OnnxModel

# gate 4's backtest: (validation rows, probabilities, threshold, ml config) -> numbers
RiskBacktest = Callable[[dict[str, np.ndarray], np.ndarray, float, Any], dict[str, float]]

__all__ = ["SUPPORTED_OPSETS", "GATES", "gate_integrity", "gate_schema", "gate_out_of_sample", "gate_risk",
           "run_gates", "simulate_entries", "simulate_entries_nb", "onnx_opsets"]

# domain -> (lowest, highest) opset version tradejet exports and tests
SUPPORTED_OPSETS = {"": (9, 21), "ai.onnx.ml": (1, 3)}
GATES = ("integrity", "schema", "out_of_sample", "risk")
_MIN_COMPARE_ROWS = 200


def _result(gate: str, passed: bool, reason: str, **numbers: float) -> GateResult:
    # an undefined number (NaN: e.g. precision with no positive call) is left out: JSON has no NaN
    return GateResult(gate=gate, passed=passed, reason=reason,
                      numbers={k: float(v) for k, v in numbers.items() if np.isfinite(v)}, ts=time.time_ns())


# -- gate 1 ---------------------------------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(buf):
            raise ValueError("truncated field")
        yield field, val


def onnx_opsets(blob: bytes) -> dict[str, int]:
    """Return ``{domain: version}`` of a serialized ONNX ModelProto (field 8, ``opset_import``)."""
    out = {}
    for field, val in _fields(blob):
        if field == 8:
            dom, ver = "", 1
            for f2, v2 in _fields(val):
                if f2 == 1:
                    dom = v2.decode()
                elif f2 == 2:
                    ver = v2
            out[dom] = max(ver, out.get(dom, 0))
    return out


def gate_integrity(store: ArtifactStore, model_id: str) -> tuple[GateResult, OnnxModel | None]:
    """Gate 1: files, SHA-256s, loadable by onnxruntime, supported opsets."""
    from tradejet.models.inference import OnnxModel

    try:
        m, blob = store.verify_files(model_id)
    except ModelError as e:
        return _result("integrity", False, str(e)), None
    try:
        opsets = onnx_opsets(blob)
    except (ValueError, UnicodeDecodeError) as e:
        return _result("integrity", False, f"model file is not a valid ONNX protobuf: {e}"), None
    for dom, ver in opsets.items():
        lo_hi = SUPPORTED_OPSETS.get(dom)
        if lo_hi is None:
            return _result("integrity", False, f"opset domain {dom!r} is not supported"), None
        if not lo_hi[0] <= ver <= lo_hi[1]:
            return _result("integrity", False, f"opset {dom or 'ai.onnx'} {ver} is outside the supported "
                                               f"{lo_hi[0]}..{lo_hi[1]}"), None
    try:
        model = OnnxModel(blob, expected_sha256=m.model_sha256, system=store.system, model_id=model_id)
    except ModelError as e:
        return _result("integrity", False, str(e)), None
    nums = {f"opset_{d or 'ai.onnx'}": v for d, v in opsets.items()}
    listed = ", ".join(f"{d or 'ai.onnx'} {v}" for d, v in opsets.items())
    return _result("integrity", True, f"SHA-256 {m.model_sha256[:12]} matches; onnxruntime loads it; "
                                      f"opsets {listed} supported", bytes=len(blob), **nums), model


# -- gate 2 ---------------------------------------------------------------------------------
def gate_schema(model: OnnxModel, manifest: Manifest, schema: FeatureSchema, X_val: np.ndarray) -> GateResult:
    """Gate 2: the model's inputs and outputs match the current feature schema."""
    names, want = model.names, schema.names
    if names != want:
        if len(names) != len(want):
            return _result("schema", False, f"model has {len(names)} features, the schema {len(want)}",
                           width=len(names), schema_width=len(want))
        i = next(i for i, (a, b) in enumerate(zip(names, want)) if a != b)
        return _result("schema", False, f"feature {i} is {names[i]!r} in the model, {want[i]!r} in the schema",
                       width=len(names), first_mismatch=i)
    if model.schema_hash != schema.hash or manifest.feature_schema_hash != schema.hash:
        return _result("schema", False, f"schema hash {model.schema_hash[:12]} (model) / "
                                        f"{manifest.feature_schema_hash[:12]} (manifest) differ from the current "
                                        f"{schema.hash[:12]}: kernels, params or dtypes changed")
    if X_val.dtype != np.float32 or X_val.ndim != 2 or X_val.shape[1] != schema.width or len(X_val) == 0:
        return _result("schema", False, f"validation rows must be float32 (n, {schema.width}), "
                                        f"were {X_val.dtype} {X_val.shape}")
    try:
        probs = model.raw_probabilities(X_val)
    except Exception as e:  # onnxruntime raises its own exception types
        return _result("schema", False, f"running the model on the validation rows failed: {e}")
    if probs.ndim != 2 or probs.shape != (len(X_val), 2):
        return _result("schema", False, f"probabilities must have shape ({len(X_val)}, 2), had {probs.shape}")
    nan = int(np.isnan(probs).sum())
    lo, hi = float(np.nanmin(probs)) if nan < probs.size else float("nan"), float(np.nanmax(probs)) \
        if nan < probs.size else float("nan")
    row_err = float(np.nanmax(np.abs(probs.sum(axis=1) - 1.0))) if nan < probs.size else float("nan")
    nums = dict(width=schema.width, rows=len(X_val), nan=nan, min_proba=lo, max_proba=hi, max_row_sum_error=row_err)
    if nan:
        return _result("schema", False, f"{nan} NaN probabilities on the validation rows", **nums)
    if lo < 0.0 or hi > 1.0:
        return _result("schema", False, f"probabilities outside [0, 1]: min {lo}, max {hi}", **nums)
    if row_err > 1e-4:
        return _result("schema", False, f"class probabilities do not sum to 1 (off by {row_err:.2g})", **nums)
    return _result("schema", True, f"{schema.width} features match schema v{schema.version} "
                                   f"{schema.hash[:12]}; probabilities in [{lo:.3f}, {hi:.3f}]", **nums)


# -- gate 3 ---------------------------------------------------------------------------------
def gate_out_of_sample(y: np.ndarray, proba: np.ndarray, threshold: float, cfg: MLConfig,
                       promoted_proba: np.ndarray | None = None, promoted_f1: float | None = None,
                       promoted_id: str | None = None, compare_mask: np.ndarray | None = None) -> GateResult:
    """Gate 3: precision, recall, F1 above floors; F1 not worse than the promoted model's by > margin.

    The floors apply to all OOS rows. The comparison scores both models on the rows of
    ``compare_mask`` (default: all), which should be rows the promoted model never
    trained on; without ``promoted_proba`` the promoted model's recorded OOS F1 is used.
    """
    m = classification_metrics(y, proba, threshold)
    nums = dict(precision=m["precision"], recall=m["recall"], f1=m["f1"], base_rate=m["base_rate"],
                signal_rate=m["signal_rate"], rows=m["rows"], threshold=threshold,
                min_precision=cfg.min_precision, min_recall=cfg.min_recall, min_f1=cfg.min_f1, margin=cfg.margin,
                min_precision_lift=cfg.min_precision_lift)
    fails = [f"{k} {m[k]:.4f} < floor {floor:.4f}" for k, floor in
             (("precision", cfg.min_precision), ("recall", cfg.min_recall), ("f1", cfg.min_f1)) if m[k] < floor]
    if m["rows"] and m["precision"] < m["base_rate"] + cfg.min_precision_lift:
        fails.append(f"precision {m['precision']:.4f} does not beat the base rate {m['base_rate']:.4f} "
                     f"by {cfg.min_precision_lift}")
    own_f1 = m["f1"]
    if promoted_proba is not None:
        sel = np.ones(len(y), bool) if compare_mask is None else compare_mask
        promoted_f1 = classification_metrics(y[sel], promoted_proba[sel], threshold)["f1"]
        own_f1 = classification_metrics(y[sel], proba[sel], threshold)["f1"]
        nums["compare_rows"] = int(sel.sum())
        nums["compare_f1"] = own_f1
    if promoted_f1 is not None:
        nums["promoted_f1"] = promoted_f1
        if own_f1 < promoted_f1 - cfg.margin:
            fails.append(f"f1 {own_f1:.4f} is worse than the promoted model {promoted_id}'s {promoted_f1:.4f} "
                         f"by more than the margin {cfg.margin}")
    if fails:
        return _result("out_of_sample", False, "; ".join(fails), **nums)
    vs = f"; promoted model f1 {promoted_f1:.4f} vs this {own_f1:.4f}" if promoted_f1 is not None \
        else ", no promoted model to compare"
    return _result("out_of_sample", True, f"precision {m['precision']:.4f}, recall {m['recall']:.4f}, "
                                          f"f1 {m['f1']:.4f} on {int(m['rows'])} OOS rows{vs}", **nums)


# -- gate 4 ---------------------------------------------------------------------------------
@njit(cache=True)
def simulate_entries_nb(ts, sym, close, signal, n_sym, hold, fraction, fee, out):
    """Long-only fixed-fraction entries held ``hold`` bars; rows sorted by (ts, sym).

    Writes ``out`` = [final equity, max drawdown, traded notional, mean equity, max
    position fraction, max gross exposure, entries, steps]. Equity starts at 1.0.
    Oracle: tests/models/test_gates.py::simulate_loop.
    """
    qty = np.zeros(n_sym)
    held = np.zeros(n_sym, dtype=np.int64)
    last = np.zeros(n_sym)
    cash = 1.0
    peak = 1.0
    max_dd = 0.0
    traded = 0.0
    eq_sum = 0.0
    max_pos = 0.0
    max_gross = 0.0
    entries = 0
    steps = 0
    n = ts.shape[0]
    i = 0
    equity = 1.0
    while i < n:
        j = i
        while j < n and ts[j] == ts[i]:
            j += 1
        for r in range(i, j):
            s = sym[r]
            last[s] = close[r]
            if qty[s] > 0.0:
                held[s] += 1
        for r in range(i, j):  # exits at this bar's close
            s = sym[r]
            if qty[s] > 0.0 and held[s] >= hold:
                notional = qty[s] * close[r]
                cash += notional * (1.0 - fee)
                traded += notional
                qty[s] = 0.0
        equity = cash
        for s in range(n_sym):
            equity += qty[s] * last[s]
        for r in range(i, j):  # entries at this bar's close
            s = sym[r]
            if qty[s] == 0.0 and signal[r]:
                notional = fraction * equity
                if notional > cash:
                    notional = cash
                if notional <= 0.0:
                    continue
                qty[s] = notional * (1.0 - fee) / close[r]
                cash -= notional
                traded += notional
                held[s] = 0
                entries += 1
        equity = cash
        for s in range(n_sym):
            equity += qty[s] * last[s]
        for s in range(n_sym):
            if equity > 0.0:
                f = qty[s] * last[s] / equity
                if f > max_pos:
                    max_pos = f
        if equity > 0.0 and 1.0 - cash / equity > max_gross:
            max_gross = 1.0 - cash / equity
        if equity > peak:
            peak = equity
        dd = 1.0 - equity / peak
        if dd > max_dd:
            max_dd = dd
        eq_sum += equity
        steps += 1
        i = j
    out[0] = equity
    out[1] = max_dd
    out[2] = traded
    out[3] = eq_sum / steps if steps > 0 else 1.0
    out[4] = max_pos
    out[5] = max_gross
    out[6] = entries
    out[7] = steps


def simulate_entries(ts: np.ndarray, sym: np.ndarray, close: np.ndarray, signal: np.ndarray, *, hold: int,
                     fraction: float, fee_bps: float) -> dict[str, float]:
    """Run :func:`simulate_entries_nb` on unsorted rows; return its numbers (turnover annualised)."""
    if hold < 1 or not 0.0 < fraction <= 1.0 or fee_bps < 0:
        raise ValueError(f"need hold >= 1, 0 < fraction <= 1, fee_bps >= 0; were {hold}, {fraction}, {fee_bps}")
    n = len(ts)
    if not (len(sym) == len(close) == len(signal) == n):
        raise ValueError("ts, sym, close and signal must have equal lengths")
    order = np.lexsort((sym, ts))
    sym_o = np.ascontiguousarray(sym[order], dtype=np.int64)
    out = np.zeros(8)
    n_sym = int(sym_o.max()) + 1 if n else 1
    simulate_entries_nb(np.ascontiguousarray(ts[order], dtype=np.int64), sym_o,
                        np.ascontiguousarray(close[order], dtype=np.float64),
                        np.ascontiguousarray(signal[order], dtype=np.bool_), n_sym, int(hold), float(fraction),
                        fee_bps / 1e4, out)
    years = (float(ts.max()) - float(ts.min())) / (365.25 * 86400e9) if n else 0.0
    turnover = out[2] / out[3] if out[3] > 0 else 0.0
    return {"final_equity": out[0], "max_drawdown": out[1], "turnover": turnover,
            "turnover_per_year": turnover / years if years > 0 else 0.0, "max_position": out[4],
            "max_gross": out[5], "entries": out[6], "steps": out[7], "years": years}


def gate_risk(ts: np.ndarray, sym: np.ndarray, close: np.ndarray, proba: np.ndarray, threshold: float,
              cfg: MLConfig, *, rows: dict[str, np.ndarray] | None = None,
              backtest: RiskBacktest | None = None) -> GateResult:
    """Gate 4: max drawdown, turnover and position size of trading the candidate's entries.

    With ``backtest`` (the engine's :func:`tradejet.engine.mlgate.ml_signal_backtest`, handed
    in by the caller because the models layer may not import the engine) and validation
    ``rows`` that carry the OOS window's OHLCV, the numbers come from a backtest of
    ``ml_signal`` on the compiled driver. Otherwise from the interim simulation
    (:func:`simulate_entries`), and the reason says so.
    """
    if backtest is not None and rows is not None and all(k in rows for k in ("open", "high", "low", "volume")):
        r = dict(backtest(rows, proba, threshold, cfg))
        how = "[engine backtest of ml_signal]"
    else:
        r = simulate_entries(ts, sym, close, proba >= threshold, hold=cfg.horizon, fraction=cfg.risk_fraction,
                             fee_bps=cfg.fee_bps)
        how = "[interim simulation]" if backtest is None else \
            "[interim simulation: the validation rows hold no OHLCV for an engine backtest]"
    nums = dict(r, limit_max_drawdown=cfg.max_drawdown, limit_turnover_per_year=cfg.max_turnover,
                limit_max_position=cfg.max_position)
    fails = []
    if r["max_drawdown"] > cfg.max_drawdown:
        fails.append(f"max drawdown {r['max_drawdown']:.2%} > limit {cfg.max_drawdown:.2%}")
    if r["turnover_per_year"] > cfg.max_turnover:
        fails.append(f"turnover {r['turnover_per_year']:.1f}x equity/year > limit {cfg.max_turnover:.1f}x "
                     f"({int(r['entries'])} entries): it trades too much")
    if r["max_position"] > cfg.max_position:
        fails.append(f"largest position {r['max_position']:.2%} of equity > limit {cfg.max_position:.2%}")
    if fails:
        return _result("risk", False, "; ".join(fails) + " " + how, **nums)
    return _result("risk", True, f"max drawdown {r['max_drawdown']:.2%}, turnover {r['turnover_per_year']:.1f}x/yr, "
                                 f"largest position {r['max_position']:.2%}, {int(r['entries'])} entries, final "
                                 f"equity {r['final_equity']:.4f} {how}", **nums)


# -- all four ---------------------------------------------------------------------------------
def run_gates(store: ArtifactStore, model_id: str, schema: FeatureSchema, cfg: MLConfig,
              *, compare_promoted: bool = True, risk_backtest: RiskBacktest | None = None) -> list[GateResult]:
    """Run the four gates on a stored model; stop at the first failure (the rest: "not run").

    ``risk_backtest``: gate 4's backtest (see :func:`gate_risk`); the CLI and the scheduler
    pass :func:`tradejet.engine.mlgate.ml_signal_backtest`.
    """
    results: list[GateResult] = []

    def done() -> list[GateResult]:
        failed = next((g.gate for g in results if not g.passed), None)
        for g in GATES[len(results):]:
            results.append(_result(g, False, f"not run: gate {failed} failed"))
        for g in results:
            store.audit_event("gate", {"model": model_id, "gate": g.gate, "passed": g.passed, "reason": g.reason,
                                  "numbers": g.numbers})
        return results

    g1, model = gate_integrity(store, model_id)
    results.append(g1)
    if model is None:
        return done()
    try:
        manifest = store.manifest(model_id)
        rows = store.validation_rows(model_id)
        X, y = rows["X"], rows["y"]
        g2 = gate_schema(model, manifest, schema, X)
        results.append(g2)
        if not g2.passed:
            return done()
        proba = model.predict(X)
        promoted_proba = promoted_f1 = promoted_id = compare = None
        pid = store.promoted_id() if compare_promoted else None
        if pid is not None and pid != model_id:
            promoted_id = pid
            try:
                pmf = store.manifest(pid)
                # compare on rows the promoted model never trained on (after its own OOS start)
                compare = rows["ts"] >= int(pmf.params.get("oos_start_ts", 0))
                pm = store.load(pid)
                if pm.names == model.names and int(compare.sum()) >= _MIN_COMPARE_ROWS:
                    promoted_proba = pm.predict(X)
                else:
                    promoted_f1 = pmf.metrics.get("oos_f1")
                pm.close()
            except ModelError:  # a broken promoted model is no bar to replacing it
                promoted_f1 = None
        results.append(gate_out_of_sample(y, proba, manifest.threshold, cfg, promoted_proba, promoted_f1,
                                          promoted_id, compare))
        if not results[-1].passed:
            return done()
        results.append(gate_risk(rows["ts"], rows["sym"], rows["close"], proba, manifest.threshold, cfg,
                                 rows=rows, backtest=risk_backtest))
        return done()
    finally:
        model.close()
