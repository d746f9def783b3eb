"""Helpers shared by the ML tests."""

from __future__ import annotations

import msgspec

from tradejet.config import MLConfig


def small_cfg(**over) -> MLConfig:
    """A config that trains in about a second: few trees, one CV fold, loose risk limits."""
    base = dict(max_iter=20, max_leaf_nodes=7, min_samples_leaf=50, n_folds=1, oos_fraction=0.25,
                min_precision=0.3, min_recall=0.05, min_f1=0.1, max_turnover=1000.0, max_drawdown=0.5)
    base.update(over)
    return msgspec.convert(base, MLConfig)


def make_candidate(home, market, cfg, *, system="crypto", schema=None, audit=None):
    """Train, export and store one candidate (no gates); return (store, model id)."""
    import time

    from tradejet.models.artifacts import ArtifactStore, Manifest
    from tradejet.models.data import data_hash
    from tradejet.models.export import export_onnx
    from tradejet.models.schema import DEFAULT_SCHEMA
    from tradejet.models.train import build_dataset, train

    schema = schema or DEFAULT_SCHEMA
    ds = build_dataset(market, cfg, schema)
    tr = train(ds, cfg)
    blob, diff = export_onnx(tr.model, tr.oos.X, schema=schema, system=system)
    store = ArtifactStore(home, system, audit=audit)
    created = time.time_ns()
    m = Manifest(id=store.new_id(created), system=system, created=created, status="candidate",
                 feature_schema_hash=schema.hash, feature_names=list(schema.names), schema_version=schema.version,
                 training_data_hash=data_hash(market), params=tr.params, metrics=tr.metrics, threshold=cfg.threshold,
                 model_sha256="", validation_sha256="", export_max_abs_diff=diff)
    o = tr.oos
    store.add_candidate(m, blob, {"X": o.X, "y": o.y, "ts": o.ts, "sym": o.sym, "close": o.close})
    return store, m.id
