from __future__ import annotations

from tradejet.cli import main
from tradejet.io.audit import AuditLog


def test_verify_folder_ok_then_broken(tmp_path, capsys):
    audit = tmp_path / "audit"
    for system in ("crypto", "swing"):
        with AuditLog(audit / f"{system}.jsonl") as log:
            for i in range(3):
                log.append("promoted", {"model": f"m{i}"})
    assert main(["audit", "verify", "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("OK") == 2
    p = audit / "swing.jsonl"
    p.write_bytes(p.read_bytes().replace(b'"m0"', b'"mX"', 1))
    assert main(["audit", "verify", str(audit)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "swing.jsonl" in out and "line 2 of 3" in out


def test_verify_missing_path_is_one_line_error(tmp_path, capsys):
    assert main(["audit", "verify", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tradejet: error:") and "no such audit log" in err and err.count("\n") == 1


def test_show_last_events(tmp_path, capsys):
    p = tmp_path / "a.jsonl"
    with AuditLog(p) as log:
        for i in range(5):
            log.append("gate", {"i": i})
    assert main(["audit", "show", str(p), "--last", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "'i': 4" in lines[-1]
    assert main(["audit", "show", str(p), "--last", "0"]) == 2
