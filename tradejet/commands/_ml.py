"""``--model`` for the runners: which ONNX model scores ``ml_signal`` (shared by backtest and paper)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger("tradejet.models")


def add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="promoted", metavar="ID|promoted|none",
                   help="the model that scores ml_signal: the system's promoted model (default), a model id "
                        "from `tradejet models list`, or none (ml_signal then never enters)")


def load_model(args: argparse.Namespace, cfg, system: str = "crypto"):
    """Return ``(model or None, model id or None, note)``; a refused model is reported, never used.

    The model is loaded through :class:`~tradejet.models.artifacts.ArtifactStore` (SHA-256 of
    the file against its manifest, onnxruntime load, schema hash): a tampered or broken file
    is refused with an alert in the audit log, and ``ml_signal`` trades without scores
    (it never enters), which is the safe side.
    """
    from tradejet.config import tradejet_home
    from tradejet.errors import ConfigError, ModelError

    choice = getattr(args, "model", "promoted") or "promoted"
    if choice == "none":
        return None, None, "ml_signal: no model (--model none): it never enters"
    home = Path(cfg.home) if cfg.home else tradejet_home()
    root = home / "models" / system
    if not root.is_dir():
        if choice != "promoted":
            raise ConfigError(f"no {system} models under {root}", key="--model")
        return None, None, f"ml_signal: no {system} model trained yet ({root}): it never enters"
    from tradejet.models.artifacts import ArtifactStore

    store = ArtifactStore(home, system)
    mid = store.promoted_id() if choice == "promoted" else choice
    if mid is None:
        return None, None, f"ml_signal: no promoted {system} model: it never enters"
    if choice != "promoted" and not (root / mid).is_dir():
        raise ConfigError(f"no {system} model {mid!r} under {root}", key="--model")
    try:
        model = store.load(mid)
    except ModelError as e:
        log.error("ALERT: %s model %s refused, ml_signal will not enter: %s", system, mid, e)
        return None, None, f"ml_signal: model {mid} REFUSED ({e}): it never enters"
    return model, mid, f"ml_signal: scored by {system} model {mid}"
