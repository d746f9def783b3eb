"""Append-only audit log: JSON lines chained by SHA-256.

Each line is one JSON object (orjson, sorted keys) with ``seq`` (1, 2, ...), ``ts``
(int ns UTC), ``event``, ``data`` and ``prev``, the SHA-256 hex digest of the previous
line's bytes (``"0" * 64`` for the first line). Changing, inserting or deleting a line
breaks the chain at the next line; a sidecar ``<name>.head`` keeps the digest and
count of the last line so that a changed or dropped *last* line is caught too.

A line torn by a crash (no trailing newline) was never acknowledged: on open for
writing it is moved to ``<name>.torn`` and cut from the log, so nothing is lost and the
chain stays whole. Writers take an exclusive ``flock`` so two processes cannot
interleave lines.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "crypto.jsonl"
>>> with AuditLog(p) as log:
...     _ = log.append("training_started", {"system": "crypto"})
>>> verify(p).ok
True
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec
import orjson

from tradejet.errors import DataError

__all__ = ["AuditLog", "AuditRecord", "VerifyResult", "verify", "read_records", "GENESIS"]

GENESIS = "0" * 64
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    ts: int
    event: str
    data: dict[str, Any]
    prev: str


class VerifyResult(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of :func:`verify`; ``first_bad_line`` is 1-based, ``None`` when the chain is whole."""

    path: str
    ok: bool
    lines: int
    first_bad_line: int | None = None
    reason: str = ""


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


class AuditLog:
    """An append-only, hash-chained JSON-lines log, safe against crashes and concurrent writers.

    Parameters
    ----------
    path : the log file; created with its folder if missing.
    fsync : fsync every append (default True: an event is on disk before ``append`` returns).
    clock : returns int ns UTC; injectable for tests.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True, clock=time.time_ns):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._clock = clock
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- writing -----------------------------------------------------------------------
    def _tail(self) -> tuple[int, str]:
        """Return (seq, digest) of the last complete line, cutting a torn tail first."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0, GENESIS
        # Read backwards until we hold the last complete line.
        chunk = 4096
        buf = b""
        pos = size
        while True:
            start = max(0, pos - chunk)
            buf = os.pread(self._fd, pos - start, start) + buf
            pos = start
            # the newline ending the last complete line, and one before it: then that whole
            # line is in buf (a torn tail may be longer than one chunk)
            end = len(buf) - 1 if buf.endswith(b"\n") else buf.rfind(b"\n")
            if pos == 0 or (end > 0 and b"\n" in buf[:end]):
                break
            chunk *= 2
        if not buf.endswith(b"\n"):
            cut = buf.rfind(b"\n")
            torn = buf[cut + 1:]
            keep = size - len(torn)
            with open(self.path.with_name(self.path.name + ".torn"), "ab") as f:
                f.write(torn + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
            if keep == 0:
                return 0, GENESIS
            buf = buf[: cut + 1]
        last = buf[:-1].rsplit(b"\n", 1)[-1]
        try:
            seq = orjson.loads(last)["seq"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"last audit line is not a valid record ({e}); run `tradejet audit verify`",
                            source=str(self.path)) from None
        return int(seq), _digest(last)

    def append(self, event: str, data: Mapping[str, Any] | None = None) -> AuditRecord:
        """Append one event and return its record (on disk, fsynced, when this returns)."""
        if not event:
            raise ValueError("event must be a non-empty string")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            seq, prev = self._tail()
            rec = AuditRecord(seq=seq + 1, ts=int(self._clock()), event=event, data=dict(data or {}), prev=prev)
            line = orjson.dumps(msgspec.structs.asdict(rec), option=_OPTS)
            if b"\n" in line:  # orjson never emits raw newlines; keep the invariant explicit
                raise ValueError("audit line may not contain a newline")
            os.write(self._fd, line + b"\n")
            if self._fsync:
                os.fsync(self._fd)
            _write_head(self.path, rec.seq, _digest(line))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return rec


def _write_head(path: Path, seq: int, digest: str) -> None:
    head = _head_path(path)
    tmp = head.with_name(head.name + ".tmp")
    tmp.write_bytes(orjson.dumps({"seq": seq, "sha256": digest}))
    os.replace(tmp, head)


def read_records(path: str | os.PathLike[str]) -> Iterator[AuditRecord]:
    """Yield the records of a log (no chain check; use :func:`verify` for that)."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                yield msgspec.convert(orjson.loads(line), AuditRecord)
            except (orjson.JSONDecodeError, msgspec.ValidationError) as e:
                raise DataError(f"not an audit record: {e}", source=str(path), row=n) from None


def verify(path: str | os.PathLike[str]) -> VerifyResult:
    """Check the chain of one log and name the first broken line.

    A line is broken when it is not a valid record, its ``seq`` is not the previous
    plus one, or its ``prev`` is not the SHA-256 of the line before (which means that
    line, or this one, was altered, or a line between them removed). The ``.head``
    sidecar, when present, must match the last line.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("no such audit log", source=str(p))

    def bad(n: int, lines: int, reason: str) -> VerifyResult:
        return VerifyResult(path=str(p), ok=False, lines=lines, first_bad_line=n, reason=reason)

    prev, seq, n = GENESIS, 0, 0
    before_last = GENESIS
    with open(p, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        n_lines = data.count(b"\n") + 1
    else:
        n_lines = data.count(b"\n")
    for n, raw in enumerate(data.split(b"\n")[:n_lines], 1):
        if n == n_lines and not data.endswith(b"\n"):
            return bad(n, n_lines, "incomplete last line (torn write)")
        try:
            rec = msgspec.convert(orjson.loads(raw), AuditRecord)
        except (orjson.JSONDecodeError, msgspec.ValidationError) as e:
            return bad(n, n_lines, f"not a valid record: {e}")
        if rec.seq != seq + 1:
            return bad(n, n_lines, f"seq {rec.seq} follows seq {seq}: a line was removed or reordered")
        if rec.prev != prev:
            what = "line 1 must carry the genesis digest" if n == 1 else f"line {n - 1} was altered or removed"
            return bad(n, n_lines, f"prev digest does not match the line before: {what}")
        before_last, prev, seq = prev, _digest(raw), rec.seq
    head = _head_path(p)
    if head.exists():
        try:
            h = orjson.loads(head.read_bytes())
            hs, hd = int(h["seq"]), str(h["sha256"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return bad(max(n_lines, 1), n_lines, f"unreadable head file {head.name}")
        lagging = hs == seq - 1 and hd == before_last  # crash between the line and its head update
        if (hs != seq or hd != prev) and not lagging:
            if hs > seq:
                return bad(max(n_lines, 1), n_lines, f"head says {hs} lines, log has {seq}: lines were cut from the end")
            return bad(max(n_lines, 1), n_lines, "the last line does not match the head digest: it was altered")
    return VerifyResult(path=str(p), ok=True, lines=n_lines)
