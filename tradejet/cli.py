"""The ``tradejet`` command: argument parsing and wiring only.

Each command group lives in its own module ``tradejet.commands.<name>`` (found by
listing the package, so adding a command is adding a file) and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a handler
``func(args) -> int``. Handlers import what they need when they run, so ``tradejet
--help`` and startup stay fast. Errors: a :class:`~tradejet.errors.TradejetError`
prints one line and exits 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from tradejet import __version__
from tradejet.errors import TradejetError



def _command_modules() -> list[str]:
    """Every module of ``tradejet.commands``, alphabetically (adding a command is adding a file)."""
    import pkgutil

    import tradejet.commands as pkg

    return [f"{pkg.__name__}.{m.name}" for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name)
            if not m.name.startswith("_")]


def build_parser() -> argparse.ArgumentParser:
    """Return the full argument parser (all command groups registered)."""
    parser = argparse.ArgumentParser(
        prog="tradejet",
        description="tradejet: a trading engine with a compiled core (backtest, paper, live).",
    )
    parser.add_argument("--version", action="version", version=f"tradejet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except TradejetError as e:
        if args.debug:
            raise
        print(f"tradejet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tradejet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
