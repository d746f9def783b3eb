"""The model store: one namespace per system, manifests, lifecycle, atomic promotion.

Layout under ``$TRADEJET_HOME/models/<system>/``::

    <id>/model.onnx        the exported model
    <id>/validation.npz    the out-of-sample rows the gates judge it on (no pickle)
    <id>/manifest.json     a :class:`Manifest` (msgspec JSON)
    PROMOTED               the pointer: which model is promoted, and the ones before it

Lifecycle: ``candidate -> validated -> promoted -> retired``, or ``candidate ->
rejected``. The **pointer file is the single source of truth** for "promoted": promotion
and rollback write a new pointer to a temporary file, fsync it, ``os.replace`` it over
the old one and fsync the folder. A reader sees the old pointer or the new one, never
none and never two, whatever moment a crash hits. The manifests' ``status`` fields are
brought in line afterwards; a crash between the two is repaired on the next write
(``reconcile``), and readers always report the pointer's view.

Isolation: a store serves one system. Ids carry the system (``crypto-...``); loading
checks the manifest's system, the model's embedded system and the folder, so a swing
model can never be loaded for crypto.

Loading recomputes the SHA-256 of the model (and validation) file; a mismatch refuses
the model (:class:`~tradejet.errors.ModelError`). :class:`ModelSlot` holds the model in
use: when a reload is refused it keeps the last good one, logs an alert and audits it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from tradejet.errors import ModelError

__all__ = ["Manifest", "GateResult", "StatusChange", "ArtifactStore", "ModelSlot", "Pointer", "SYSTEMS",
           "STATUSES", "sha256_file"]

log = logging.getLogger(__name__)

SYSTEMS = ("crypto", "swing")
STATUSES = ("candidate", "validated", "promoted", "retired", "rejected")
Status = Literal["candidate", "validated", "promoted", "retired", "rejected"]
_ALLOWED = {
    "candidate": {"validated", "rejected"},
    "validated": {"promoted", "rejected", "retired"},
    "promoted": {"retired", "rejected"},
    "retired": {"promoted", "rejected"},  # promoted again by a rollback
    "rejected": set(),
}
MODEL_FILE = "model.onnx"
VALIDATION_FILE = "validation.npz"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "PROMOTED"


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    """One gate's verdict, its numbers and the reason in words."""

    gate: str
    passed: bool
    reason: str
    numbers: dict[str, float] = {}
    ts: int = 0


class StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    ts: int
    reason: str = ""


class Manifest(msgspec.Struct, kw_only=True):
    """Everything known about one model; stored next to it as JSON."""

    id: str
    system: str
    created: int  # ns UTC
    status: Status
    feature_schema_hash: str
    feature_names: list[str]
    schema_version: int
    training_data_hash: str
    params: dict[str, Any]
    metrics: dict[str, float]
    threshold: float
    model_sha256: str
    validation_sha256: str
    export_max_abs_diff: float = 0.0
    data_sources: list[str] = []
    gates: list[GateResult] = []
    history: list[StatusChange] = []


class Pointer(msgspec.Struct, frozen=True, kw_only=True):
    """The promoted model of a system and the stack of models promoted before it."""

    system: str
    promoted: str
    previous: list[str] = []
    seq: int = 0
    ts: int = 0


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class ArtifactStore:
    """The models of one system under ``<home>/models/<system>/``.

    ``audit`` (an :class:`~tradejet.io.audit.AuditLog`, optional) receives every status
    change, promotion, rollback and refusal.
    """

    def __init__(self, home: str | os.PathLike[str], system: str, *, audit=None):
        if system not in SYSTEMS:
            raise ModelError(f"system must be one of {SYSTEMS}, was {system!r}")
        self.system = system
        self.root = Path(home) / "models" / system
        self.root.mkdir(parents=True, exist_ok=True)
        self.audit = audit

    # -- ids, paths, manifests -------------------------------------------------------------
    def new_id(self, created_ns: int) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_ns / 1e9))
        return f"{self.system}-{stamp}-{secrets.token_hex(3)}"

    def path(self, model_id: str) -> Path:
        if not model_id.startswith(f"{self.system}-") or "/" in model_id or model_id.startswith("."):
            raise ModelError(f"model {model_id!r} is not a {self.system} model: systems are isolated")
        return self.root / model_id

    def audit_event(self, event: str, data: dict[str, Any]) -> None:
        """Append ``event`` (with this system) to the audit log, when the store has one."""
        if self.audit is not None:
            self.audit.append(event, {"system": self.system, **data})

    def manifest(self, model_id: str) -> Manifest:
        """Return a model's manifest, with its status as the pointer sees it."""
        p = self.path(model_id) / MANIFEST_FILE
        try:
            m = msgspec.json.decode(p.read_bytes(), type=Manifest)
        except FileNotFoundError:
            raise ModelError(f"no model {model_id!r} in the {self.system} store ({self.root})") from None
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ModelError(f"manifest of {model_id!r} is unreadable: {e}") from None
        if m.system != self.system or m.id != model_id:
            raise ModelError(f"manifest in {p} says system {m.system!r} id {m.id!r}: "
                             f"not loadable as {self.system} model {model_id!r}")
        ptr = self.pointer()
        if ptr is not None and ptr.promoted == model_id:
            m.status = "promoted"
        elif m.status == "promoted":  # a crash after the pointer moved, before the manifests were updated
            m.status = "retired"
        return m

    def _write_manifest(self, m: Manifest) -> None:
        _atomic_write(self.path(m.id) / MANIFEST_FILE, msgspec.json.format(msgspec.json.encode(m)))

    def ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and (p / MANIFEST_FILE).exists() and p.name.startswith(f"{self.system}-"))

    def list(self) -> list[Manifest]:
        """Every model of this system, oldest first (status as the pointer sees it)."""
        return [self.manifest(i) for i in self.ids()]

    # -- adding a candidate ------------------------------------------------------------------
    def add_candidate(self, manifest: Manifest, model_bytes: bytes, validation: dict[str, np.ndarray]) -> Manifest:
        """Write the model, its validation rows and the manifest; return the manifest (status candidate)."""
        if manifest.system != self.system:
            raise ModelError(f"cannot store a {manifest.system} model in the {self.system} store")
        d = self.path(manifest.id)
        d.mkdir(parents=True, exist_ok=False)
        _atomic_write(d / MODEL_FILE, model_bytes)
        tmp = d / f".{VALIDATION_FILE}.tmp.npz"
        np.savez(tmp, **validation)
        os.replace(tmp, d / VALIDATION_FILE)
        manifest.model_sha256 = hashlib.sha256(model_bytes).hexdigest()
        manifest.validation_sha256 = sha256_file(d / VALIDATION_FILE)
        manifest.status = "candidate"
        manifest.history = [StatusChange(status="candidate", ts=time.time_ns(), reason="trained and exported")]
        self._write_manifest(manifest)
        self.audit_event("model_candidate", {"model": manifest.id, "model_sha256": manifest.model_sha256,
                                        "training_data_hash": manifest.training_data_hash,
                                        "feature_schema_hash": manifest.feature_schema_hash})
        return manifest

    def set_status(self, model_id: str, status: Status, reason: str = "", *,
                   gates: list[GateResult] | None = None) -> Manifest:
        """Move a non-promoted model along its lifecycle (promotion goes through :meth:`promote`)."""
        with self._locked():
            return self._set_status(model_id, status, reason, gates)

    def _set_status(self, model_id: str, status: Status, reason: str, gates: list[GateResult] | None) -> Manifest:
        m = self.manifest(model_id)
        if status == "promoted":
            raise ModelError(f"model {model_id}: promotion goes through promote()")
        if m.status == "promoted":
            raise ModelError(f"model {model_id} is promoted: roll back or promote another one first")
        if status not in _ALLOWED[m.status]:
            raise ModelError(f"model {model_id}: status {m.status} cannot become {status}")
        if gates is not None:
            m.gates = list(gates)
        m.status = status
        m.history.append(StatusChange(status=status, ts=time.time_ns(), reason=reason))
        self._write_manifest(m)
        self.audit_event(f"model_{status}", {"model": model_id, "reason": reason})
        return m

    def record_gates(self, model_id: str, gates: list[GateResult]) -> Manifest:
        """Store gate results in a manifest without changing its status."""
        with self._locked():
            m = self.manifest(model_id)
            m.gates = list(gates)
            self._write_manifest(m)
            return m

    # -- the pointer -------------------------------------------------------------------------
    def pointer(self) -> Pointer | None:
        p = self.root / POINTER_FILE
        try:
            ptr = msgspec.json.decode(p.read_bytes(), type=Pointer)
        except FileNotFoundError:
            return None
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise ModelError(f"pointer file {p} is unreadable ({e}); it is only ever replaced whole, "
                             "so it was edited by hand") from None
        if ptr.system != self.system:
            raise ModelError(f"pointer file {p} names system {ptr.system!r}, not {self.system!r}")
        return ptr

    def promoted_id(self) -> str | None:
        ptr = self.pointer()
        return ptr.promoted if ptr else None

    @contextlib.contextmanager
    def _locked(self):
        """Serialise writers (pipeline, operator CLI) of this system's store; readers need no lock."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _move_pointer(self, new: Pointer) -> None:
        _atomic_write(self.root / POINTER_FILE, msgspec.json.encode(new))

    def reconcile(self) -> None:
        """Bring every manifest's status in line with the pointer (after a crash)."""
        ptr = self.pointer()
        for mid in self.ids():
            raw = msgspec.json.decode((self.path(mid) / MANIFEST_FILE).read_bytes(), type=Manifest)
            want = raw.status
            if ptr is not None and mid == ptr.promoted:
                want = "promoted"
            elif raw.status == "promoted":
                want = "retired"
            if want != raw.status:
                raw.status = want
                raw.history.append(StatusChange(status=want, ts=time.time_ns(), reason="reconciled with pointer"))
                self._write_manifest(raw)

    def promote(self, model_id: str, reason: str = "passed all gates") -> Pointer:
        """Make a validated (or retired) model the promoted one, atomically."""
        with self._locked():
            return self._promote(model_id, reason)

    def _promote(self, model_id: str, reason: str) -> Pointer:
        self.reconcile()
        m = self.manifest(model_id)
        if m.status == "promoted":
            raise ModelError(f"model {model_id} is already promoted")
        if m.status not in ("validated", "retired"):
            raise ModelError(f"model {model_id} is {m.status}: only a validated model can be promoted")
        old = self.pointer()
        new = Pointer(system=self.system, promoted=model_id,
                      previous=([*old.previous, old.promoted] if old else [])[-20:],
                      seq=(old.seq + 1 if old else 1), ts=time.time_ns())
        self._move_pointer(new)  # the commit point
        self._finish_move(old.promoted if old else None, model_id, reason, "promoted")
        return new

    def rollback(self, reason: str = "rolled back by operator") -> Pointer:
        """Promote the model promoted before the current one; the current one is retired."""
        with self._locked():
            return self._rollback(reason)

    def _rollback(self, reason: str) -> Pointer:
        self.reconcile()
        old = self.pointer()
        if old is None:
            raise ModelError(f"no promoted {self.system} model to roll back")
        if not old.previous:
            raise ModelError(f"{old.promoted} is the only model ever promoted for {self.system}: nothing to roll back to")
        target = old.previous[-1]
        self.manifest(target)  # it must still exist
        new = Pointer(system=self.system, promoted=target, previous=old.previous[:-1], seq=old.seq + 1,
                      ts=time.time_ns())
        self._move_pointer(new)
        self._finish_move(old.promoted, target, reason, "rolled_back")
        return new

    def _finish_move(self, old_id: str | None, new_id: str, reason: str, event: str) -> None:
        now = time.time_ns()
        for mid, status, why in ((old_id, "retired", f"replaced by {new_id}"), (new_id, "promoted", reason)):
            if mid is None:
                continue
            raw = msgspec.json.decode((self.path(mid) / MANIFEST_FILE).read_bytes(), type=Manifest)
            raw.status = status
            raw.history.append(StatusChange(status=status, ts=now, reason=why))
            self._write_manifest(raw)
        self.audit_event(f"model_{event}", {"model": new_id, "previous": old_id, "reason": reason})

    # -- loading ------------------------------------------------------------------------------
    def verify_files(self, model_id: str) -> tuple[Manifest, bytes]:
        """Return ``(manifest, model bytes)`` after recomputing both SHA-256s, else ModelError."""
        m = self.manifest(model_id)
        d = self.path(model_id)
        try:
            blob = (d / MODEL_FILE).read_bytes()
        except FileNotFoundError:
            raise ModelError(f"model {model_id}: file {MODEL_FILE} is missing") from None
        got = hashlib.sha256(blob).hexdigest()
        if got != m.model_sha256:
            raise ModelError(f"model {model_id}: SHA-256 of {MODEL_FILE} is {got[:16]}..., manifest says "
                             f"{m.model_sha256[:16]}...: the file was changed")
        vpath = d / VALIDATION_FILE
        if not vpath.exists() or sha256_file(vpath) != m.validation_sha256:
            raise ModelError(f"model {model_id}: {VALIDATION_FILE} is missing or its SHA-256 does not match")
        return m, blob

    def validation_rows(self, model_id: str) -> dict[str, np.ndarray]:
        with np.load(self.path(model_id) / VALIDATION_FILE, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def load(self, model_id: str, *, schema_hash: str | None = None, batch_threads: int | None = None):
        """Return an :class:`~tradejet.models.inference.OnnxModel` after every integrity check."""
        from tradejet.models.inference import OnnxModel

        try:
            m, blob = self.verify_files(model_id)
            return OnnxModel(blob, expected_sha256=m.model_sha256, system=self.system,
                             schema_hash=schema_hash or m.feature_schema_hash, batch_threads=batch_threads,
                             model_id=model_id)
        except ModelError as e:
            log.error("ALERT: %s model %s refused: %s", self.system, model_id, e)
            self.audit_event("model_refused", {"model": model_id, "reason": str(e)})
            raise

    def load_promoted(self, **kwargs):
        """Return the promoted model (see :meth:`load`); ModelError when none is promoted."""
        mid = self.promoted_id()
        if mid is None:
            raise ModelError(f"no promoted {self.system} model")
        return self.load(mid, **kwargs)


class ModelSlot:
    """The model a trading process uses: reload the promoted one, keep the last good one on refusal.

    A refused model is not retried (nor re-alerted) until the pointer moves again
    (a new promotion or a rollback), so calling :meth:`refresh` every bar is cheap.

    >>> # slot = ModelSlot(store); model = slot.refresh()   # None until a model was ever loaded
    """

    def __init__(self, store: ArtifactStore, *, schema_hash: str | None = None):
        self.store = store
        self.schema_hash = schema_hash
        self.current = None
        self.current_id: str | None = None
        self.last_error: str | None = None
        self._refused: tuple[str, int] | None = None

    def refresh(self):
        """Load the promoted model if it changed; on any refusal keep the current one and return it."""
        try:
            ptr = self.store.pointer()
            if ptr is None or ptr.promoted == self.current_id or (ptr.promoted, ptr.seq) == self._refused:
                return self.current
            model = self.store.load(ptr.promoted, schema_hash=self.schema_hash)
        except ModelError as e:  # load() already logged the alert and audited the refusal
            self.last_error = str(e)
            if ptr is not None:
                self._refused = (ptr.promoted, ptr.seq)
            return self.current
        self.current, self.current_id, self.last_error, self._refused = model, ptr.promoted, None, None
        return model
