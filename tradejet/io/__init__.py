"""Ring buffers, the bar store, importers, validation, the ledger and the audit log.

- :mod:`tradejet.io.ring`: ``BarRing`` / ``RingSet`` (preallocated, zero-copy windows and Arrow batches)
- :mod:`tradejet.io.store`: ``BarStore`` (Parquet zstd + memory-mapped Arrow IPC, crash-safe, idempotent)
- :mod:`tradejet.io.importers`: Kraken OHLCVT (also ZIP), Kraken trades, generic CSV, Parquet
- :mod:`tradejet.io.validate`: vectorised bar checks, strict or quarantine
- :mod:`tradejet.io.synthetic`: the seeded synthetic market with its true regimes

Nothing is imported here, so ``import tradejet.io.ring`` does not pull in pyarrow.
"""
