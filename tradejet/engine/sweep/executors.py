"""Where tasks run: ``local`` (a process pool on this machine) or ``ray`` (a Ray cluster, or a local Ray).

Both give ``execute(tasks) -> iterator of rows`` in completion order, with at most a few
tasks in flight per worker (a million-task sweep never sits in a queue in memory), and
both run the same :class:`~tradejet.engine.sweep.worker.SweepWorker` code, so a task's
row is the same, bit for bit, whichever ran it. A worker that dies (killed, out of
memory) turns its in-flight tasks into error rows; the sweep goes on with fresh workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from tradejet.errors import ConfigError, TradejetError
from tradejet.engine.sweep.worker import error_row

__all__ = ["LocalExecutor", "RayExecutor", "make_executor"]

log = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2


class LocalExecutor:
    """A ``forkserver`` process pool of ``workers`` processes, each mapping the bars once."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def execute(self, tasks: Sequence, ipc_path: str, base_raw: dict[str, Any],
                keep_returns: bool = False) -> Iterator[dict[str, Any]]:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        from tradejet.engine.sweep.worker import init_process, run_in_process

        ctx = mp.get_context("forkserver")
        # the fork server imports the engine once; every pool worker forks from it with the modules loaded
        ctx.set_forkserver_preload(["tradejet.engine.sweep.worker", "tradejet.engine.simulate",
                                    "tradejet.engine.driver"])
        todo = list(reversed(tasks))
        limit = self.workers * IN_FLIGHT_PER_WORKER

        def new_pool() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_process,
                                       initargs=(str(ipc_path), base_raw, keep_returns))

        pool = new_pool()
        running: dict = {}
        tries: dict[str, int] = {}  # task id -> pools that broke while it was in flight
        streak = 0  # pool breakages in a row without a finished task: the workers cannot start
        try:
            while todo or running:
                while todo and len(running) < limit:
                    t = todo.pop()
                    running[pool.submit(run_in_process, t)] = t
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = []
                for fut in done:
                    t = running.pop(fut)
                    try:
                        row = fut.result()
                    except BrokenProcessPool:
                        broken.append(t)
                        continue
                    streak = 0
                    yield row
                if not broken:
                    continue
                # A dead worker breaks the whole pool: every task in flight fails with it, most of them
                # innocent. Each is run again on a fresh pool; one in flight at two breakages is recorded.
                streak += 1
                if streak >= 3:
                    raise TradejetError("sweep workers keep dying before they finish a task (the worker's "
                                        "error is in the log above)")
                again = broken + list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                for t in again:
                    tries[t.id] = tries.get(t.id, 0) + 1
                    if tries[t.id] >= 2:
                        yield error_row(t, "worker process died twice while running this task (killed, or out "
                                           "of memory)")
                    else:
                        todo.append(t)
                pool = new_pool()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """One Ray actor per worker (``num_cpus=1`` each), on the cluster at ``address`` or a local Ray.

    With no ``address``, a local Ray is started with ``workers`` CPUs (and no dashboard)
    and shut down afterwards. Each actor maps the bar file once; on a node where the
    driver's path does not exist, the actor copies the file once from Ray's object store
    into its node's temp folder and maps that. ``batch`` tasks go to an actor per call
    (one row each, as before): the driver's cost per result (~1 ms of CPU per Ray call,
    measured by ``tradejet bench sweep``) is shared by the batch, which is what lets
    one driver keep a large cluster busy.
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, batch: int = 1):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("the ray executor needs Ray: pip install 'tradejet[ray]'", key="--executor") from None
        self.address = address
        self.workers = int(workers) if workers else None
        if int(batch) < 1:
            raise ConfigError(f"--batch must be >= 1, was {batch}", key="--batch")
        self.batch = int(batch)

    def execute(self, tasks: Sequence, ipc_path: str, base_raw: dict[str, Any],
                keep_returns: bool = False) -> Iterator[dict[str, Any]]:
        import ray

        started = False
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            else:
                # bound to the loopback interface: a local Ray talks to nothing else
                ray.init(num_cpus=self.workers or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False, _node_ip_address="127.0.0.1")
            started = True
        try:
            yield from self._run(ray, tasks, str(ipc_path), base_raw, keep_returns)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray, tasks, ipc_path, base_raw, keep_returns):
        from tradejet.engine.sweep.worker import SweepWorker

        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        with open(ipc_path, "rb") as f:
            data_ref = ray.put(f.read()) if self.address else None

        @ray.remote(num_cpus=1, max_restarts=-1)
        class Actor:
            def __init__(self, path, data, base, keep):
                import os as _os
                import tempfile

                os.environ.setdefault("NUMBA_NUM_THREADS", "1")
                os.environ.setdefault("TRADEJET_THREADS", "1")
                if not _os.path.exists(path):  # another node: one local copy of the bar file
                    blob = ray.get(data) if not isinstance(data, bytes | type(None)) else data
                    local = _os.path.join(tempfile.gettempdir(), "tradejet-sweep-" + _os.path.basename(path))
                    if not _os.path.exists(local):
                        tmp = f"{local}.{_os.getpid()}"
                        with open(tmp, "wb") as out:
                            out.write(blob)
                        _os.replace(tmp, local)
                    path = local
                self.w = SweepWorker(path, base, keep)
                self.w.warm()

            def run(self, tasks):
                return [self.w.run(t) for t in tasks]

        actors = [Actor.remote(ipc_path, data_ref, base_raw, keep_returns) for _ in range(n)]
        todo = [list(tasks[i:i + self.batch]) for i in range(0, len(tasks), self.batch)][::-1]
        running: dict = {}
        load = {i: 0 for i in range(n)}
        while todo or running:
            for i in range(n):
                while todo and load[i] < IN_FLIGHT_PER_WORKER:
                    chunk = todo.pop()
                    running[actors[i].run.remote(chunk)] = (chunk, i)
                    load[i] += 1
            refs = list(running)
            done, _ = ray.wait(refs, num_returns=1)
            if len(refs) > 1:  # collect every other finished result too: one O(in-flight) scan per batch
                more, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                done = list(dict.fromkeys([*done, *more]))
            for ref in done:
                chunk, i = running.pop(ref)
                load[i] -= 1
                try:
                    rows = ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    rows = [error_row(t, f"Ray worker died while running this task: {type(e).__name__}")
                            for t in chunk]
                except ray.exceptions.RayTaskError as e:
                    rows = [error_row(t, f"Ray task failed: {e}") for t in chunk]
                yield from rows
        for a in actors:
            ray.kill(a)


def make_executor(kind: str, workers: int | None = None, address: str | None = None, batch: int = 1):
    """Return the executor named ``kind`` ("local" or "ray")."""
    if kind == "local":
        if address:
            raise ConfigError("--address is for --executor ray", key="--address")
        if batch != 1:
            raise ConfigError("--batch is for --executor ray", key="--batch")
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address, batch)
    raise ConfigError(f"unknown executor {kind!r}; use local or ray", key="--executor")
