from __future__ import annotations

import numpy as np
import pytest
from _ml_helpers import small_cfg

from tradejet.cli import main
from tradejet.errors import DataError
from tradejet.io.audit import read_records, verify
from tradejet.models.artifacts import ArtifactStore
from tradejet.models.data import load_candles, load_folder
from tradejet.models.pipeline import audit_path, run_retraining


def test_a_tiny_budget_stops_cleanly_and_keeps_the_old_model(home, market):
    store = ArtifactStore(home, "crypto")
    before = store.promoted_id()
    ids_before = store.ids()
    res = run_retraining("crypto", market, 1e-6, home, cfg=small_cfg())
    assert res.outcome == "timeout" and "time budget ran out" in res.reason
    assert store.promoted_id() == before and res.promoted_id == before
    assert store.ids() == ids_before  # nothing half-made was stored
    events = [r.event for r in read_records(audit_path(home, "crypto"))]
    assert events[-3:] == ["training_started", "training_stopped", "training_finished"]
    assert verify(audit_path(home, "crypto")).ok


def test_budget_running_out_inside_boosting(home, market, monkeypatch):
    """The deadline is checked between boosting chunks: a slow clock stops training mid-fit."""
    import time as real_time

    import tradejet.models.pipeline as pl
    import tradejet.models.train as tr

    t0 = real_time.monotonic()
    calls = {"n": 0}

    def clock() -> float:  # each look at the clock costs 10 s: the budget of 100 s ends inside training
        calls["n"] += 1
        return t0 + 10.0 * calls["n"]

    monkeypatch.setattr(tr.time, "monotonic", clock)
    monkeypatch.setattr(pl.time, "monotonic", clock)
    before = ArtifactStore(home, "crypto").promoted_id()
    res = run_retraining("crypto", market, 100.0, home, cfg=small_cfg(max_iter=200))
    assert res.outcome == "timeout" and ("boosting iteration" in res.reason or "fitting" in res.reason)
    assert ArtifactStore(home, "crypto").promoted_id() == before


def test_a_better_run_is_promoted_over_the_old_one(home, market):
    store = ArtifactStore(home, "crypto")
    before = store.promoted_id()
    res = run_retraining("crypto", market, 300, home, cfg=small_cfg(seed=5))
    assert res.outcome == "promoted", res.reason
    assert store.promoted_id() == res.model_id != before
    assert store.manifest(before).status == "retired"
    g3 = next(g for g in res.gates if g.gate == "out_of_sample")
    assert "promoted_f1" in g3.numbers  # compared with the old model on the same rows
    m = store.manifest(res.model_id)
    assert m.export_max_abs_diff <= 1e-5 and len(m.training_data_hash) == 64 and m.params["model"] == "hgb"


def test_tampered_audit_line_is_caught_by_audit_verify(home, capsys):
    p = audit_path(home, "crypto")
    assert main(["audit", "verify", str(p)]) == 0
    lines = p.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"model_candidate"', b'"model_cand1date"')
    p.write_bytes(b"\n".join(lines))
    capsys.readouterr()
    assert main(["audit", "verify", "--home", str(home)]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_folder_loading_filters_by_interval(tmp_path):
    def rows(step: int) -> str:
        return "timestamp,open,high,low,close,volume\n" + "".join(
            f"{1_600_000_000 + i * step},1,2,0.5,1.5,10\n" for i in range(600))

    (tmp_path / "A_1h.csv").write_text(rows(3600))
    (tmp_path / "B_5m.csv").write_text(rows(300))
    import gzip

    (tmp_path / "C_1h.csv.gz").write_bytes(gzip.compress(rows(3600).encode()))
    (tmp_path / "D_1h.csv").write_text("\n".join(rows(3600).splitlines()[:20]) + "\n")
    got, skipped = load_folder(tmp_path, interval_s=3600, max_rows=100)
    assert [c.symbol for c in got] == ["A_1h", "C_1h"] and len(got[0]) == 100
    assert got[0].ts[0] == (1_600_000_000 + 500 * 3600) * 10**9
    assert sorted(skipped) == ["B_5m.csv: interval 300s, not 3600s", "D_1h.csv: 19 bars < 500"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("timestamp,open,high,low,close\n1,1,1,1,1\n", "not a normalised candle CSV"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,1,1\n1,1,1,1,1,1\n", "line 3: timestamp 1 does not increase"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,0,1\n", "line 2: close must be finite and > 0, was 0.0"),
        ("timestamp,open,high,low,close,volume\n1,1,1,2,1,1\n", "line 2: high 1.0 < low 2.0"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,1,\n", "line 2: volume is empty"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,1,-3\n", "volume must be finite and >= 0"),
        ("timestamp,open,high,low,close,volume\n1,x,1,1,1,1\n", "not a normalised candle CSV"),
    ],
)
def test_bad_candle_files_are_named(tmp_path, body, match):
    f = tmp_path / "bad.csv"
    f.write_text(body)
    with pytest.raises(DataError, match=match) as e:
        load_candles(f)
    assert "bad.csv" in str(e.value)


def test_no_usable_files(tmp_path):
    with pytest.raises(DataError, match="no such data folder"):
        load_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="no \\*.csv or \\*.csv.gz candle files"):
        load_folder(tmp_path)


def test_bad_data_is_audited_then_raised(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("timestamp,open\n1,2\n")
    with pytest.raises(DataError):
        run_retraining("crypto", tmp_path / "data", 60, tmp_path / "home", cfg=small_cfg())
    events = [r.event for r in read_records(audit_path(tmp_path / "home", "crypto"))]
    assert events == ["training_started", "training_failed"]
    rec = list(read_records(audit_path(tmp_path / "home", "crypto")))[-1]
    assert rec.data["reason"].startswith("DataError: ")


def test_real_data_trains_and_is_gated(shared_data, tmp_path):
    """A few thousand real 1h bars of BTC and ETH: the pipeline runs and states its verdict."""
    d = shared_data / "crypto" / "binance"
    candles = [load_candles(d / f"{s}USDT_1h_2024-09_2026-02.csv").tail(3000) for s in ("BTC", "ETH")]
    res = run_retraining("crypto", candles, 300, tmp_path, cfg=small_cfg())
    assert res.outcome in ("promoted", "rejected")
    assert [g.gate for g in res.gates] == ["integrity", "schema", "out_of_sample", "risk"]
    assert res.gates[0].passed and res.gates[1].passed  # a fresh export is intact and on schema
    assert all(g.reason for g in res.gates)
    m = ArtifactStore(tmp_path, "crypto").manifest(res.model_id)
    assert m.export_max_abs_diff <= 1e-5 and np.isfinite(m.metrics["oos_f1"])
    assert len(m.data_sources) == 2


def test_undefined_metrics_do_not_break_the_manifest(tmp_path):
    """Regression: too few rows for a CV fold gave NaN cv_* metrics, written as JSON null, and the
    manifest of the candidate could not be read back (the run failed with 'manifest unreadable')."""
    from tradejet.models.artifacts import ArtifactStore
    from tradejet.models.data import synthetic_market
    from tradejet.models.gates import _result

    res = run_retraining("crypto", synthetic_market(n_symbols=10, n_bars=100, seed=1), 300, tmp_path,
                         cfg=small_cfg(horizon=6, min_precision=0.0, min_recall=0.0, min_f1=0.0,
                                       min_precision_lift=-1.0, threshold=0.3))
    assert res.model_id is not None and "unreadable" not in res.reason, res.reason
    m = ArtifactStore(tmp_path, "crypto").manifest(res.model_id)
    assert "cv_f1" not in m.metrics and "oos_f1" in m.metrics  # undefined: left out, not null
    assert _result("x", True, "ok", a=float("nan"), b=1.0).numbers == {"b": 1.0}
