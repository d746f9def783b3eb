"""``tradejet bench <suite>``: run a benchmark suite of :mod:`tradejet.bench`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def _suites() -> list[str]:
    import tradejet.bench as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark suite (ratios against references, same process)")
    suites = p.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name in _suites():
        mod = importlib.import_module(f"tradejet.bench.{name}")
        sp = suites.add_parser(name, help=(mod.__doc__ or name).strip().splitlines()[0])
        mod.add_arguments(sp)
        sp.set_defaults(func=mod.run)
