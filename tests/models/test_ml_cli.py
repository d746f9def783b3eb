from __future__ import annotations

import json

from tradejet.cli import main
from tradejet.io.audit import read_records
from tradejet.models.artifacts import ArtifactStore
from tradejet.models.pipeline import audit_path

FAST = '[ml]\nmax_iter = 20\nmax_leaf_nodes = 7\nmin_samples_leaf = 50\nn_folds = 1\nmin_precision = 0.3\n' \
       'min_f1 = 0.1\nmax_turnover = 1000.0\nmax_drawdown = 0.5\n'


def test_train_synthetic_then_list_show(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(FAST)
    home = tmp_path / "home"
    assert main(["models", "train", "--system", "crypto", "--synthetic", "--home", str(home), "--config", str(cfg),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["outcome"] == "promoted" and len(res["gates"]) == 4
    assert main(["models", "list", "--system", "crypto", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "promoted" in out and "4/4" in out
    assert main(["models", "show", "--system", "crypto", "--home", str(home), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == res["model_id"] and shown["status"] == "promoted"
    assert main(["models", "show", "--system", "crypto", "--home", str(home)]) == 0
    assert "out_of_sample" in capsys.readouterr().out
    assert main(["models", "list", "--system", "swing", "--home", str(home)]) == 0  # empty, isolated


def test_train_rejection_exits_1_with_the_reason(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(FAST.replace("min_f1 = 0.1", "min_f1 = 0.99"))
    assert main(["models", "train", "--system", "crypto", "--synthetic", "--home", str(tmp_path),
                 "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "< floor 0.9900" in out


def test_validate_passes_then_fails_on_a_tampered_file(home, capsys):
    cfg = home / "c.toml"
    cfg.write_text(FAST)
    args = ["models", "validate", "--system", "crypto", "--home", str(home), "--config", str(cfg)]
    assert main(args) == 0
    assert "VALID" in capsys.readouterr().out
    store = ArtifactStore(home, "crypto")
    f = store.path(store.promoted_id()) / "model.onnx"
    raw = bytearray(f.read_bytes())
    raw[-10] ^= 0x40
    f.write_bytes(bytes(raw))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "SHA-256" in out
    events = [r.event for r in read_records(audit_path(home, "crypto"))]
    assert events[-1] == "model_validation_failed"


def test_validate_without_a_promoted_model_is_a_one_line_error(tmp_path, capsys):
    assert main(["models", "validate", "--system", "swing", "--home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tradejet: error: no promoted swing model") and err.count("\n") == 1


def test_promote_and_rollback(home, market, capsys):
    from _ml_helpers import make_candidate, small_cfg

    store = ArtifactStore(home, "crypto")
    first = store.promoted_id()
    _, second = make_candidate(home, market, small_cfg(seed=2))
    base = ["--system", "crypto", "--home", str(home)]
    assert main(["models", "promote", second, *base]) == 2  # still a candidate
    assert "only a validated model can be promoted" in capsys.readouterr().err
    cfg = home / "c.toml"
    cfg.write_text(FAST.replace("min_f1 = 0.1", "min_f1 = 0.0\nmin_precision_lift = -1.0\nmargin = 1.0"))
    assert main(["models", "validate", second, *base, "--config", str(cfg)]) == 0
    assert store.manifest(second).status == "validated"
    assert main(["models", "promote", second, *base]) == 0
    assert store.promoted_id() == second
    assert main(["models", "rollback", *base]) == 0
    assert store.promoted_id() == first
    assert f"{second} -> {first}" in capsys.readouterr().out
    events = [r.event for r in read_records(audit_path(home, "crypto"))]
    assert "model_promoted" in events and events[-1] == "model_rolled_back"


def test_train_needs_data_or_synthetic(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["models", "train", "--system", "crypto", "--home", str(tmp_path)])
    assert "one of the arguments --data --synthetic is required" in capsys.readouterr().err


def test_bad_ml_config_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[ml]\noos_fraction = 1.5\n")
    assert main(["models", "train", "--system", "crypto", "--synthetic", "--home", str(tmp_path),
                 "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "key ml.oos_fraction" in err and "c.toml" in err
