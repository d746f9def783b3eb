"""The operator's dashboard: a local web page and JSON API for paper and live runs.

``await attach(engine, host=..., port=..., token=...)`` serves a running
:class:`~tradejet.engine.Engine` from its own event loop; ``await
serve_view(LedgerView(path))`` watches a ledger read-only. The page (``static/``) is
plain HTML, CSS and JavaScript shipped in the package: nothing is fetched from
elsewhere. The API's structs and its OpenAPI document are in
:mod:`tradejet.dashboard.schema`. Names are imported on first use, so that the CLI's
option helpers (:mod:`tradejet.dashboard.options`) stay cheap to import.
"""

from __future__ import annotations

import importlib

__all__ = ["Dashboard", "attach", "serve_view", "EngineView", "LedgerView", "is_loopback", "new_token"]

_WHERE = {"Dashboard": "server", "attach": "server", "serve_view": "server", "is_loopback": "server",
          "new_token": "server", "EngineView": "state", "LedgerView": "state"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"tradejet.dashboard.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tradejet.dashboard' has no attribute {name!r}")
