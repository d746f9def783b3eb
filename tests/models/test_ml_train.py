from __future__ import annotations

import numpy as np
import pytest
from _ml_helpers import small_cfg
from sklearn.metrics import f1_score, precision_score, recall_score
from threadpoolctl import threadpool_limits

from tradejet.errors import DataError
from tradejet.models.data import synthetic_market
from tradejet.models.train import build_dataset, classification_metrics, fit_model, model_params, train, walk_forward


@pytest.fixture(scope="module")
def ds(market):
    return build_dataset(market, small_cfg())


def test_dataset_rows_are_complete_and_labelled(ds, market):
    assert ds.X.dtype == np.float32 and not np.isnan(ds.X).any()
    assert set(np.unique(ds.y)) == {0, 1}
    assert ds.symbols == ("SYN0", "SYN1") and ds.interval_ns == 3600 * 10**9
    h = small_cfg().horizon
    assert ((ds.label_end_ts - ds.ts) == h * ds.interval_ns).all()


@pytest.mark.parametrize("embargo", [0, 24])
def test_walk_forward_purges_and_embargoes(ds, embargo):
    folds, final = walk_forward(ds, n_folds=3, oos_fraction=0.2, embargo_bars=embargo)
    assert len(folds) == 3
    for sp in [*folds, final]:
        t0 = sp.test_start_ts
        assert len(sp.train) and len(sp.test)
        assert (ds.label_end_ts[sp.train] < t0).all(), "a training label looks into the test window"
        assert (ds.ts[sp.train] < t0 - embargo * ds.interval_ns).all()
        assert (ds.ts[sp.test] >= t0).all()
        # purge is tight: the last training row's label ends right before the test window
        assert ds.label_end_ts[sp.train].max() >= t0 - (embargo + 1) * ds.interval_ns - ds.interval_ns * 24
    # the OOS window is the final test set, and no CV test row's label reaches into it
    for sp in folds:
        assert (ds.label_end_ts[sp.test] < final.test_start_ts).all()
    assert np.array_equal(final.test, np.flatnonzero(ds.ts >= final.test_start_ts))


def test_walk_forward_bad_arguments(ds):
    with pytest.raises(ValueError, match="oos_fraction must be in"):
        walk_forward(ds, n_folds=1, oos_fraction=1.0, embargo_bars=0)
    with pytest.raises(ValueError, match="n_folds and embargo_bars must be >= 0"):
        walk_forward(ds, n_folds=-1, oos_fraction=0.2, embargo_bars=0)


@pytest.mark.parametrize("kind", ["hgb", "logreg"])
def test_training_is_seeded_and_deterministic(ds, kind):
    p = model_params(small_cfg(), kind)
    with threadpool_limits(limits=1):
        a = fit_model(ds.X[:2000], ds.y[:2000], p).predict_proba(ds.X[2000:].astype(np.float64))
        b = fit_model(ds.X[:2000], ds.y[:2000], p).predict_proba(ds.X[2000:].astype(np.float64))
    np.testing.assert_array_equal(a, b)


def test_chunked_boosting_equals_one_fit(ds):
    from sklearn.ensemble import HistGradientBoostingClassifier

    p = model_params(small_cfg(max_iter=60), "hgb")
    ours = fit_model(ds.X, ds.y, p)
    with threadpool_limits(limits=1):
        ref = HistGradientBoostingClassifier(learning_rate=p["learning_rate"], max_iter=60,
                                             max_leaf_nodes=p["max_leaf_nodes"], min_samples_leaf=p["min_samples_leaf"],
                                             l2_regularization=p["l2_regularization"], early_stopping=False,
                                             random_state=p["seed"]).fit(ds.X.astype(np.float64), ds.y)
        X = ds.X[:500].astype(np.float64)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-12)


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = rng.uniform(size=500)
    m = classification_metrics(y, p, 0.6)
    pred = p >= 0.6
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert classification_metrics(y, p, 2.0)["f1"] == 0.0  # no positive prediction: 0, not a division error


def test_train_reports_cv_oos_and_baseline(ds):
    res = train(ds, small_cfg(n_folds=2))
    for key in ("cv_f1", "oos_precision", "oos_recall", "oos_f1", "baseline_logreg_f1", "train_rows"):
        assert key in res.metrics and np.isfinite(res.metrics[key]), key
    assert res.metrics["cv_folds"] == 2
    assert len(res.oos) == len(res.oos_proba) and res.baseline is not None


def test_one_class_labels_cannot_train(ds):
    with pytest.raises(DataError, match="one class only"):
        fit_model(ds.X[:100], np.zeros(100, np.int8), model_params(small_cfg()))


def test_too_little_data_is_a_clear_error():
    with pytest.raises(DataError, match="no labelled rows"):
        build_dataset(synthetic_market(1, 30), small_cfg())
