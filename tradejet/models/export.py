"""Export a fitted scikit-learn classifier to ONNX and prove it computes the same numbers.

The ONNX graph has one input, ``features`` (float32, ``[N, width]``), and the outputs
``label`` and ``probabilities`` (float32 ``[N, 2]``, no ZipMap). The feature names, the
schema hash and version, and the system are written into the model's metadata, so the
schema gate and the inference session can check them without any other file.

The export fails (:class:`~tradejet.errors.ModelError`) unless onnxruntime's
probabilities equal scikit-learn's on the validation rows to ``tolerance`` (1e-5).
The two agree because features are float32 end to end: scikit-learn is trained and
evaluated on float32 values (held in float64), and the tree converter's float32
thresholds compare those same values the same way.

skl2onnx is imported here only (the ``ml`` extra); trading never imports this module.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from tradejet.errors import ModelError
from tradejet.models.inference import _META_NAMES, _META_SCHEMA_HASH, _META_SYSTEM, INPUT_NAME, PROBA_OUTPUT
from tradejet.models.schema import FeatureSchema

__all__ = ["export_onnx", "INPUT_NAME", "PROBA_OUTPUT", "TARGET_OPSET", "META_NAMES", "META_SCHEMA_HASH",
           "META_SYSTEM", "META_SCHEMA_VERSION"]

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
META_NAMES = _META_NAMES
META_SCHEMA_HASH = _META_SCHEMA_HASH
META_SCHEMA_VERSION = "tradejet.schema_version"
META_SYSTEM = _META_SYSTEM


def _classifier(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def export_onnx(model: Any, X_val: np.ndarray, *, schema: FeatureSchema, system: str,
                tolerance: float = 1e-5) -> tuple[bytes, float]:
    """Return ``(onnx bytes, max |p_onnx - p_sklearn|)`` after the parity check on ``X_val``."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    X_val = np.ascontiguousarray(X_val)
    if X_val.dtype != np.float32 or X_val.ndim != 2 or X_val.shape[1] != schema.width:
        raise ModelError(f"validation rows must be float32 of shape (n, {schema.width}), "
                         f"were {X_val.dtype} {X_val.shape}")
    if len(X_val) == 0:
        raise ModelError("no validation rows to check the export on")
    try:
        with warnings.catch_warnings():
            # skl2onnx 1.20 passes numpy bools into int attributes of the tree node; protobuf 6
            # warns (and 7.34 will refuse: hence `protobuf<7` in the ml extra)
            warnings.filterwarnings("ignore", message=r"Field onnx\.AttributeProto\.ints: Expected an int, got a boolean",
                                    category=DeprecationWarning)
            onx = to_onnx(model, initial_types=[(INPUT_NAME, FloatTensorType([None, schema.width]))],
                          options={id(_classifier(model)): {"zipmap": False}}, target_opset=TARGET_OPSET)
    except Exception as e:  # skl2onnx raises many types; all mean "cannot export this model"
        raise ModelError(f"skl2onnx cannot convert {type(model).__name__}: {str(e)[:300]}") from e
    meta = {META_NAMES: json.dumps(list(schema.names)), META_SCHEMA_HASH: schema.hash,
            META_SCHEMA_VERSION: str(schema.version), META_SYSTEM: system}
    for key, value in meta.items():
        prop = onx.metadata_props.add()
        prop.key, prop.value = key, value
    onx.producer_name = "tradejet"
    blob = onx.SerializeToString()
    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    p_onnx = sess.run([PROBA_OUTPUT], {INPUT_NAME: X_val})[0][:, 1].astype(np.float64)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # OpenMP threads crawl on a busy machine; one is plenty to predict
        p_skl = model.predict_proba(X_val.astype(np.float64))[:, 1]
    diff = np.abs(p_onnx - p_skl)
    worst = float(diff.max())
    if not worst <= tolerance:  # NaN fails too
        i = int(np.nanargmax(diff)) if np.isfinite(diff).any() else 0
        raise ModelError(f"ONNX probabilities differ from scikit-learn's by {worst:.3g} > {tolerance:g} "
                         f"(row {i}: {p_onnx[i]:.8f} vs {p_skl[i]:.8f}); export refused")
    return blob, worst
