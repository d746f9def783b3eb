from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradejet.errors import DataError
from tradejet.io.audit import GENESIS, AuditLog, read_records, verify


def _write(path, n, **kw):
    with AuditLog(path, **kw) as log:
        for i in range(n):
            log.append("gate", {"gate": i, "passed": i % 2 == 0, "why": f"reason {i}"})


def test_chain_links_each_line_to_the_one_before(tmp_path):
    p = tmp_path / "crypto.jsonl"
    _write(p, 5)
    lines = p.read_bytes().splitlines()
    assert len(lines) == 5
    prev = GENESIS
    for i, line in enumerate(lines, 1):
        rec = orjson.loads(line)
        assert rec["seq"] == i
        assert rec["prev"] == prev
        prev = hashlib.sha256(line).hexdigest()
    assert verify(p).ok and verify(p).lines == 5


def test_reopen_continues_the_chain(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 3)
    _write(p, 2)
    assert [r.seq for r in read_records(p)] == [1, 2, 3, 4, 5]
    assert verify(p).ok


@pytest.mark.parametrize("victim", [1, 2, 3])
def test_an_altered_line_is_caught(tmp_path, victim):
    p = tmp_path / "a.jsonl"
    _write(p, 4)
    lines = p.read_bytes().splitlines()
    lines[victim - 1] = lines[victim - 1].replace(b"reason", b"REASON")
    p.write_bytes(b"\n".join(lines) + b"\n")
    r = verify(p)
    assert not r.ok
    assert r.first_bad_line == victim + 1
    assert f"line {victim} was altered" in r.reason


def test_an_altered_last_line_is_caught_by_the_head(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 3)
    p.write_bytes(p.read_bytes().replace(b"reason 2", b"reason X"))
    r = verify(p)
    assert not r.ok and r.first_bad_line == 3 and "altered" in r.reason


def test_removed_lines_are_caught(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 5)
    lines = p.read_bytes().splitlines()
    p.write_bytes(b"\n".join(lines[:2] + lines[3:]) + b"\n")
    r = verify(p)
    assert (r.ok, r.first_bad_line) == (False, 3)
    p.write_bytes(b"\n".join(lines[:4]) + b"\n")
    r = verify(p)
    assert not r.ok and "cut from the end" in r.reason


def test_garbage_line_is_named(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 2)
    with open(p, "ab") as f:
        f.write(b"{not json\n")
    r = verify(p)
    assert (r.ok, r.first_bad_line) == (False, 3)
    assert "not a valid record" in r.reason


def test_torn_tail_is_set_aside_and_the_chain_goes_on(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 2)
    with open(p, "ab") as f:
        f.write(b'{"data":{"half')
    r = verify(p)
    assert not r.ok and r.first_bad_line == 3 and "torn" in r.reason
    _write(p, 1)
    assert verify(p).ok
    assert [r.seq for r in read_records(p)] == [1, 2, 3]
    assert (tmp_path / "a.jsonl.torn").read_bytes() == b'{"data":{"half\n'


def test_head_lagging_one_line_after_a_crash_is_accepted(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 3)
    head = p.with_name(p.name + ".head")
    saved = head.read_bytes()
    _write(p, 1)
    head.write_bytes(saved)  # the crash hit between the line's fsync and the head's rename
    assert verify(p).ok


def test_missing_log_and_bad_event(tmp_path):
    with pytest.raises(DataError, match="no such audit log"):
        verify(tmp_path / "none.jsonl")
    with AuditLog(tmp_path / "x.jsonl") as log, pytest.raises(ValueError, match="event"):
        log.append("")


def _writer(path, k):
    with AuditLog(path) as log:
        for i in range(k):
            log.append("w", {"pid": os.getpid(), "i": i})


def test_concurrent_writers_never_interleave(tmp_path):
    p = tmp_path / "a.jsonl"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(p), 40)) for _ in range(3)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(60)
        assert pr.exitcode == 0
    r = verify(p)
    assert r.ok and r.lines == 120


def test_kill_9_mid_stream_leaves_a_verifiable_log(tmp_path):
    p = tmp_path / "a.jsonl"
    code = textwrap.dedent(f"""
        import sys
        from tradejet.io.audit import AuditLog
        log = AuditLog({str(p)!r})
        i = 0
        while True:
            log.append("tick", {{"i": i, "pad": "x" * 300}})
            i += 1
            if i == 20:
                print("ready", flush=True)
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=os.getcwd()) as child:
        assert child.stdout.readline().strip() == b"ready"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with AuditLog(p) as log:  # opening for writing repairs a torn tail, if the kill made one
        log.append("restarted")
    r = verify(p)
    assert r.ok and r.lines >= 21


@settings(max_examples=30)
@given(st.lists(st.dictionaries(st.text(max_size=8), st.one_of(st.integers(-10**12, 10**12), st.text(max_size=20),
                                                                  st.booleans(), st.none())), min_size=1, max_size=12))
def test_any_payload_round_trips_and_verifies(tmp_path_factory, payloads):
    p = tmp_path_factory.mktemp("h") / "a.jsonl"
    with AuditLog(p, fsync=False) as log:
        for d in payloads:
            log.append("e", d)
    assert [r.data for r in read_records(p)] == payloads
    assert verify(p).ok
