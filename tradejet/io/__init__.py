"""Ring buffers, the bar store, importers, validation, the ledger and the audit log."""
