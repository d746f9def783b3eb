"""Symbol spelling used as keys by rings and the store.

Canonical form: upper case, base and quote separated by ``/`` (``-``, ``_`` and ``:`` are
read as separators). Venue aliases (``XBT`` for ``BTC``) are kept as given: mapping one
venue's names to another's is the universe's job (engine), not the data layer's.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from tradejet.errors import DataError

__all__ = ["canonical_symbol", "symbol_to_path", "path_to_symbol"]

_SEP = re.compile(r"[-_:]")
_OK = re.compile(r"^[A-Z0-9.]+(/[A-Z0-9.]+)?$")


def canonical_symbol(symbol: str) -> str:
    """Return the canonical spelling of ``symbol``.

    >>> canonical_symbol(" xbt-usd ")
    'XBT/USD'
    """
    if not isinstance(symbol, str):
        raise DataError(f"symbol must be a string, was {symbol!r}")
    s = _SEP.sub("/", symbol.strip().upper())
    if not _OK.match(s):
        raise DataError(f"symbol must look like BASE/QUOTE (letters, digits, '.'), was {symbol!r}")
    return s


def symbol_to_path(symbol: str) -> str:
    """Return a file-system-safe folder name for a canonical symbol (``/`` escaped, reversible).

    >>> symbol_to_path("XBT/USD")
    'XBT%2FUSD'
    """
    return quote(canonical_symbol(symbol), safe="")


def path_to_symbol(name: str) -> str:
    """Invert :func:`symbol_to_path`."""
    return unquote(name)
