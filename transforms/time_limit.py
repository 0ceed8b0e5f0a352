"""A CPU-time limit on a block of Python code, in any thread.

Extraction of a pathological page must stop, but whether a page is stopped must not
depend on how busy the machine is: with a wall-clock limit the same page could be an
article in one run and a timeout in another. So the limit counts the CPU time of the
thread running the block (its POSIX thread CPU clock), with a wall-clock ceiling
(``WALL_CEILING_FACTOR`` times the limit) for code that waits instead of computing.

One watchdog thread per process serves every limited block: entering a block
registers its thread and deadlines, leaving it unregisters them (microseconds, no
thread or signal per page). When a deadline passes, the watchdog raises an
asynchronous exception in that thread, which Python delivers between bytecodes."""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from transforms.records import StageError

WALL_CEILING_FACTOR = 10.0
# The watchdog never sleeps longer than this, so a registration it missed waits no longer.
MAX_SLEEP_S = 0.5
# A fired block still running after this is sent the exception again: Python drops an
# asynchronous exception that arrives inside a weakref callback or a destructor ("Exception
# ignored in ..."), which would let the block run on to its end.
REFIRE_S = 0.1


class _Timeout(BaseException):
    """Raised inside the limited block; BaseException so that library ``except Exception``
    blocks cannot swallow it."""


def _thread_cpu_clock(ident: int) -> Callable[[], float]:
    """Seconds of CPU time used by thread ``ident``; wall time where the OS has no such clock."""
    try:
        clock_id = time.pthread_getcpuclockid(ident)
    except (AttributeError, OSError):
        return time.monotonic
    return lambda: time.clock_gettime(clock_id)


@dataclass
class _Block:
    ident: int
    cpu: Callable[[], float]
    cpu_deadline: float
    wall_deadline: float
    fired: bool = False
    fired_at: float = 0.0


class _Watchdog:
    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def enter(self, seconds: float) -> _Block:
        ident = threading.get_ident()
        cpu = _thread_cpu_clock(ident)
        block = _Block(ident, cpu, cpu() + seconds, time.monotonic() + WALL_CEILING_FACTOR * seconds)
        with self._wake:
            self._blocks[id(block)] = block
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._watch, name="newsbeam-time-limit", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        return block

    def leave(self, block: _Block) -> bool:
        """Unregister ``block``; True if its limit was reached."""
        with self._wake:
            self._blocks.pop(id(block), None)
            if block.fired:
                # The exception may not have been delivered yet: withdraw it.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(block.ident), None)
            return block.fired

    @staticmethod
    def _fire(block: _Block, now: float) -> None:
        block.fired, block.fired_at = True, now
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(block.ident), ctypes.py_object(_Timeout)
        )

    def _watch(self) -> None:
        with self._wake:
            while True:
                sleep = MAX_SLEEP_S
                now = time.monotonic()
                for block in list(self._blocks.values()):
                    if block.fired:
                        again = block.fired_at + REFIRE_S - now
                        if again <= 0:
                            self._fire(block, now)
                            again = REFIRE_S
                        sleep = min(sleep, again)
                        continue
                    try:
                        cpu_left = block.cpu_deadline - block.cpu()
                    except OSError:  # the thread is gone (e.g. a forked copy of this table)
                        self._blocks.pop(id(block), None)
                        continue
                    # CPU time advances no faster than wall time: the earliest it can expire.
                    left = min(cpu_left, block.wall_deadline - now)
                    if left <= 0:
                        self._fire(block, now)
                        sleep = min(sleep, REFIRE_S)
                    else:
                        sleep = min(sleep, left)
                self._wake.wait(max(sleep, 0.001))


_WATCHDOG = _Watchdog()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Stop the enclosed block with StageError('timeout') once its thread has used
    ``seconds`` of CPU time (or ten times that in wall time). None or 0: no limit."""
    if seconds is None or seconds <= 0:
        yield
        return
    message = f"extraction took longer than {seconds:g} s of CPU time"
    block = _WATCHDOG.enter(seconds)
    try:
        try:
            yield
        finally:
            fired = _WATCHDOG.leave(block)
    except _Timeout:
        _WATCHDOG.leave(block)  # again: the exception may have arrived inside the first call
        raise StageError("timeout", message) from None
    if fired:
        raise StageError("timeout", message)
