"""``tradejet models train|list|show|validate|promote|rollback --system crypto|swing``."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from tradejet.config import load_config, tradejet_home
from tradejet.errors import ModelError

SYSTEMS = ("crypto", "swing")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="train, list, validate, promote and roll back ML models")
    acts = p.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--system", choices=SYSTEMS, required=True, help="which system's models")
        sp.add_argument("--home", help="tradejet home (default $TRADEJET_HOME or ~/.tradejet)")
        sp.add_argument("--config", help="a TOML config file (its [ml] section)")

    t = acts.add_parser("train", help="train, export, gate and promote or reject a new model")
    common(t)
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder of candle CSVs (.csv/.csv.gz, header timestamp,open,high,low,close,volume)")
    src.add_argument("--synthetic", action="store_true", help="train on a seeded synthetic market")
    t.add_argument("--budget", type=float, help="time budget in seconds (default: config ml.budget_s)")
    t.add_argument("--no-promote", action="store_true", help="stop at validated, do not promote")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    t.set_defaults(func=_train)

    ls = acts.add_parser("list", help="every model of the system with its status and OOS numbers")
    common(ls)
    ls.set_defaults(func=_list)

    s = acts.add_parser("show", help="one model's manifest and gate results (default: the promoted one)")
    common(s)
    s.add_argument("model", nargs="?", help="model id")
    s.add_argument("--json", action="store_true", help="print the manifest as JSON")
    s.set_defaults(func=_show)

    v = acts.add_parser("validate", help="run the four gates on a model (default: the promoted one); exit 1 on failure")
    common(v)
    v.add_argument("model", nargs="?", help="model id")
    v.set_defaults(func=_validate)

    pr = acts.add_parser("promote", help="promote a validated model (integrity and schema are re-checked)")
    common(pr)
    pr.add_argument("model", help="model id")
    pr.set_defaults(func=_promote)

    rb = acts.add_parser("rollback", help="promote the model promoted before the current one")
    common(rb)
    rb.set_defaults(func=_rollback)


def _home(args: argparse.Namespace) -> Path:
    return Path(args.home) if args.home else tradejet_home()


def _cfg(args: argparse.Namespace):
    return load_config(args.config).ml


def _risk_backtest(args: argparse.Namespace):
    """Gate 4 on the engine: ``ml_signal`` backtested with the candidate under the loaded config."""
    from functools import partial

    from tradejet.engine.mlgate import ml_signal_backtest

    return partial(ml_signal_backtest, config=load_config(args.config))


def _store(args: argparse.Namespace, audit=None):
    from tradejet.models.artifacts import ArtifactStore

    return ArtifactStore(_home(args), args.system, audit=audit)


def _audit(args: argparse.Namespace):
    from tradejet.io.audit import AuditLog
    from tradejet.models.pipeline import audit_path

    return AuditLog(audit_path(_home(args), args.system))


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _gate_table(gates, title: str = "Gates"):
    from rich.markup import escape
    from rich.table import Table

    table = Table("gate", "result", "reason", title=title, show_lines=False)
    for g in gates:  # reasons end in "[engine backtest ...]": text, not rich markup
        table.add_row(g.gate, "[green]PASS[/]" if g.passed else "[red]FAIL[/]", escape(g.reason))
    return table


def _train(args: argparse.Namespace) -> int:
    import msgspec
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tradejet.models.data import synthetic_market
    from tradejet.models.pipeline import run_retraining

    cfg = _cfg(args)
    budget = args.budget if args.budget is not None else cfg.budget_s
    data = synthetic_market(n_symbols=3, n_bars=4000, seed=cfg.seed) if args.synthetic else args.data
    con = Console(stderr=args.json)
    steps = 7 + cfg.n_folds
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=con, transient=args.json) as bar:
        task = bar.add_task(f"{args.system}: starting", total=steps)

        def progress(step: str) -> None:
            bar.update(task, advance=1, description=f"{args.system}: {step}")

        res = run_retraining(args.system, data, budget, _home(args), cfg=cfg, promote=not args.no_promote,
                             progress=progress, risk_backtest=_risk_backtest(args))
        bar.update(task, completed=steps)
    if args.json:
        sys.stdout.write(msgspec.json.encode(res).decode() + "\n")
    else:
        for s in res.skipped_files:
            con.print(f"[dim]skipped {s}[/]")
        if res.gates:
            con.print(_gate_table(res.gates, title=f"Gates of {res.model_id}"))
        colour = {"promoted": "green", "validated": "green"}.get(res.outcome, "red")
        con.print(f"[bold {colour}]{res.outcome.upper()}[/]: {escape(res.reason)} "
                  f"(model {res.model_id or '-'}, promoted {res.promoted_id or '-'}, {res.elapsed_s:.1f} s)")
    return 0 if res.outcome in ("promoted", "validated") else 1


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = _store(args)
    table = Table("id", "status", "created (UTC)", "model", "OOS precision", "OOS recall", "OOS F1", "gates",
                  title=f"{args.system} models")
    for m in store.list():
        passed = sum(g.passed for g in m.gates)
        table.add_row(m.id, m.status, _when(m.created), str(m.params.get("model", "?")),
                      f"{m.metrics.get('oos_precision', float('nan')):.4f}",
                      f"{m.metrics.get('oos_recall', float('nan')):.4f}", f"{m.metrics.get('oos_f1', float('nan')):.4f}",
                      f"{passed}/{len(m.gates)}" if m.gates else "-")
    Console().print(table)
    return 0


def _pick(args: argparse.Namespace, store) -> str:
    mid = args.model or store.promoted_id()
    if mid is None:
        raise ModelError(f"no promoted {args.system} model; name one (see `tradejet models list`)")
    return mid


def _show(args: argparse.Namespace) -> int:
    import msgspec
    from rich.console import Console
    from rich.table import Table

    store = _store(args)
    m = store.manifest(_pick(args, store))
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(m)).decode() + "\n")
        return 0
    con = Console()
    info = Table(show_header=False, title=m.id)
    for k, v in (("system", m.system), ("status", m.status), ("created", _when(m.created)),
                 ("model SHA-256", m.model_sha256), ("feature schema", f"v{m.schema_version} {m.feature_schema_hash}"),
                 ("training data", m.training_data_hash), ("threshold", f"{m.threshold}"),
                 ("params", ", ".join(f"{k2}={v2}" for k2, v2 in m.params.items()))):
        info.add_row(k, v)
    con.print(info)
    met = Table("metric", "value", title="Metrics")
    for k, v in m.metrics.items():
        met.add_row(k, f"{v:.6g}")
    con.print(met)
    if m.gates:
        con.print(_gate_table(m.gates))
    hist = Table("status", "when (UTC)", "reason", title="History")
    for h in m.history:
        hist.add_row(h.status, _when(h.ts), h.reason)
    con.print(hist)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tradejet.models.gates import run_gates
    from tradejet.models.schema import DEFAULT_SCHEMA

    with _audit(args) as audit:
        store = _store(args, audit)
        mid = _pick(args, store)
        is_promoted = mid == store.promoted_id()
        gates = run_gates(store, mid, DEFAULT_SCHEMA, _cfg(args), compare_promoted=not is_promoted,
                          risk_backtest=_risk_backtest(args))
        status = store.manifest(mid).status
        if all(g.passed for g in gates) and status == "candidate":
            store.set_status(mid, "validated", "passed all four gates (tradejet models validate)", gates=gates)
        elif status not in ("rejected",):
            store.record_gates(mid, gates)
        if not all(g.passed for g in gates):
            audit.append("model_validation_failed", {"model": mid, "promoted": is_promoted,
                                                     "gate": next(g.gate for g in gates if not g.passed)})
    con = Console()
    con.print(_gate_table(gates, title=f"Gates of {mid}{' (promoted)' if is_promoted else ''}"))
    ok = all(g.passed for g in gates)
    con.print("[bold green]VALID[/]" if ok else "[bold red]INVALID[/]: " + next(g.reason for g in gates if not g.passed))
    return 0 if ok else 1


def _promote(args: argparse.Namespace) -> int:
    from tradejet.models.gates import gate_integrity, gate_schema
    from tradejet.models.schema import DEFAULT_SCHEMA

    with _audit(args) as audit:
        store = _store(args, audit)
        g1, model = gate_integrity(store, args.model)
        if model is None:
            raise ModelError(f"refusing to promote {args.model}: {g1.reason}")
        try:
            g2 = gate_schema(model, store.manifest(args.model), DEFAULT_SCHEMA,
                             store.validation_rows(args.model)["X"])
        finally:
            model.close()
        if not g2.passed:
            raise ModelError(f"refusing to promote {args.model}: {g2.reason}")
        ptr = store.promote(args.model, "promoted by operator (tradejet models promote)")
    print(f"promoted {ptr.promoted} for {args.system} (previous: {ptr.previous[-1] if ptr.previous else '-'})")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    with _audit(args) as audit:
        store = _store(args, audit)
        before = store.promoted_id()
        ptr = store.rollback()
    print(f"rolled back {args.system}: {before} -> {ptr.promoted}")
    return 0
