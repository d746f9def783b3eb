"""Regression: a torn tail longer than the first read chunk, after a long line."""

from __future__ import annotations

from tradejet.io.audit import AuditLog, read_records, verify


def test_torn_tail_after_a_long_line_is_cut_and_the_chain_continues(tmp_path):
    p = tmp_path / "a.jsonl"
    with AuditLog(p) as log:
        log.append("short", {})
        log.append("long", {"blob": "x" * 5000})
    with open(p, "ab") as f:  # a crash mid-write: 4000 bytes of a line, no newline
        f.write(b'{"seq":3,' + b"y" * 3991)
    with AuditLog(p) as log:
        rec = log.append("after", {})
    assert rec.seq == 3
    assert [r.event for r in read_records(p)] == ["short", "long", "after"]
    assert verify(p).ok
    assert (tmp_path / "a.jsonl.torn").read_bytes().startswith(b'{"seq":3,')
