from __future__ import annotations

import numpy as np
import onnx
import pytest
from _ml_helpers import make_candidate, small_cfg

from tradejet.io.audit import read_records
from tradejet.models.artifacts import ArtifactStore
from tradejet.models.gates import (gate_out_of_sample, gate_risk, onnx_opsets, run_gates, simulate_entries)
from tradejet.models.pipeline import audit_path, run_retraining
from tradejet.models.schema import DEFAULT_SCHEMA, FeatureSchema, FeatureSpec


def _promoted(home):
    store = ArtifactStore(home, "crypto")
    return store, store.promoted_id()


def test_promoted_model_passes_all_four_gates(home):
    store, pid = _promoted(home)
    gates = run_gates(store, pid, DEFAULT_SCHEMA, small_cfg(), compare_promoted=False)
    assert [g.gate for g in gates] == ["integrity", "schema", "out_of_sample", "risk"]
    assert all(g.passed for g in gates), [g.reason for g in gates]
    assert gates[2].numbers["f1"] > 0.1 and "interim simulation" in gates[3].reason


def test_gate_1_fails_on_a_flipped_byte(home):
    store, pid = _promoted(home)
    f = store.path(pid) / "model.onnx"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    f.write_bytes(bytes(raw))
    gates = run_gates(store, pid, DEFAULT_SCHEMA, small_cfg(), compare_promoted=False)
    assert not gates[0].passed and "SHA-256" in gates[0].reason and "was changed" in gates[0].reason
    assert [g.reason for g in gates[1:]] == ["not run: gate integrity failed"] * 3


def test_gate_1_fails_on_an_unsupported_opset(home, monkeypatch):
    import tradejet.models.gates as gates_mod

    store, pid = _promoted(home)
    monkeypatch.setitem(gates_mod.SUPPORTED_OPSETS, "", (9, 16))
    g = run_gates(store, pid, DEFAULT_SCHEMA, small_cfg(), compare_promoted=False)[0]
    assert not g.passed and g.reason == "opset ai.onnx 17 is outside the supported 9..16"


def test_opsets_are_read_like_the_onnx_package_reads_them(home):
    store, pid = _promoted(home)
    blob = (store.path(pid) / "model.onnx").read_bytes()
    want = {}
    for o in onnx.load_from_string(blob).opset_import:
        want[o.domain] = max(o.version, want.get(o.domain, 0))
    assert onnx_opsets(blob) == want


def test_gate_2_fails_on_a_renamed_feature(home, market):
    feats = list(DEFAULT_SCHEMA.features)
    feats[3] = FeatureSpec(name="rsi14", kernel="rsi", params={"period": 14})
    renamed = FeatureSchema(version=DEFAULT_SCHEMA.version, features=tuple(feats))
    store, mid = make_candidate(home, market, small_cfg(), schema=renamed)
    gates = run_gates(store, mid, DEFAULT_SCHEMA, small_cfg())
    assert gates[0].passed
    assert not gates[1].passed and gates[1].reason == "feature 3 is 'rsi14' in the model, 'rsi_14' in the schema"
    assert gates[2].reason == "not run: gate schema failed"


def test_gate_2_fails_when_only_a_parameter_changed(home, market):
    feats = list(DEFAULT_SCHEMA.features)
    feats[3] = FeatureSpec(name="rsi_14", kernel="rsi", params={"period": 10})
    changed = FeatureSchema(version=DEFAULT_SCHEMA.version, features=tuple(feats))
    store, mid = make_candidate(home, market, small_cfg(), schema=changed)
    g = run_gates(store, mid, DEFAULT_SCHEMA, small_cfg())[1]
    assert not g.passed and "differ from the current" in g.reason


def test_gate_3_fails_below_the_floor_and_the_pipeline_rejects(home, market):
    store, before = _promoted(home)
    res = run_retraining("crypto", market, 300, home, cfg=small_cfg(min_f1=0.99))
    assert res.outcome == "rejected" and "gate out_of_sample failed" in res.reason
    g = next(g for g in res.gates if g.gate == "out_of_sample")
    assert not g.passed and "< floor 0.9900" in g.reason and g.numbers["min_f1"] == 0.99
    assert store.promoted_id() == before  # the promoted model is untouched
    m = store.manifest(res.model_id)
    assert m.status == "rejected" and [x.gate for x in m.gates] == ["integrity", "schema", "out_of_sample", "risk"]
    events = [(r.event, r.data.get("gate")) for r in read_records(audit_path(home, "crypto"))]
    assert ("gate", "out_of_sample") in events and ("model_rejected", None) in events
    assert events[-1] == ("training_finished", None)


def test_gate_3_compares_with_the_promoted_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.05, 2000)
    noisy = rng.uniform(size=2000)
    cfg = small_cfg(min_precision=0.0, min_recall=0.0, min_f1=0.0, min_precision_lift=-1.0, margin=0.05)
    g = gate_out_of_sample(y, noisy, 0.5, cfg, promoted_proba=good, promoted_id="crypto-x")
    assert not g.passed and "worse than the promoted model crypto-x's" in g.reason
    assert g.numbers["promoted_f1"] > 0.9
    assert gate_out_of_sample(y, good, 0.5, cfg, promoted_proba=noisy).passed
    lift = gate_out_of_sample(y, np.ones(2000), 0.5, small_cfg(min_precision=0.0, min_recall=0.0, min_f1=0.0))
    assert not lift.passed and "does not beat the base rate" in lift.reason


def test_gate_4_fails_for_a_model_that_trades_too_much(home):
    store, pid = _promoted(home)
    gates = run_gates(store, pid, DEFAULT_SCHEMA, small_cfg(max_turnover=2.0), compare_promoted=False)
    assert gates[2].passed and not gates[3].passed
    assert "it trades too much" in gates[3].reason and gates[3].numbers["turnover_per_year"] > 2.0


def test_gate_4_drawdown_and_position_limits():
    n = 200
    ts = np.arange(n, dtype=np.int64) * 3600 * 10**9
    close = np.concatenate([np.linspace(100, 120, 100), np.linspace(120, 40, 100)])
    cfg = small_cfg(risk_fraction=0.5, horizon=10, max_drawdown=0.1, max_position=0.3, max_turnover=1e9)
    g = gate_risk(ts, np.zeros(n, np.int32), close, np.ones(n), 0.5, cfg)
    assert not g.passed
    assert "max drawdown" in g.reason and "largest position" in g.reason


def simulate_loop(ts, sym, close, signal, hold, fraction, fee):
    """Plain-Python oracle of simulate_entries_nb."""
    order = sorted(range(len(ts)), key=lambda i: (ts[i], sym[i]))
    qty, held, last = {}, {}, {}
    cash, peak, max_dd, traded, entries = 1.0, 1.0, 0.0, 0.0, 0
    eqs = []
    i = 0
    while i < len(order):
        group = [order[i]]
        while i + len(group) < len(order) and ts[order[i + len(group)]] == ts[order[i]]:
            group.append(order[i + len(group)])
        for r in group:
            last[sym[r]] = close[r]
            if qty.get(sym[r], 0) > 0:
                held[sym[r]] += 1
        for r in group:
            s = sym[r]
            if qty.get(s, 0) > 0 and held[s] >= hold:
                cash += qty[s] * close[r] * (1 - fee)
                traded += qty[s] * close[r]
                qty[s] = 0.0
        eq = cash + sum(q * last[s] for s, q in qty.items())
        for r in group:
            s = sym[r]
            if qty.get(s, 0) == 0 and signal[r]:
                notional = min(fraction * eq, cash)
                if notional <= 0:
                    continue
                qty[s] = notional * (1 - fee) / close[r]
                cash -= notional
                traded += notional
                held[s] = 0
                entries += 1
        eq = cash + sum(q * last[s] for s, q in qty.items())
        peak = max(peak, eq)
        max_dd = max(max_dd, 1 - eq / peak)
        eqs.append(eq)
        i += len(group)
    return {"final_equity": eqs[-1], "max_drawdown": max_dd, "turnover": traded / np.mean(eqs), "entries": entries}


@pytest.mark.parametrize("seed", range(5))
def test_risk_simulation_matches_python_loop(seed):
    rng = np.random.default_rng(seed)
    n_sym, n_t = 3, 150
    ts = np.repeat(np.arange(n_t, dtype=np.int64) * 3600 * 10**9, n_sym)
    sym = np.tile(np.arange(n_sym), n_t)
    keep = rng.uniform(size=len(ts)) > 0.1  # gaps: not every symbol has every bar
    ts, sym = ts[keep], sym[keep]
    close = 100 * np.exp(rng.normal(0, 0.02, len(ts)).cumsum())
    signal = rng.uniform(size=len(ts)) > 0.7
    perm = rng.permutation(len(ts))  # rows arrive unsorted
    got = simulate_entries(ts[perm], sym[perm], close[perm], signal[perm], hold=5, fraction=0.2, fee_bps=10)
    want = simulate_loop(ts, sym, close, signal, 5, 0.2, 10 / 1e4)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k


def test_simulation_bad_arguments():
    with pytest.raises(ValueError, match="need hold >= 1"):
        simulate_entries(np.zeros(1, np.int64), np.zeros(1), np.ones(1), np.ones(1, bool), hold=0, fraction=0.1,
                         fee_bps=0)


def test_gate_3_compares_only_on_rows_the_promoted_model_never_trained_on():
    rng = np.random.default_rng(1)
    n = 4000
    y = rng.integers(0, 2, n)
    seen = np.arange(n) < n // 2  # the promoted model trained on the first half: perfect there
    promoted = np.where(seen, y * 0.9 + 0.05, rng.uniform(size=n))
    candidate = np.clip(np.where(y == 1, 0.6, 0.4) + rng.normal(0, 0.25, n), 0, 1)
    cfg = small_cfg(min_precision=0.0, min_recall=0.0, min_f1=0.0, margin=0.02)
    unfair = gate_out_of_sample(y, candidate, 0.5, cfg, promoted_proba=promoted, promoted_id="p")
    assert not unfair.passed and "worse than the promoted model" in unfair.reason
    fair = gate_out_of_sample(y, candidate, 0.5, cfg, promoted_proba=promoted, promoted_id="p",
                              compare_mask=~seen)
    assert fair.passed and fair.numbers["compare_rows"] == n // 2
    assert fair.numbers["promoted_f1"] < fair.numbers["compare_f1"]
