"""A sweep's TOML file: what to vary, over which bars, validated against the real config schema.

::

    [sweep]
    mode = "grid"            # or "random": `samples` draws from `seed`
    samples = 50
    seed = 7
    metric = "sharpe"        # what `tradejet sweep show` and walk-forward rank by
    config = "base.toml"     # optional base config (relative to this file); defaults otherwise

    [data]
    path = "../shared/data/crypto/binance"   # a bar store or a folder of candle files
    pattern = "*USDT_1h_*_2022-10.csv*"     # optional: only these files of the folder
    timeframe = "1h"
    start = "2019-01-01"                     # optional, ISO date (UTC)
    end = "2022-10-01"

    [params]                 # dotted config paths; a list of values, or a range
    "strategies.trend_following.adx_min" = [15.0, 20.0, 25.0]
    "risk.max_drawdown" = { low = 0.10, high = 0.50, num = 5 }   # grid: 5 points; random: uniform
    "indicators.ema_fast" = { low = 6, high = 24, step = 6 }     # ints stay ints
    "fills.taker_fee" = { low = 1e-4, high = 1e-2, log = true }  # random: log-uniform

A path that names no parameter, a value of the wrong type or outside the field's range
raises :class:`~tradejet.errors.ConfigError` naming the path. A value valid alone but
not with the others of its task (``ema_fast`` >= ``ema_slow``) makes that task fail
with the reason, recorded in the results; it does not stop the sweep.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from tradejet.config import Config
from tradejet.errors import ConfigError, StrategyError
from tradejet.strategies import REGISTRY, params_table

__all__ = ["SweepSpec", "SweepSection", "DataSection", "WalkForwardSection", "Task", "load_spec", "parse_spec",
           "expand", "build_config", "task_id", "param_kind"]

# sections of Config a sweep may vary: everything that changes a backtest's decisions or costs
SWEEPABLE = ("strategies", "selector", "risk", "indicators", "regime", "fills", "schedule", "backtest")
METRICS = ("sharpe", "sortino", "total_return", "cagr", "calmar", "max_drawdown", "profit_factor", "win_rate",
           "final_equity")


class SweepSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: Literal["grid", "random"] = "grid"
    samples: typing.Annotated[int, msgspec.Meta(ge=1)] = 20
    seed: int = 7
    metric: Literal[METRICS] = "sharpe"  # type: ignore[valid-type]
    config: str | None = None


class DataSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str
    pattern: str | None = None
    timeframe: str | None = None
    start: str | None = None
    end: str | None = None


class WalkForwardSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: Literal["rolling", "anchored"] = "rolling"
    train: str = "365d"
    test: str = "90d"
    metric: Literal[METRICS] = "sharpe"  # type: ignore[valid-type]
    cscv_blocks: typing.Annotated[int, msgspec.Meta(ge=2, le=24)] = 16


class _File(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sweep: SweepSection = msgspec.field(default_factory=SweepSection)
    data: DataSection
    params: dict[str, Any]
    walkforward: WalkForwardSection | None = None


@dataclass
class Param:
    """One varied parameter: its dotted path, its kind and its candidate values (or range)."""

    path: str
    kind: str                    # "int", "float", "bool", "str", "json" (lists, tables)
    values: list | None = None   # explicit values
    low: float | None = None
    high: float | None = None
    step: float | None = None
    num: int | None = None
    log: bool = False


@dataclass
class SweepSpec:
    """A loaded, validated sweep file."""

    source: str
    sweep: SweepSection
    data: DataSection
    params: list[Param]
    base_raw: dict[str, Any]
    base_hash: str
    walkforward: WalkForwardSection | None = None
    root: Path = field(default_factory=Path.cwd)

    def data_path(self) -> Path:
        p = Path(self.data.path).expanduser()
        return p if p.is_absolute() else (self.root / p)


@dataclass(frozen=True)
class Task:
    """One backtest of a sweep: its index, its parameter values and its key."""

    index: int
    params: dict[str, Any]
    id: str


def _fail(msg: str, key: str | None, source: str) -> ConfigError:
    return ConfigError(msg, key=key, source=source)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep (or walk-forward) TOML file."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read sweep file: {e.strerror}", source=str(p)) from None
    return parse_spec(text, source=str(p), root=p.parent)


def _unpath(msg: str) -> tuple[str, str | None]:
    if " - at `$" in msg:
        head, _, tail = msg.partition(" - at `$")
        return head, tail.rstrip("`").lstrip(".") or None
    return msg, None


def parse_spec(text: bytes | str, *, source: str = "<sweep>", root: Path | None = None) -> SweepSpec:
    """Parse a sweep file's text; see the module docstring for the format."""
    root = root or Path.cwd()
    try:
        raw = msgspec.toml.decode(text.encode() if isinstance(text, str) else text)
    except msgspec.DecodeError as e:
        raise _fail(f"not valid TOML: {e}", None, source) from None
    try:
        f = msgspec.convert(raw, _File)
    except msgspec.ValidationError as e:
        msg, key = _unpath(str(e))
        if ("missing required field" in msg or "unknown field" in msg) and "`" in msg:
            name = msg.split("`")[1]
            key = f"{key}.{name}" if key else name
        raise _fail(msg, key, source) from None
    if not f.params:
        raise _fail("[params] is empty: name at least one parameter to vary", "params", source)
    base_raw: dict[str, Any] = {}
    if f.sweep.config:
        cp = Path(f.sweep.config)
        cp = cp if cp.is_absolute() else root / cp
        try:
            base_raw = msgspec.toml.decode(cp.read_bytes())
        except OSError as e:
            raise _fail(f"cannot read base config: {e.strerror}", "sweep.config", str(cp)) from None
        except msgspec.DecodeError as e:
            raise _fail(f"base config is not valid TOML: {e}", "sweep.config", str(cp)) from None
    try:
        base = msgspec.convert(base_raw, Config)
    except msgspec.ValidationError as e:
        msg, key = _unpath(str(e))
        raise _fail(f"base config: {msg}", key, f.sweep.config or source) from None
    base_raw = msgspec.to_builtins(base)  # every field explicit: the hash covers the defaults too
    for d in (f.data.start, f.data.end):
        if d is not None:
            _iso(d, "data.start" if d is f.data.start else "data.end", source)
    params = [_param(k, v, base_raw, source, f.sweep.mode) for k, v in _flatten(f.params)]
    _check_values(params, base_raw, source)
    base_hash = hashlib.sha256(json.dumps(base_raw, sort_keys=True).encode()).hexdigest()[:16]
    return SweepSpec(source=source, sweep=f.sweep, data=f.data, params=params, base_raw=base_raw,
                     base_hash=base_hash, walkforward=f.walkforward, root=root)


def _iso(text: str, key: str, source: str) -> int:
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"not an ISO date or date-time: {text!r}", key, source) from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp() * 1_000_000_000)


_RANGE_KEYS = {"low", "high", "step", "num", "log"}


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": [..]}}`` and ``{"a.b": [..]}`` both give ``("a.b", [..])``; a range table is a leaf."""
    out = []
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v and not (set(v) & _RANGE_KEYS):
            out += _flatten(v, path + ".")
        else:
            out.append((path, v))
    return out


def _field_type(path: str, base_raw: dict[str, Any], source: str):
    """Return the annotated type of the config field at ``path`` (a ConfigError naming it if none)."""
    parts = path.split(".")
    if parts[0] not in SWEEPABLE:
        raise _fail(f"unknown parameter {path!r}: sweeps vary [{'], ['.join(SWEEPABLE)}] fields", path, source)
    if parts[0] == "strategies":
        if len(parts) != 3 or parts[1] not in REGISTRY:
            raise _fail(f"unknown parameter {path!r}: write strategies.<name>.<param>, name one of "
                        f"{', '.join(REGISTRY)}", path, source)
        cls = REGISTRY[parts[1]][1]
        hints = {k: v for k, v in typing.get_type_hints(cls, include_extras=True).items()
                 if k in {f.name for f in msgspec.structs.fields(cls)}}
        if parts[2] not in hints:
            raise _fail(f"unknown parameter {path!r}: {parts[1]} has {', '.join(sorted(hints))}", path, source)
        return hints[parts[2]]
    t: Any = Config
    for i, part in enumerate(parts):
        origin = typing.get_origin(t)
        if isinstance(t, type) and issubclass(t, msgspec.Struct):
            hints = typing.get_type_hints(t, include_extras=True)
            names = {f.name for f in msgspec.structs.fields(t)}
            if part not in names:
                where = ".".join(parts[:i]) or "the config"
                raise _fail(f"unknown parameter {path!r}: {where} has no field {part!r} "
                            f"(fields: {', '.join(sorted(names))})", path, source)
            t = hints[part]
        elif origin is dict:
            t = typing.get_args(t)[1]
        else:
            raise _fail(f"unknown parameter {path!r}: {'.'.join(parts[:i])} is not a table", path, source)
    return t


def param_kind(t) -> str:
    """Return "int", "float", "bool", "str" or "json" for an annotated field type (``X | None`` counts as X)."""
    if typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        t = args[0] if len(args) == 1 else t
    a = typing.get_args(t)[0] if typing.get_origin(t) is typing.Annotated else t
    if a is bool:
        return "bool"
    if a is int:
        return "int"
    if a is float:
        return "float"
    if a is str or typing.get_origin(a) is Literal:
        return "str"
    return "json"


def _param(path: str, spec: Any, base_raw: dict[str, Any], source: str, mode: str) -> Param:
    t = _field_type(path, base_raw, source)
    kind = param_kind(t)
    if isinstance(spec, list):
        if not spec:
            raise _fail(f"{path}: the list of values is empty", path, source)
        vals = []
        for v in spec:
            try:
                vals.append(msgspec.convert(v, t))
            except msgspec.ValidationError as e:
                raise _fail(f"{path}: value {v!r} is not allowed here: {_unpath(str(e))[0]}", path, source) from None
        return Param(path, kind, values=[msgspec.to_builtins(v) for v in vals])
    if isinstance(spec, dict):
        extra = set(spec) - _RANGE_KEYS
        if extra:
            raise _fail(f"{path}: unknown range key {sorted(extra)[0]!r} (use low, high, step, num, log)", path, source)
        if kind not in ("int", "float"):
            raise _fail(f"{path}: a range needs a numeric parameter; this one is {kind}, give a list", path, source)
        if "low" not in spec or "high" not in spec:
            raise _fail(f"{path}: a range needs both low and high", path, source)
        lo, hi = spec["low"], spec["high"]
        for name, v in (("low", lo), ("high", hi), ("step", spec.get("step"))):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise _fail(f"{path}: {name} must be a finite number, was {v!r}", path, source)
        if kind == "int" and not (float(lo).is_integer() and float(hi).is_integer()):
            raise _fail(f"{path}: an integer parameter needs integer low/high, were {lo}, {hi}", path, source)
        if not lo <= hi:
            raise _fail(f"{path}: low ({lo}) must not exceed high ({hi})", path, source)
        for v in (lo, hi):
            try:
                msgspec.convert(int(v) if kind == "int" else float(v), t)
            except msgspec.ValidationError as e:
                raise _fail(f"{path}: value {v!r} is out of range: {_unpath(str(e))[0]}", path, source) from None
        step, num, log = spec.get("step"), spec.get("num"), bool(spec.get("log", False))
        if step is not None and not step > 0:
            raise _fail(f"{path}: step must be > 0, was {step}", path, source)
        if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 1):
            raise _fail(f"{path}: num must be an integer >= 1, was {num!r}", path, source)
        if log and not lo > 0:
            raise _fail(f"{path}: a log range needs low > 0, was {lo}", path, source)
        if mode == "grid" and step is None and num is None:
            raise _fail(f"{path}: a grid range needs step or num", path, source)
        return Param(path, kind, low=lo, high=hi, step=step, num=num, log=log)
    raise _fail(f"{path}: give a list of values or a range table {{low, high, ...}}, not {spec!r}", path, source)


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    d = raw
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


def build_config(base_raw: dict[str, Any], params: dict[str, Any]) -> Config:
    """Return the validated Config of one task (ConfigError naming the section when the mix is invalid)."""
    raw = copy.deepcopy(base_raw)
    for k, v in params.items():
        _set(raw, k, v)
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as e:
        msg, key = _unpath(str(e))
        raise ConfigError(msg, key=key) from None
    try:
        params_table(msgspec.structs.asdict(cfg.strategies))
    except StrategyError as e:
        raise ConfigError(str(e), key="strategies") from None
    return cfg


def _grid_values(p: Param) -> list:
    if p.values is not None:
        return list(p.values)
    if p.num is not None:
        xs = np.geomspace(p.low, p.high, p.num) if p.log else np.linspace(p.low, p.high, p.num)
    else:
        n = int(math.floor((p.high - p.low) / p.step + 1e-9)) + 1
        xs = p.low + p.step * np.arange(n)
    if p.kind == "int":
        return list(dict.fromkeys(int(round(x)) for x in xs))
    return [float(x) for x in xs]


def _check_values(params: list[Param], base_raw: dict[str, Any], source: str) -> None:
    """Each candidate value, set alone into the base config, must pass the config's own checks.

    A failure that names another varied parameter of the same section (``ema_fast`` must be
    shorter than ``ema_slow``) is left to the tasks: some mixes may be fine.
    """
    swept = {p.path for p in params}
    for p in params:
        cands = _grid_values(p) if p.values is not None or p.step is not None or p.num is not None \
            else [p.low, p.high]
        section = p.path.rsplit(".", 1)[0]
        others = [q.rsplit(".", 1)[1] for q in swept if q != p.path and q.rsplit(".", 1)[0] == section]
        for v in cands:
            try:
                build_config(base_raw, {p.path: v})
            except ConfigError as e:
                text = str(e)
                if any(o in text for o in others):
                    continue
                raise _fail(f"{p.path}: value {v!r} is out of range: {text}", p.path, source) from None


def task_id(params: dict[str, Any], data_hash: str, base_hash: str) -> str:
    """Return the key of a task: a hash of its parameter values, the bars and the base config."""
    blob = json.dumps({"p": params, "d": data_hash, "b": base_hash}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _draw(p: Param, rng: np.random.Generator):
    if p.values is not None:
        return p.values[int(rng.integers(len(p.values)))]
    if p.kind == "int":
        if p.step is not None:
            k = int(math.floor((p.high - p.low) / p.step + 1e-9))
            return int(p.low + p.step * int(rng.integers(k + 1)))
        return int(rng.integers(int(p.low), int(p.high) + 1))
    if p.log:
        return float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
    if p.step is not None:
        k = int(math.floor((p.high - p.low) / p.step + 1e-9))
        return float(p.low + p.step * int(rng.integers(k + 1)))
    return float(rng.uniform(p.low, p.high))


def expand(spec: SweepSpec, data_hash: str) -> list[Task]:
    """Return the sweep's tasks, in a fixed order: the grid's product, or ``samples`` seeded draws.

    Duplicate parameter sets (a random draw that repeats) are kept once.
    """
    params = spec.params
    if spec.sweep.mode == "grid":
        combos = itertools.product(*(_grid_values(p) for p in params))
        sets = [dict(zip((p.path for p in params), c)) for c in combos]
    else:
        rng = np.random.default_rng(spec.sweep.seed)
        sets = [{p.path: _draw(p, rng) for p in params} for _ in range(spec.sweep.samples)]
    out, seen = [], set()
    for s in sets:
        tid = task_id(s, data_hash, spec.base_hash)
        if tid not in seen:
            seen.add(tid)
            out.append(Task(index=len(out), params=s, id=tid))
    return out
