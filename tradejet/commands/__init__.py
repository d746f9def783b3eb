"""CLI command groups, one module each; see :mod:`tradejet.cli`. Wiring only."""
