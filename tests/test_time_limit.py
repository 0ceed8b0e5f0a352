"""The CPU-time limit: what it stops, what it leaves alone, and that it counts CPU time."""

from __future__ import annotations

import threading
import time

import pytest

import transforms.time_limit as limits
from transforms.records import StageError
from transforms.time_limit import time_limit


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_the_limit_counts_cpu_time_not_waiting(monkeypatch):
    # A clock that says the thread used no CPU: wall time alone (under the ceiling of ten
    # times the limit) never stops the block, however long it runs.
    monkeypatch.setattr(limits, "_thread_cpu_clock", lambda ident: (lambda: 0.0))
    with time_limit(0.1):
        _busy(0.4)


def test_cpu_time_past_the_limit_stops_the_block(monkeypatch):
    used = [0.0]
    monkeypatch.setattr(limits, "_thread_cpu_clock", lambda ident: (lambda: used[0]))
    with pytest.raises(StageError) as err, time_limit(0.1):
        used[0] = 0.2  # the thread's CPU clock moves past the deadline
        _busy(2.0)
    assert err.value.reason == "timeout"
    assert "CPU time" in str(err.value)


def test_the_wall_ceiling_stops_a_block_that_uses_no_cpu(monkeypatch):
    monkeypatch.setattr(limits, "_thread_cpu_clock", lambda ident: (lambda: 0.0))
    monkeypatch.setattr(limits, "WALL_CEILING_FACTOR", 2.0)
    start = time.perf_counter()
    with pytest.raises(StageError), time_limit(0.05):
        _busy(3.0)
    assert time.perf_counter() - start < 1.0


def test_the_thread_cpu_clock_advances_with_work_only_in_its_thread():
    clock = limits._thread_cpu_clock(threading.get_ident())
    before = clock()
    _busy(0.05)
    assert clock() - before >= 0.03


def test_time_limit_stops_slow_work_in_main_thread():
    start = time.perf_counter()
    with pytest.raises(StageError) as err, time_limit(0.2):
        _busy(5.0)
    assert err.value.reason == "timeout"
    assert time.perf_counter() - start < 1.0


def test_time_limit_stops_slow_work_in_worker_thread():
    outcome: list[object] = []

    def work() -> None:
        try:
            with time_limit(0.2):
                _busy(5.0)
            outcome.append("finished")
        except StageError as exc:
            outcome.append(exc.reason)

    start = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(3.0)
    assert outcome == ["timeout"]
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize("in_thread", [False, True])
def test_time_limit_leaves_fast_work_alone(in_thread):
    results: list[int] = []

    def work() -> None:
        for _ in range(50):
            with time_limit(0.5):
                results.append(sum(range(1000)))
        _busy(0.3)  # a late watchdog would fire here

    if in_thread:
        worker = threading.Thread(target=work)
        worker.start()
        worker.join(3.0)
    else:
        work()
    assert len(results) == 50
