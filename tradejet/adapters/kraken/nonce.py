"""Strictly increasing nonces for one API key: across restarts, threads, tasks and processes.

A nonce is ``max(now in microseconds, last + 1)``. The last one handed out is persisted
to a high-water-mark file under an exclusive ``flock`` before it is returned, so a
restart (even with the clock set back) or a second process using the same file never
goes backwards. Kraken keeps one nonce sequence per key: two programs sharing a key
must share this file or get ``EAPI:Invalid nonce``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tradejet.errors import ConfigError

__all__ = ["NonceSource"]


class NonceSource:
    """Hand out strictly increasing integer nonces, persisted in ``path`` (or in memory only).

    >>> src = NonceSource(None, clock_ns=lambda: 5_000)
    >>> src.next(), src.next()
    (5, 6)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock_ns: Callable[[], int] = time.time_ns):
        self.path = Path(path) if path is not None else None
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._last = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._last = self._read_file()

    @classmethod
    def for_key(cls, api_key: str, home: str | os.PathLike[str] | None = None, **kw: object) -> NonceSource:
        """Return the persisted source of one API key: ``$TRADEJET_HOME/nonce/kraken-<sha256(key)[:16]>``.

        Every process using the key on this machine shares the file (and so never collides);
        the file name does not reveal the key.
        """
        import hashlib

        from tradejet.config import tradejet_home

        base = Path(home) if home is not None else tradejet_home()
        name = "kraken-" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
        return cls(base / "nonce" / name, **kw)  # type: ignore[arg-type]

    def _read_file(self) -> int:
        assert self.path is not None
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return 0
        if not text:
            return 0
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"nonce file holds {text[:30]!r}, not an integer", source=str(self.path)) from None

    @property
    def last(self) -> int:
        """The last nonce handed out (or persisted by another process)."""
        return self._last

    def bump(self, at_least: int) -> None:
        """Make the next nonce larger than ``at_least`` (after Kraken said ours was too low)."""
        with self._lock:
            self._last = max(self._last, at_least)

    def next(self) -> int:
        """Return the next nonce (thread-safe; persisted before it is returned)."""
        with self._lock:
            now_us = self._clock_ns() // 1_000
            if self.path is None:
                self._last = max(now_us, self._last + 1)
                return self._last
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.read(fd, 64).strip()
                on_disk = int(raw) if raw else 0
                value = max(now_us, self._last + 1, on_disk + 1)
                data = str(value).encode()
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, data)
                os.fsync(fd)
            except ValueError:
                raise ConfigError(f"nonce file holds {raw[:30]!r}, not an integer", source=str(self.path)) from None
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            self._last = value
            return value
