"""``tradejet audit verify|show``: check and read the append-only audit logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradejet.config import tradejet_home
from tradejet.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify or read the hash-chained audit logs")
    acts = p.add_subparsers(dest="audit_cmd", metavar="ACTION", required=True)
    v = acts.add_parser("verify", help="check the chain; name the first broken line (exit 1 if any)")
    v.add_argument("path", nargs="?", help="a log file or a folder of *.jsonl logs (default $TRADEJET_HOME/audit)")
    v.add_argument("--home", help="tradejet home (default $TRADEJET_HOME or ~/.tradejet)")
    v.set_defaults(func=_verify)
    s = acts.add_parser("show", help="print the last events of a log")
    s.add_argument("path", help="a log file")
    s.add_argument("--last", type=int, default=20, help="how many events (default 20)")
    s.set_defaults(func=_show)


def _logs(args: argparse.Namespace) -> list[Path]:
    if args.path:
        root = Path(args.path)
    else:
        root = (Path(args.home) if args.home else tradejet_home()) / "audit"
    if root.is_file():
        return [root]
    if root.is_dir():
        logs = sorted(root.glob("*.jsonl"))
        if not logs:
            raise DataError("no *.jsonl audit logs in this folder", source=str(root))
        return logs
    raise DataError("no such audit log or folder", source=str(root))


def _verify(args: argparse.Namespace) -> int:
    from tradejet.io.audit import verify

    broken = 0
    for log in _logs(args):
        r = verify(log)
        if r.ok:
            print(f"OK      {log}  ({r.lines} lines)")
        else:
            broken += 1
            print(f"BROKEN  {log}  line {r.first_bad_line} of {r.lines}: {r.reason}")
    return 1 if broken else 0


def _show(args: argparse.Namespace) -> int:
    from collections import deque
    from datetime import datetime, timezone

    from tradejet.io.audit import read_records

    if args.last < 1:
        raise DataError(f"--last must be >= 1, was {args.last}")
    for rec in deque(read_records(_logs(args)[0]), maxlen=args.last):
        when = datetime.fromtimestamp(rec.ts / 1e9, tz=timezone.utc).isoformat(timespec="seconds")
        sys.stdout.write(f"{rec.seq:>6}  {when}  {rec.event:<24} {rec.data}\n")
    return 0
