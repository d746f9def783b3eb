"""Downtime schedule: hand cases across midnight, month/year ends, leap days and timezones,
and hypothesis against a brute-force datetime implementation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.config import Config, ScheduleConfig, load_config
from tradejet.engine.schedule import Schedule, to_ns
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import schedule as ks
from tradejet.kernels.codes import Permit, TradingState as TS

UTC = timezone.utc


def brute_state(dt: datetime, cfg: ScheduleConfig) -> int:
    """The state by listing the day before, of and after ``dt`` as datetime intervals."""
    if not cfg.enabled:
        return TS.TRADING
    dt = dt.astimezone(UTC)
    sh, sm = map(int, cfg.window_start.split(":"))
    eh, em = map(int, cfg.window_end.split(":"))
    for off in (-1, 0, 1):
        day = dt.date() + timedelta(days=off)
        ws = datetime.combine(day, time(sh, sm), tzinfo=UTC)
        we = datetime.combine(day, time(eh, em), tzinfo=UTC)
        if we <= ws:
            we += timedelta(days=1)
        if ws - timedelta(minutes=cfg.drain_lead_minutes) <= dt < ws:
            return TS.DRAINING
        if ws <= dt < we:
            return TS.DOWNTIME
        if we <= dt < we + timedelta(minutes=cfg.resume_minutes):
            return TS.RESUMING
    return TS.TRADING


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


DEFAULT = Schedule()
NIGHT = Schedule(ScheduleConfig(window_start="23:00", window_end="01:00", drain_lead_minutes=45, resume_minutes=15))


@pytest.mark.parametrize(
    ("sched", "when", "state"),
    [
        (DEFAULT, utc(2024, 1, 10, 2, 29, 59, 999999), TS.TRADING),
        (DEFAULT, utc(2024, 1, 10, 2, 30), TS.DRAINING),
        (DEFAULT, utc(2024, 1, 10, 3, 0), TS.DOWNTIME),
        (DEFAULT, utc(2024, 1, 10, 4, 59, 59), TS.DOWNTIME),
        (DEFAULT, utc(2024, 1, 10, 5, 0), TS.RESUMING),
        (DEFAULT, utc(2024, 1, 10, 5, 30), TS.TRADING),
        (DEFAULT, utc(2024, 2, 29, 3, 30), TS.DOWNTIME),  # leap day
        (DEFAULT, utc(2000, 2, 29, 2, 45), TS.DRAINING),  # leap century
        (DEFAULT, utc(1969, 12, 31, 3, 15), TS.DOWNTIME),  # before the epoch (negative ns)
        (NIGHT, utc(2023, 12, 31, 22, 14), TS.TRADING),
        (NIGHT, utc(2023, 12, 31, 22, 15), TS.DRAINING),
        (NIGHT, utc(2023, 12, 31, 23, 59, 59), TS.DOWNTIME),  # year end
        (NIGHT, utc(2024, 1, 1, 0, 0), TS.DOWNTIME),
        (NIGHT, utc(2024, 1, 1, 1, 0), TS.RESUMING),
        (NIGHT, utc(2024, 1, 1, 1, 15), TS.TRADING),
        (NIGHT, utc(2024, 2, 29, 23, 30), TS.DOWNTIME),  # leap day -> March 1
        (NIGHT, utc(2024, 3, 1, 0, 59), TS.DOWNTIME),
        (NIGHT, utc(2024, 4, 30, 23, 0), TS.DOWNTIME),  # month end
    ],
)
def test_hand_cases(sched, when, state):
    assert sched.state_at(when) == state
    assert brute_state(when, sched.config) == state


NY = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(
    ("when", "state"),
    [
        (datetime(2024, 3, 9, 22, 15, tzinfo=NY), TS.DOWNTIME),  # EST: 03:15 UTC on 03-10
        (datetime(2024, 3, 10, 23, 15, tzinfo=NY), TS.DOWNTIME),  # EDT after the switch: 03:15 UTC on 03-11
        (datetime(2024, 3, 10, 22, 15, tzinfo=NY), TS.TRADING),  # EDT: 02:15 UTC
        (datetime(2024, 11, 2, 23, 30, tzinfo=NY), TS.DOWNTIME),  # EDT: 03:30 UTC
        (datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY), TS.TRADING),  # second 01:30 (EST): 06:30 UTC
        (datetime(2024, 1, 1, 8, 45, tzinfo=KOLKATA), TS.DOWNTIME),  # +05:30: 03:15 UTC
        (datetime(2024, 1, 1, 8, 0, tzinfo=KOLKATA), TS.DRAINING),  # 02:30 UTC
        (datetime(2024, 1, 1, 3, 15, tzinfo=timezone(timedelta(hours=-1))), TS.DOWNTIME),  # 04:15 UTC
        (datetime(2024, 1, 1, 5, 15, tzinfo=timezone(timedelta(hours=2))), TS.DOWNTIME),  # 03:15 UTC
        ("2024-12-31T22:30:00-05:00", TS.DOWNTIME),  # 03:30 UTC on 2025-01-01
        ("2024-12-31T03:30:00Z", TS.DOWNTIME),
        ("2024-12-31T05:10:00+00:00", TS.RESUMING),
    ],
)
def test_timezones_are_converted(when, state):
    assert DEFAULT.state_at(when) == state
    dt = datetime.fromisoformat(when) if isinstance(when, str) else when
    assert brute_state(dt, DEFAULT.config) == state


def test_to_ns_is_exact_and_refuses_naive_times():
    assert to_ns(utc(2024, 2, 29, 0, 0, 0, 1)) == 1_709_164_800_000_001_000
    assert to_ns(datetime(2024, 2, 29, 1, tzinfo=timezone(timedelta(hours=1)))) == 1_709_164_800_000_000_000
    assert to_ns(np.int64(5)) == 5
    assert to_ns(utc(1969, 12, 31, 23, 59, 59)) == -1_000_000_000
    with pytest.raises(DataError, match="naive datetime"):
        to_ns(datetime(2024, 1, 1))
    with pytest.raises(DataError, match="not ISO 8601"):
        to_ns("yesterday")
    with pytest.raises(DataError, match="timestamp must be int ns"):
        to_ns(1.5)
    with pytest.raises(DataError, match="timestamp must be int ns"):
        to_ns(True)
    with pytest.raises(DataError, match="naive datetime"):
        DEFAULT.state_at("2024-01-01T03:30:00")


@st.composite
def configs(draw):
    start = draw(st.integers(0, 1439))
    window = draw(st.integers(1, 1200))
    lead = draw(st.integers(0, 1439 - window))
    resume = draw(st.integers(0, 1439 - window - lead))
    end = (start + window) % 1440
    return ScheduleConfig(window_start=f"{start // 60:02d}:{start % 60:02d}",
                          window_end=f"{end // 60:02d}:{end % 60:02d}",
                          drain_lead_minutes=lead, resume_minutes=resume, enabled=draw(st.integers(0, 9)) > 0)


TS_RANGE = st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2200, 12, 31),
                        timezones=st.just(UTC))


@given(configs(), TS_RANGE)
def test_kernel_matches_brute_force(cfg, dt):
    assert Schedule(cfg).state_at(dt) == brute_state(dt, cfg)


@given(configs(), st.lists(TS_RANGE, min_size=1, max_size=50))
def test_vector_kernel_matches_scalar(cfg, dts):
    s = Schedule(cfg)
    ts = np.array([to_ns(d) for d in dts], dtype=np.int64)
    assert s.states(ts).tolist() == [s.state_at(int(t)) for t in ts]


@given(configs(), TS_RANGE)
def test_next_change_is_the_first_different_state(cfg, dt):
    if not cfg.enabled:
        cfg = msgspec.structs.replace(cfg, enabled=True)
    s = Schedule(cfg)
    t0 = to_ns(dt)
    state, t1 = s.next_change(t0)
    now = s.state_at(t0)
    assert t1 > t0 and state != now
    assert s.state_at(t1) == state
    assert s.state_at(t1 - 1) == now
    # no change in between: sample minute boundaries
    for t in range(t0, t1, max(1, (t1 - t0) // 97)):
        assert s.state_at(t) == now


def test_cycle_of_one_day_in_minutes():
    day0 = to_ns(utc(2024, 12, 31))
    ts = day0 + np.arange(0, 2 * 1440, dtype=np.int64) * 60_000_000_000
    states = DEFAULT.states(ts)
    runs = [int(states[0])] + [int(b) for a, b in zip(states[:-1], states[1:]) if a != b]
    assert runs == [TS.TRADING, TS.DRAINING, TS.DOWNTIME, TS.RESUMING, TS.TRADING] + \
        [TS.DRAINING, TS.DOWNTIME, TS.RESUMING, TS.TRADING]
    assert np.count_nonzero(states == TS.DOWNTIME) == 2 * 120
    assert np.count_nonzero(states == TS.DRAINING) == 2 * 30


def test_disabled_schedule_always_trades():
    s = Schedule(ScheduleConfig(enabled=False))
    assert s.state_at(utc(2024, 1, 1, 3, 30)) == TS.TRADING
    assert s.next_change(0) == (TS.TRADING, np.iinfo(np.int64).max)


def test_zero_lead_and_resume_skip_those_states():
    s = Schedule(ScheduleConfig(drain_lead_minutes=0, resume_minutes=0))
    assert s.state_at(utc(2024, 1, 1, 2, 59)) == TS.TRADING
    assert s.next_change(utc(2024, 1, 1, 2, 59)) == (TS.DOWNTIME, to_ns(utc(2024, 1, 1, 3)))
    assert s.next_change(utc(2024, 1, 1, 4)) == (TS.TRADING, to_ns(utc(2024, 1, 1, 5)))


def test_permissions_per_state():
    assert ks.permissions_nb(TS.TRADING) == Permit.NEW_ENTRY | Permit.RESTING_ENTRY | Permit.EXIT | Permit.FORCED_EXIT
    assert ks.permissions_nb(TS.DRAINING) == Permit.EXIT | Permit.FORCED_EXIT
    assert ks.permissions_nb(TS.RESUMING) == Permit.EXIT | Permit.FORCED_EXIT
    assert ks.permissions_nb(TS.DOWNTIME) == Permit.FORCED_EXIT
    assert ks.permissions_nb(99) == 0
    assert DEFAULT.allows(utc(2024, 1, 1, 2, 45), Permit.EXIT)
    assert not DEFAULT.allows(utc(2024, 1, 1, 2, 45), Permit.RESTING_ENTRY)
    assert not DEFAULT.allows(utc(2024, 1, 1, 3, 45), Permit.EXIT)


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ('window_start = "3:00"', "window_start must be a UTC time 'HH:MM'"),
        ('window_end = "24:00"', "window_end must be a UTC time 'HH:MM'"),
        ('window_start = "05:00"', "window_end must differ from window_start"),
        ("drain_lead_minutes = -5", "must be >= 0"),
        ("resume_minutes = 1400", "shorter than a day"),
        ("window = 3", "unknown field `window`"),
    ],
)
def test_bad_schedule_config_names_the_key(tmp_path, section, fragment):
    f = tmp_path / "c.toml"
    f.write_text(f"[schedule]\n{section}\n")
    with pytest.raises(ConfigError) as ei:
        load_config(f, env={})
    assert fragment in str(ei.value)
    assert ei.value.key.startswith("schedule")


def test_schedule_from_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[schedule]\nwindow_start = "22:30"\nwindow_end = "00:30"\n')
    s = Schedule(load_config(f, env={}).schedule)
    assert s.state_at(utc(2025, 12, 31, 23, 59)) == TS.DOWNTIME
    assert s.state_at(utc(2026, 1, 1, 0, 45)) == TS.RESUMING
    assert Schedule(Config().schedule).params.tolist() == [1, 3 * 3600, 5 * 3600, 1800, 1800]


def test_states_refuses_bad_arrays():
    with pytest.raises(DataError, match="1-D integer array"):
        DEFAULT.states(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(DataError, match="1-D integer array"):
        DEFAULT.states(np.zeros(3))
