"""Faults the sandbox injects on demand (Python API or ``POST /_sandbox/fault``).

Kinds:

* ``http_500``: answer HTTP 500 with an HTML body, request not processed;
* ``timeout``: hold the connection ``delay`` seconds, then close it; request not processed;
* ``timeout_after_accept``: process the request (an order is placed), then hold and close;
* ``drop_response``: process the request, then close the connection without answering;
* ``rate_limit``: answer ``EAPI:Rate limit exceeded`` (``EOrder:...`` for trading calls);
* ``invalid_nonce``: answer ``EAPI:Invalid nonce``;
* ``unavailable``: answer ``EService:Unavailable``.

WebSocket disconnects and stale data are switches on the sandbox itself
(:meth:`Sandbox.disconnect_ws`, :attr:`Sandbox.stale`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradejet.errors import ConfigError

__all__ = ["Fault", "Faults", "KINDS"]

KINDS = ("http_500", "timeout", "timeout_after_accept", "drop_response", "rate_limit", "invalid_nonce",
         "unavailable")


@dataclass
class Fault:
    kind: str
    endpoint: str = "*"
    count: int = 1
    delay: float = 30.0


class Faults:
    """A queue of pending faults; each fires on the next ``count`` matching requests."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.fired: list[tuple[str, str]] = []  # (kind, endpoint) log for tests and the admin view

    def inject(self, kind: str, endpoint: str = "*", count: int = 1, delay: float = 30.0) -> None:
        """Make the next ``count`` requests to ``endpoint`` (``*`` = any) fail with ``kind``."""
        if kind not in KINDS:
            raise ConfigError(f"fault kind must be one of {KINDS}, was {kind!r}", key="kind")
        if count < 1:
            raise ConfigError(f"count must be >= 1, was {count}", key="count")
        self.pending.append(Fault(kind, endpoint, count, delay))

    def take(self, endpoint: str) -> Fault | None:
        for f in self.pending:
            if f.endpoint in ("*", endpoint):
                f.count -= 1
                if f.count <= 0:
                    self.pending.remove(f)
                self.fired.append((f.kind, endpoint))
                return f
        return None

    def clear(self) -> None:
        self.pending.clear()
