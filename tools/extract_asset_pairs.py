"""Build the bundled default AssetPairs file from the recorded full Kraken response.

Usage (from the repo root)::

    python tools/extract_asset_pairs.py [SOURCE] [DEST]

SOURCE defaults to ``$TRADEJET_DATA/kraken_api/AssetPairs_full_2026-01-12.json.gz`` (the
complete ``/0/public/AssetPairs`` body recorded 2026-01-12); DEST to
``tradejet/engine/data/asset_pairs.json``. The ten default pairs' entries are copied
verbatim (same keys, same order, same values) into a ``{"error": [], "result": {...}}``
envelope, so the universe reads the bundled file and a live response with one parser.
``tests/engine/test_universe.py`` checks the bundled file against the recording.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tradejet.testing import shared_data_dir  # noqa: E402

# Kraken REST pair keys of the ten default USD pairs (shared/KRAKEN_API.md §10).
PAIR_KEYS = ("XXBTZUSD", "XETHZUSD", "SOLUSD", "XXRPZUSD", "ADAUSD",
             "DOTUSD", "LINKUSD", "XLTCZUSD", "XDGUSD", "AVAXUSD")


def extract(source: Path) -> dict:
    """Return the envelope holding the ten pairs' entries of ``source``, verbatim."""
    with gzip.open(source, "rt", encoding="utf-8") if source.suffix == ".gz" else open(source, encoding="utf-8") as f:
        body = json.load(f)
    if body.get("error"):
        raise SystemExit(f"{source}: response carries errors {body['error']}")
    result = body["result"]
    missing = [k for k in PAIR_KEYS if k not in result]
    if missing:
        raise SystemExit(f"{source}: pairs missing: {missing}")
    return {"error": [], "result": {k: result[k] for k in PAIR_KEYS}}


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else shared_data_dir() / "kraken_api" / "AssetPairs_full_2026-01-12.json.gz"
    dest = Path(argv[2]) if len(argv) > 2 else ROOT / "tradejet" / "engine" / "data" / "asset_pairs.json"
    dest.write_text(json.dumps(extract(source), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {dest} ({len(PAIR_KEYS)} pairs from {source.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
