"""Strategy step kernels and their registry (dispatched by integer code)."""
