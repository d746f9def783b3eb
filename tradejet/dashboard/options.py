"""The dashboard's command-line options, shared by ``tradejet paper``, ``tradejet live`` and ``tradejet dashboard``.

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_arguments(p)
>>> a = p.parse_args(["--dashboard", "--port", "0"])
>>> a.dashboard, a.host, a.port
(True, '127.0.0.1', 0)
"""

from __future__ import annotations

import argparse
import sys

from tradejet.errors import ConfigError

__all__ = ["add_arguments", "check_options", "starter"]


def add_arguments(p: argparse.ArgumentParser, *, flag: bool = True) -> None:
    """Add ``[--dashboard] --host --port --token`` (``flag=False``: the server is the command itself)."""
    if flag:
        p.add_argument("--dashboard", action="store_true", help="serve the operator's web dashboard while it runs")
    p.add_argument("--host", default="127.0.0.1",
                   help="dashboard address (default 127.0.0.1; any other needs a token, generated if not given)")
    p.add_argument("--port", type=int, default=8080, help="dashboard port (default 8080; 0 picks a free one)")
    p.add_argument("--token", help="dashboard token, >= 16 characters (every request must then carry it)")


def check_options(host: str, port: int, token: str | None) -> str | None:
    """Refuse bad options before a run starts; return the token to use (generated for a non-loopback host)."""
    from tradejet.dashboard.server import is_loopback, new_token

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be 0..65535, was {port}", key="--port")
    if token is not None and len(token) < 16:
        raise ConfigError("--token must be at least 16 characters", key="--token")
    if not host or any(c in host for c in "/ ?#"):
        raise ConfigError(f"--host must be an address or host name, was {host!r}", key="--host")
    if token is None and not is_loopback(host):
        token = new_token()
    return token


def starter(args: argparse.Namespace, *, mode: str, environment: str, initial_cash: float | None = None):
    """Return ``async start(engine) -> Dashboard`` for ``--dashboard``, or None without it.

    It checks the options now (before the run) and prints the address when it starts.
    """
    if not getattr(args, "dashboard", False):
        return None
    token = check_options(args.host, args.port, args.token)

    async def start(engine):
        from tradejet.dashboard.server import attach

        d = await attach(engine, host=args.host, port=args.port, token=token, mode=mode, environment=environment,
                         initial_cash=initial_cash)
        print(f"tradejet: dashboard at {d.url}", file=sys.stderr, flush=True)
        return d

    return start
