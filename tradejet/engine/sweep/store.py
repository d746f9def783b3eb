"""A sweep's results on disk: Parquet, one row per task, appended as tasks finish.

Layout of the output folder::

    sweep.json                the spec as run (params, data hash, base config hash, task count)
    bars.arrow                the bars every worker maps (Arrow IPC)
    results.parquet           compacted rows (written when a sweep ends)
    parts/part-<n>.parquet    rows appended while it runs (each part written to a temp file, fsynced, renamed)

A part is never half-written: a crash leaves whole parts, and a restart reads
``results.parquet`` plus every part and skips the task ids found there. Compaction
writes ``results.parquet`` first and deletes the parts after, so a crash between the
two leaves duplicates, which readers drop (same task id, same row).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tradejet.engine.sweep.worker import METRIC_COLUMNS

__all__ = ["ResultStore", "read_results", "PARAM_PREFIX", "compare_results", "TIMING_COLUMNS"]

PARAM_PREFIX = "p:"
TIMING_COLUMNS = ("worker", "run_s", "task_s", "cpu_s", "finished_ns")


def _schema(param_kinds: dict[str, str], keep_returns: bool):
    import pyarrow as pa

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string(), "json": pa.string()}
    fields = [pa.field("task_id", pa.string()), pa.field("task", pa.int64()), pa.field("status", pa.string()),
              pa.field("error", pa.string())]
    fields += [pa.field(PARAM_PREFIX + k, types[v]) for k, v in param_kinds.items()]
    fields += [pa.field(m, pa.float64()) for m in METRIC_COLUMNS]
    fields += [pa.field("worker", pa.string()), pa.field("run_s", pa.float64()), pa.field("task_s", pa.float64()),
               pa.field("cpu_s", pa.float64()), pa.field("finished_ns", pa.int64())]
    if keep_returns:
        fields.append(pa.field("returns", pa.binary()))
    return pa.schema(fields)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ResultStore:
    """Append-only Parquet results of one sweep folder."""

    def __init__(self, out: str | os.PathLike[str], param_kinds: dict[str, str], keep_returns: bool = False):
        self.out = Path(out)
        self.parts = self.out / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.kinds = dict(param_kinds)
        self.keep_returns = keep_returns
        self.schema = _schema(self.kinds, keep_returns)
        existing = sorted(self.parts.glob("part-*.parquet"))
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in existing), default=0)
        self._pending: list[dict[str, Any]] = []

    def finished_ids(self) -> set[str]:
        """Return the ids of tasks already recorded (done or failed)."""
        t = read_results(self.out, columns=["task_id"])
        return set() if t is None else set(t.column("task_id").to_pylist())

    @property
    def pending(self) -> int:
        """Rows added and not yet written."""
        return len(self._pending)

    def add(self, row: dict[str, Any]) -> None:
        row = dict(row)
        row["finished_ns"] = time.time_ns()
        self._pending.append(row)

    def flush(self) -> int:
        """Write the pending rows as one new part; return how many."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending:
            return 0
        cols: dict[str, list] = {f.name: [] for f in self.schema}
        for r in self._pending:
            for name in cols:
                if name.startswith(PARAM_PREFIX):
                    k = name[len(PARAM_PREFIX):]
                    v = r["params"].get(k)
                    cols[name].append(json.dumps(v, sort_keys=True) if self.kinds[k] == "json" else v)
                else:
                    cols[name].append(r.get(name))
        table = pa.Table.from_pydict(cols, schema=self.schema)
        path = self.parts / f"part-{self._next:06d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(table, tmp, compression="zstd")
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(self.parts)
        self._next += 1
        n = len(self._pending)
        self._pending.clear()
        return n

    def compact(self) -> Path:
        """Merge everything into ``results.parquet`` (sorted by task), then remove the parts."""
        import pyarrow.parquet as pq

        self.flush()
        t = read_results(self.out)
        final = self.out / "results.parquet"
        if t is None:
            return final
        tmp = final.with_name(f".results.parquet.tmp-{os.getpid()}")
        pq.write_table(t, tmp, compression="zstd")
        _fsync(tmp)
        os.replace(tmp, final)
        _fsync(self.out)
        for p in self.parts.glob("part-*.parquet"):
            p.unlink()
        return final


def read_results(out: str | os.PathLike[str], columns: list[str] | None = None):
    """Return every recorded row of a sweep folder as one ``pyarrow.Table`` sorted by task (None if none)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = Path(out)
    files = ([out / "results.parquet"] if (out / "results.parquet").exists() else []) + \
        sorted((out / "parts").glob("part-*.parquet"))
    if not files:
        return None
    want = None if columns is None else list(dict.fromkeys(["task_id", "task", *columns]))
    tables = [pq.read_table(f, columns=want) for f in files]
    t = pa.concat_tables(tables, promote_options="default")
    # a crash between compaction and deleting parts leaves duplicates: keep the first of each id
    ids = t.column("task_id").to_pylist()
    seen: set[str] = set()
    keep = [not (i in seen or seen.add(i)) for i in ids]
    t = t.filter(pa.array(keep))
    t = t.take(pc.sort_indices(t, sort_keys=[("task", "ascending")]))
    if columns is not None:
        t = t.select([c for c in want if c in columns or c in ("task_id",)])
    return t



def compare_results(a, b) -> list[str]:
    """Return the columns where two result tables differ, bit for bit (timings and worker names ignored).

    Floats are compared by their bits, so NaN equals NaN and 0.0 differs from -0.0.
    """
    import numpy as np

    drop = [c for c in TIMING_COLUMNS if c in a.column_names]
    a = a.drop_columns(drop)
    b = b.drop_columns([c for c in TIMING_COLUMNS if c in b.column_names])
    if a.column_names != b.column_names:
        return [f"columns: {a.column_names} != {b.column_names}"]
    if a.num_rows != b.num_rows:
        return [f"rows: {a.num_rows} != {b.num_rows}"]
    out = []
    for c in a.column_names:
        x, y = a.column(c), b.column(c)
        if x.type != y.type:
            out.append(f"{c}: type {x.type} != {y.type}")
        elif x.type == "double":
            xb = np.asarray(x.to_numpy(zero_copy_only=False), np.float64).view(np.int64)
            yb = np.asarray(y.to_numpy(zero_copy_only=False), np.float64).view(np.int64)
            if not np.array_equal(xb, yb):
                out.append(c)
        elif not x.equals(y):
            out.append(c)
    return out
