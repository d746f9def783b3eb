from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest
from _ml_helpers import make_candidate, small_cfg

from tradejet.errors import ModelError
from tradejet.io.audit import AuditLog, read_records, verify
from tradejet.models.artifacts import ArtifactStore, Manifest, ModelSlot
from tradejet.models.pipeline import audit_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two(home, market):
    """The promoted model and a second, validated one."""
    store = ArtifactStore(home, "crypto")
    first = store.promoted_id()
    _, second = make_candidate(home, market, small_cfg(seed=11))
    store.set_status(second, "validated", "test")
    return store, first, second


def test_lifecycle_transitions(two):
    store, first, second = two
    assert store.manifest(first).status == "promoted" and store.manifest(second).status == "validated"
    ptr = store.promote(second)
    assert ptr.promoted == second and ptr.previous == [first]
    assert store.manifest(first).status == "retired" and store.manifest(second).status == "promoted"
    with pytest.raises(ModelError, match="already promoted"):
        store.promote(second)
    with pytest.raises(ModelError, match="is promoted: roll back or promote another one first"):
        store.set_status(second, "rejected")
    ptr = store.rollback()
    assert ptr.promoted == first and ptr.previous == []
    assert store.manifest(second).status == "retired"
    with pytest.raises(ModelError, match="nothing to roll back to"):
        store.rollback()
    statuses = [m.status for m in store.list()]
    assert statuses.count("promoted") == 1


def test_a_candidate_cannot_skip_validation(home, market):
    store, mid = make_candidate(home, market, small_cfg())
    with pytest.raises(ModelError, match="only a validated model can be promoted"):
        store.promote(mid)
    store.set_status(mid, "rejected", "test")
    with pytest.raises(ModelError, match="status rejected cannot become validated"):
        store.set_status(mid, "validated")
    with pytest.raises(ModelError, match="promotion goes through promote"):
        store.set_status(mid, "promoted")


def test_systems_are_isolated(home, market):
    crypto = ArtifactStore(home, "crypto")
    swing = ArtifactStore(home, "swing")
    pid = crypto.promoted_id()
    with pytest.raises(ModelError, match="is not a swing model: systems are isolated"):
        swing.load(pid)
    # a crypto model copied into the swing folder under a swing name is still refused
    fake = "swing-20260101T000000Z-abcdef"
    shutil.copytree(crypto.path(pid), swing.path(fake))
    with pytest.raises(ModelError, match="says system 'crypto'"):
        swing.load(fake)
    # a model exported for swing but with a manifest claiming crypto: the embedded system refuses it
    sstore, sid = make_candidate(home, market, small_cfg(), system="swing")
    cid = "crypto-20260101T000000Z-abcdef"
    shutil.copytree(sstore.path(sid), crypto.path(cid))
    mpath = crypto.path(cid) / "manifest.json"
    m = msgspec.json.decode(mpath.read_bytes(), type=Manifest)
    m.id, m.system = cid, "crypto"
    mpath.write_bytes(msgspec.json.encode(m))
    with pytest.raises(ModelError, match="belongs to system 'swing', not 'crypto'"):
        crypto.load(cid)
    with pytest.raises(ModelError, match="system must be one of"):
        ArtifactStore(home, "forex")


def test_tampered_model_is_refused_and_the_last_good_one_kept(two, home):
    store, first, second = two
    with AuditLog(audit_path(home, "crypto")) as audit:
        store.audit = audit
        slot = ModelSlot(store)
        good = slot.refresh()
        assert slot.current_id == first and good is not None
        f = store.path(second) / "model.onnx"
        raw = bytearray(f.read_bytes())
        raw[100] ^= 0xFF
        f.write_bytes(bytes(raw))
        store.promote(second)
        assert slot.refresh() is good and slot.current_id == first
        assert "SHA-256" in slot.last_error
        assert slot.refresh() is good  # not retried, not re-alerted, until the pointer moves
        X = store.validation_rows(first)["X"][:3]
        assert good.predict(X).shape == (3,)  # still scoring with the last good model
        with pytest.raises(ModelError, match="the file was changed"):
            store.load_promoted()
    refused = [r for r in read_records(audit_path(home, "crypto")) if r.event == "model_refused"]
    assert len(refused) == 2  # one by the slot, one by load_promoted above
    assert refused[0].data["model"] == second and "SHA-256" in refused[0].data["reason"]


def test_tampered_validation_rows_are_refused(home):
    store = ArtifactStore(home, "crypto")
    pid = store.promoted_id()
    v = store.path(pid) / "validation.npz"
    rows = store.validation_rows(pid)
    rows["y"] = 1 - rows["y"]
    np.savez(v, **rows)
    with pytest.raises(ModelError, match="validation.npz is missing or its SHA-256 does not match"):
        store.load(pid)


CHILD = """
import sys
from tradejet.io.audit import AuditLog
from tradejet.models.artifacts import ArtifactStore
home, a, b = sys.argv[1:4]
with AuditLog(home + "/audit/crypto.jsonl") as audit:
    store = ArtifactStore(home, "crypto", audit=audit)
    print("ready", flush=True)
    while True:
        store.promote(b if store.promoted_id() == a else a)
"""


def test_promotion_is_atomic_when_the_process_is_killed(two, home):
    """Kill a process that promotes in a loop, at random moments: never zero, never two promoted."""
    store, first, second = two
    rng = np.random.default_rng(7)
    seen: list[object] = []
    stop = threading.Event()

    def reader() -> None:  # a trading process polling the pointer meanwhile
        while not stop.is_set():
            try:
                seen.append(ArtifactStore(home, "crypto").promoted_id())
            except ModelError as e:
                seen.append(e)

    t = threading.Thread(target=reader)
    t.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        for _ in range(4):
            proc = subprocess.Popen([sys.executable, "-c", CHILD, str(home), first, second], env=env,
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(float(rng.uniform(0.05, 0.4)))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
            after = ArtifactStore(home, "crypto")
            pid = after.promoted_id()
            assert pid in (first, second)
            assert [m.status for m in after.list()].count("promoted") == 1
            after.reconcile()  # manifests agree with the pointer again
            raw = [msgspec.json.decode((after.path(i) / "manifest.json").read_bytes(), type=Manifest).status
                   for i in (first, second)]
            assert sorted(raw) == ["promoted", "retired"]
    finally:
        stop.set()
        t.join()
    assert seen and all(s in (first, second) for s in seen), {type(s) for s in seen if s not in (first, second)}
    with AuditLog(audit_path(home, "crypto")) as log:
        log.append("check", {})  # the next append cuts a line torn by the kill
    promotions = [r for r in read_records(audit_path(home, "crypto")) if r.event == "model_promoted"]
    assert len(promotions) > 4  # the child really was promoting when it was killed
    assert verify(audit_path(home, "crypto")).ok
