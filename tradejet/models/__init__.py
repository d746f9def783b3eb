"""Feature schema, labels, training, ONNX export and inference, artifacts and gates.

One job per module:

- :mod:`.schema`     the versioned feature schema and its hash (msgspec only)
- :mod:`.features`   the feature matrix from OHLCV via :mod:`tradejet.kernels` (causal, float32)
- :mod:`.labels`     triple-barrier labels from ATR (Numba)
- :mod:`.data`       candle CSV folders and a seeded synthetic market for training
- :mod:`.train`      data set, walk-forward split with purge and embargo, scikit-learn models
- :mod:`.export`     skl2onnx export with the 1e-5 parity check (training side only)
- :mod:`.inference`  :class:`~tradejet.models.inference.OnnxModel`: onnxruntime + NumPy only
- :mod:`.artifacts`  the per-system model store, manifests, lifecycle, atomic promotion
- :mod:`.gates`      the four gates (integrity, schema, out-of-sample, risk)
- :mod:`.pipeline`   :func:`~tradejet.models.pipeline.run_retraining`, called at DOWNTIME

Scoring a row in a trading process (no scikit-learn, no skl2onnx imported)::

    from tradejet.models.artifacts import ArtifactStore, ModelSlot
    slot = ModelSlot(ArtifactStore(home, "crypto"))
    model = slot.refresh()            # the promoted model, SHA-256 checked; None if none yet
    p = model.predict_one(row)        # row: float32[11] in DEFAULT_SCHEMA order
"""
