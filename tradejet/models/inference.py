"""Score feature rows with an exported model: onnxruntime and NumPy only.

:class:`OnnxModel` holds two onnxruntime sessions over the same model bytes:

- a **single-row** session for live trading: one intra-op thread, sequential execution,
  no spinning, its input and output bound once to preallocated buffers (IO binding), so
  one call is a copy of the row, one run, one read;
- **batch** scoring for backtests: the rows are cut into chunks scored in parallel by
  ``batch_threads`` one-thread sessions (onnxruntime releases the GIL). One thread per
  session keeps the sum over trees in one order, so batch and single-row scores are
  bit-for-bit equal (a multi-threaded session splits trees across threads and differs
  in the last float32 bit).

Both are warmed at load (first runs allocate). Single-row and batch scoring return the
same numbers (a test checks it). Every input is checked against the model's feature
schema before it reaches onnxruntime: width, dtype (float32), names when given, and
NaN/inf. A bad row raises :class:`~tradejet.errors.ModelError` naming the feature and
the row; it never reaches the model.

``predict_one`` reuses its buffers: use one :class:`OnnxModel` per thread.

>>> # model = OnnxModel(blob); model.predict_one(row)  -> P(take-profit first), a float
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence

import numpy as np

from tradejet.errors import ModelError

__all__ = ["OnnxModel", "INPUT_NAME", "PROBA_OUTPUT"]

INPUT_NAME = "features"
PROBA_OUTPUT = "probabilities"
_META_NAMES = "tradejet.feature_names"
_META_SCHEMA_HASH = "tradejet.schema_hash"
_META_SYSTEM = "tradejet.system"
_MIN_PARALLEL_ROWS = 4096


def _session(blob: bytes, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads == 1:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/...: all mean "not loadable"
        raise ModelError(f"onnxruntime cannot load the model: {str(e).splitlines()[0][:300]}") from e


class OnnxModel:
    """An exported classifier, ready to score: ``P(take-profit first)`` per row.

    Parameters
    ----------
    blob : the ONNX file's bytes.
    expected_sha256 : when given, the bytes must hash to it (else ModelError).
    schema_hash : when given, the model's metadata must carry this feature-schema hash.
    system : when given, the model's metadata must name this system ("crypto", "swing").
    batch_threads : intra-op threads of the batch session (default: the CPU count).
    """

    def __init__(self, blob: bytes, *, expected_sha256: str | None = None, schema_hash: str | None = None,
                 system: str | None = None, batch_threads: int | None = None, model_id: str = ""):
        self.sha256 = hashlib.sha256(blob).hexdigest()
        if expected_sha256 is not None and self.sha256 != expected_sha256:
            raise ModelError(f"model {model_id or '?'}: SHA-256 {self.sha256[:16]}... does not match the "
                             f"manifest's {expected_sha256[:16]}...: the file was changed")
        self.model_id = model_id
        self._one = _session(blob, 1)
        meta = self._one.get_modelmeta().custom_metadata_map
        try:
            self.names: tuple[str, ...] = tuple(json.loads(meta[_META_NAMES]))
            self.schema_hash: str = meta[_META_SCHEMA_HASH]
            self.system: str = meta[_META_SYSTEM]
        except (KeyError, ValueError) as e:
            raise ModelError(f"model {model_id or '?'} lacks tradejet metadata ({e}): not exported by tradejet") \
                from None
        if schema_hash is not None and self.schema_hash != schema_hash:
            raise ModelError(f"model {model_id or '?'} was trained on feature schema {self.schema_hash[:12]}, "
                             f"the current schema is {schema_hash[:12]}")
        if system is not None and self.system != system:
            raise ModelError(f"model {model_id or '?'} belongs to system {self.system!r}, not {system!r}")
        self.width = len(self.names)
        inputs = self._one.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(float)" \
                or len(inputs[0].shape) != 2 or inputs[0].shape[1] != self.width:
            got = [(i.name, i.type, i.shape) for i in inputs]
            raise ModelError(f"model input must be {INPUT_NAME!r} tensor(float) [N, {self.width}], was {got}")
        if PROBA_OUTPUT not in [o.name for o in self._one.get_outputs()]:
            raise ModelError(f"model has no {PROBA_OUTPUT!r} output")
        n_workers = max(1, batch_threads or os.cpu_count() or 1)
        self._batch = [self._one] + [_session(blob, 1) for _ in range(n_workers - 1)]
        self._pool = None
        import onnxruntime as ort

        self._row = np.zeros((1, self.width), dtype=np.float32)
        self._out = np.zeros((1, 2), dtype=np.float32)
        self._bind = self._one.io_binding()
        self._bind.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._row))
        self._bind.bind_ortvalue_output(PROBA_OUTPUT, ort.OrtValue.ortvalue_from_numpy(self._out))
        self._run_one = self._one.run_with_iobinding
        for _ in range(3):  # warm both sessions: the first runs allocate
            self._run_one(self._bind)
            for sess in self._batch:
                sess.run([PROBA_OUTPUT], {INPUT_NAME: np.zeros((64, self.width), np.float32)})

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs) -> OnnxModel:
        """Load a model file (``expected_sha256`` etc. as for the constructor)."""
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError as e:
            raise ModelError(f"cannot read model file {path}: {e.strerror}") from None
        return cls(blob, **kwargs)

    # -- checks ------------------------------------------------------------------------
    def check_names(self, names: Sequence[str]) -> None:
        """Raise ModelError unless ``names`` are the model's feature names, in order."""
        names = tuple(names)
        if names != self.names:
            if len(names) != len(self.names):
                raise ModelError(f"expected {self.width} features {list(self.names)}, got {len(names)}: {list(names)}")
            i = next(i for i, (a, b) in enumerate(zip(names, self.names)) if a != b)
            raise ModelError(f"feature {i} must be {self.names[i]!r}, was {names[i]!r}")

    def _bad_value(self, X: np.ndarray) -> ModelError:
        bad = ~np.isfinite(X)
        r, c = (int(v[0]) for v in np.nonzero(bad))
        return ModelError(f"feature {self.names[c]!r} (column {c}) is {X[r, c]} in row {r}: "
                          "NaN/inf never reaches the model")

    def check(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Return ``X`` as a C-contiguous 2-D float32 array after the schema checks."""
        if names is not None:
            self.check_names(names)
        if not isinstance(X, np.ndarray):
            raise ModelError(f"features must be a numpy array, was {type(X).__name__}")
        if X.dtype != np.float32:
            raise ModelError(f"features must be float32 (the schema's dtype), were {X.dtype}")
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.width:
            raise ModelError(f"features must have {self.width} columns {list(self.names)}, shape was {X.shape}")
        X = np.ascontiguousarray(X)
        if not np.isfinite(X).all():
            raise self._bad_value(X)
        return X

    # -- scoring -------------------------------------------------------------------------
    def predict_one(self, row: np.ndarray) -> float:
        """Return P(take-profit first) for one row (1-D float32 of the schema's width)."""
        if type(row) is not np.ndarray or row.dtype != np.float32 or row.size != self.width or row.ndim != 1:
            row = self.check(row)  # raises the precise error, or returns a (1, width) array
            if row.shape[0] != 1:
                raise ModelError(f"predict_one takes one row, got {row.shape[0]}: use predict for a batch")
            row = row.reshape(-1)
        # NaN/inf propagate to the dot product (cheaper than sum); a finite row whose squares
        # overflow float32 is re-checked precisely and passes
        if not math.isfinite(float(np.dot(row, row))) and not np.isfinite(row).all():
            raise self._bad_value(row.reshape(1, -1))
        self._row[0] = row
        self._run_one(self._bind)
        return self._out.item(1)

    def predict(self, X: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Return P(take-profit first) for every row of a 2-D float32 array (float64 result)."""
        X = self.check(X, names)
        n = len(X)
        if n == 0:
            return np.empty(0, dtype=np.float64)
        k = len(self._batch)
        if k == 1 or n < _MIN_PARALLEL_ROWS:
            return self._batch[-1].run([PROBA_OUTPUT], {INPUT_NAME: X})[0][:, 1].astype(np.float64)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=k, thread_name_prefix="tradejet-onnx")
        bounds = np.linspace(0, n, k + 1).astype(int)
        out = np.empty(n, dtype=np.float64)

        def score(j: int) -> None:
            a, b = bounds[j], bounds[j + 1]
            out[a:b] = self._batch[j].run([PROBA_OUTPUT], {INPUT_NAME: X[a:b]})[0][:, 1]

        list(self._pool.map(score, range(k)))
        return out

    def close(self) -> None:
        """Stop the batch worker threads (the sessions are freed with the object)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def raw_probabilities(self, X: np.ndarray) -> np.ndarray:
        """Return the model's ``probabilities`` output ``[N, 2]`` for float32 ``X`` of the right width,
        without the NaN check on the input (the schema gate inspects what comes out)."""
        return self._batch[-1].run([PROBA_OUTPUT], {INPUT_NAME: np.ascontiguousarray(X)})[0]

    def predict_named(self, row: dict[str, float]) -> float:
        """Return P(take-profit first) for one row given as ``{feature name: value}`` in schema order."""
        self.check_names(list(row))
        return self.predict_one(np.fromiter(row.values(), dtype=np.float32, count=len(row)))
