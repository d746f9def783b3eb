from __future__ import annotations

import numpy as np
import pytest
from _ml_helpers import small_cfg
from threadpoolctl import threadpool_limits

from tradejet.errors import ModelError
from tradejet.models.export import export_onnx
from tradejet.models.inference import OnnxModel
from tradejet.models.schema import DEFAULT_SCHEMA
from tradejet.models.train import build_dataset, fit_model, model_params


@pytest.fixture(scope="module")
def ds(market):
    return build_dataset(market, small_cfg())


@pytest.fixture(scope="module")
def fitted(ds):
    return {kind: fit_model(ds.X[:3000], ds.y[:3000], model_params(small_cfg(max_iter=40), kind))
            for kind in ("hgb", "logreg")}


@pytest.fixture(scope="module")
def onnx_model(fitted, ds):
    blob, _ = export_onnx(fitted["hgb"], ds.X[3000:], schema=DEFAULT_SCHEMA, system="crypto")
    m = OnnxModel(blob, system="crypto", schema_hash=DEFAULT_SCHEMA.hash, batch_threads=2)
    yield m
    m.close()


@pytest.mark.parametrize("kind", ["hgb", "logreg"])
def test_onnx_probabilities_equal_scikit_learn_to_1e5(fitted, ds, kind):
    X = ds.X[3000:]
    blob, worst = export_onnx(fitted[kind], X, schema=DEFAULT_SCHEMA, system="crypto")
    model = OnnxModel(blob)
    with threadpool_limits(limits=1):
        ref = fitted[kind].predict_proba(X.astype(np.float64))[:, 1]
    got = model.predict(X)
    assert np.abs(got - ref).max() <= 1e-5 and worst == pytest.approx(np.abs(got - ref).max(), abs=1e-7)
    assert model.names == DEFAULT_SCHEMA.names and model.schema_hash == DEFAULT_SCHEMA.hash
    assert model.system == "crypto"


def test_export_fails_when_parity_is_not_met(fitted, ds):
    # float32 trees vs float64 scikit-learn agree to ~1e-7, not to 1e-12: the check must refuse
    with pytest.raises(ModelError, match=r"ONNX probabilities differ from scikit-learn's by .* > 1e-12"):
        export_onnx(fitted["hgb"], ds.X[3000:], schema=DEFAULT_SCHEMA, system="crypto", tolerance=1e-12)


def test_export_refuses_wrong_validation_rows(fitted, ds):
    with pytest.raises(ModelError, match="validation rows must be float32"):
        export_onnx(fitted["hgb"], ds.X[3000:].astype(np.float64), schema=DEFAULT_SCHEMA, system="crypto")
    with pytest.raises(ModelError, match="no validation rows"):
        export_onnx(fitted["hgb"], ds.X[:0], schema=DEFAULT_SCHEMA, system="crypto")


def test_single_row_and_batch_scores_are_identical(onnx_model, ds):
    X = ds.X[: 5000 if len(ds.X) >= 5000 else len(ds.X)]
    one = np.array([onnx_model.predict_one(r) for r in X])
    batch = onnx_model.predict(X)  # > 4096 rows: scored in parallel chunks
    np.testing.assert_array_equal(one, batch)
    np.testing.assert_array_equal(onnx_model.predict(X[:10]), one[:10])
    assert onnx_model.predict_one(X[3].reshape(1, -1)) == one[3]  # a (1, width) row is one row too
    with pytest.raises(ModelError, match="predict_one takes one row, got 2"):
        onnx_model.predict_one(X[:2])
    named = onnx_model.predict_named(dict(zip(DEFAULT_SCHEMA.names, X[7].tolist())))
    assert named == one[7]


def _row(ds):
    return ds.X[0].copy()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda r: r.astype(np.float64), "features must be float32 .*were float64"),
        (lambda r: r[:-1], r"features must have 11 columns .*shape was \(1, 10\)"),
        (lambda r: np.concatenate([r, r]), r"shape was \(1, 22\)"),
        (lambda r: r.tolist(), "features must be a numpy array, was list"),
        (lambda r: np.where(np.arange(11) == 3, np.float32(np.nan), r).astype(np.float32),
         r"feature 'rsi_14' \(column 3\) is nan in row 0"),
        (lambda r: np.where(np.arange(11) == 0, np.float32(np.inf), r).astype(np.float32),
         r"feature 'ret_1' \(column 0\) is inf in row 0"),
    ],
)
def test_bad_single_rows_never_reach_the_model(onnx_model, ds, make, match):
    before = onnx_model._row.copy()
    with pytest.raises(ModelError, match=match):
        onnx_model.predict_one(make(_row(ds)))
    np.testing.assert_array_equal(onnx_model._row, before)  # nothing was copied into the model's input


def test_bad_batches_are_refused(onnx_model, ds):
    X = ds.X[:20].copy()
    X[12, 5] = np.nan
    with pytest.raises(ModelError, match=r"feature 'bb_pctb_20' \(column 5\) is nan in row 12"):
        onnx_model.predict(X)
    with pytest.raises(ModelError, match="float32"):
        onnx_model.predict(ds.X[:5].astype(np.float64))
    with pytest.raises(ModelError, match=r"feature 3 must be 'rsi_14', was 'rsi14'"):
        names = list(DEFAULT_SCHEMA.names)
        names[3] = "rsi14"
        onnx_model.predict(ds.X[:5], names=names)
    with pytest.raises(ModelError, match="expected 11 features"):
        onnx_model.predict_named({"ret_1": 0.1})
    assert onnx_model.predict(ds.X[:0]).shape == (0,)


def test_loading_checks_hash_system_and_schema(fitted, ds):
    blob, _ = export_onnx(fitted["logreg"], ds.X[3000:], schema=DEFAULT_SCHEMA, system="swing")
    with pytest.raises(ModelError, match="belongs to system 'swing', not 'crypto'"):
        OnnxModel(blob, system="crypto")
    with pytest.raises(ModelError, match="does not match the manifest's"):
        OnnxModel(blob, expected_sha256="0" * 64)
    with pytest.raises(ModelError, match="trained on feature schema"):
        OnnxModel(blob, schema_hash="f" * 64)
    with pytest.raises(ModelError, match="onnxruntime cannot load the model"):
        OnnxModel(b"not an onnx model")


def test_inference_path_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, tradejet.models.inference, tradejet.models.artifacts; "
            "bad = [m for m in ('sklearn', 'skl2onnx', 'onnx') if m in sys.modules]; print(bad); "
            "import tradejet; assert 'onnxruntime' not in sys.modules or True")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    out = subprocess.run([sys.executable, "-c", "import sys, tradejet; print([m for m in ('sklearn', 'skl2onnx', "
                          "'onnxruntime') if m in sys.modules])"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
