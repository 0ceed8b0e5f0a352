"""What a run says while it works: log levels for -q/-v, Beam's noise kept out, progress lines.

Progress crosses from the pipeline to the command line through a folder named by an
environment variable: each process running the pipeline's steps (the command itself, or Beam's
worker processes, which inherit the environment) writes its own running counts there at most
twice a second; the command sums them. Without the variable (tests, remote runners) the
progress steps only pass elements through.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import apache_beam as beam

LOG = logging.getLogger("newsbeam")
PROGRESS_DIR_ENV = "NEWSBEAM_PROGRESS_DIR"
VERBOSITY_ENV = "NEWSBEAM_VERBOSITY"
READ = "read"
DONE = "done"
# A worker writes its counts at most this often (a write is one small file replaced).
FLUSH_SECONDS = 0.5
# Progress lines: on a terminal one line redrawn this often; in a log file one line this often.
TTY_SECONDS = 0.5
LOG_SECONDS = 5.0
# A rate over less time than this says nothing (a few pages in a few milliseconds).
MIN_RATE_SECONDS = 3.0
# Loggers that are not newsbeam's: Beam logs through its own and through the root logger.
NOISY_LOGGERS = ("apache_beam", "root", "absl", "urllib3", "google", "grpc", "htmldate",
                 "trafilatura", "courlan")


def setup_logging(verbosity: int | None = None) -> None:
    """Log to stderr: newsbeam at INFO (WARNING with -q, DEBUG with -v), Beam at WARNING
    unless -vv. ``verbosity`` defaults to what the command set in the environment, so a
    streaming child process says as much as its parent."""
    if verbosity is None:
        verbosity = int(os.environ.get(VERBOSITY_ENV, "0") or 0)
    # apache_beam logs through the root logger on import; force replaces its handler.
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 2 else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s" if verbosity >= 2
        else "newsbeam: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    own = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.getLogger("newsbeam").setLevel(own)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR)


# Beam's worker processes log their start-up to the stderr they inherit, in logging's default
# format, before they read the log level from the pipeline options.
WORKER_NOISE = re.compile(rb"^(DEBUG|INFO|WARNING):(root|__main__|apache_beam[\w.]*):")


@contextmanager
def worker_noise_filtered() -> Iterator[TextIO]:
    """While the block runs, lines of Beam's worker start-up noise on fd 2 are dropped.

    Beam's local multi-processing workers are separate processes writing to the file
    descriptor they inherit, so only a filter on that descriptor keeps their INFO lines out of
    the user's way; anything else (errors, tracebacks) passes through. Yields a stream on the
    real stderr, for output that must not wait for a whole line (the redrawn progress line).
    """
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not WORKER_NOISE.match(line):
                    os.write(real, line)

    thread = threading.Thread(target=pump, name="newsbeam-stderr", daemon=True)
    thread.start()
    direct = os.fdopen(os.dup(real), "w", buffering=1)
    try:
        yield direct
    finally:
        sys.stderr.flush()
        direct.flush()
        os.dup2(real, 2)  # a worker still alive keeps the pipe open: do not wait for it
        thread.join(timeout=1.0)


# ---------------------------------------------------------------- inside the pipeline

_COUNTS: dict[str, dict[str, int]] = {}
_LAST_FLUSH: dict[str, float] = {}
_LOCK = threading.Lock()


def _flush(folder: str) -> None:
    path = os.path.join(folder, f"{os.getpid()}.json")
    try:
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(_COUNTS[folder], handle)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # progress is a courtesy: a full disk or a removed folder must not fail the run


def tick(kind: str, force: bool = False) -> None:
    """Count one page at ``kind`` (read, done) for the progress line, if a command is listening."""
    folder = os.environ.get(PROGRESS_DIR_ENV)
    if not folder:
        return
    with _LOCK:
        # "first": when this process saw its first page (wall clock, comparable across
        # processes), so the rate leaves out the start-up.
        counts = _COUNTS.setdefault(folder, {READ: 0, DONE: 0, "first": time.time()})
        counts[kind] = counts.get(kind, 0) + 1
        now = time.monotonic()
        if force or now - _LAST_FLUSH.get(folder, 0.0) >= FLUSH_SECONDS:
            _LAST_FLUSH[folder] = now
            _flush(folder)


class _Tick(beam.DoFn):
    def __init__(self, kind: str):
        self._kind = kind

    def process(self, element: Any) -> Iterable[Any]:
        tick(self._kind)
        yield element

    def finish_bundle(self) -> None:
        folder = os.environ.get(PROGRESS_DIR_ENV)
        if folder and folder in _COUNTS:
            with _LOCK:
                _flush(folder)


class CountProgress(beam.PTransform):
    """Pass elements through, counting them for the command's progress line."""

    def __init__(self, kind: str):
        super().__init__()
        self._kind = kind

    def expand(self, pcoll):
        return pcoll | beam.ParDo(_Tick(self._kind))


def read_counts(folder: str) -> dict[str, Any]:
    """The counts every process has written to ``folder`` so far, summed."""
    totals: dict[str, Any] = {READ: 0, DONE: 0, "first": None}
    try:
        names = os.listdir(folder)
    except OSError:
        return totals
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                counts = json.load(handle)
        except (OSError, ValueError):
            continue  # replaced while being read: the next look sees it
        for kind, value in counts.items():
            if kind == "first":
                totals["first"] = value if totals["first"] is None else min(totals["first"], value)
            else:
                totals[kind] = totals.get(kind, 0) + int(value)
    return totals


# ---------------------------------------------------------------- the command's side


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_line(read: int, done: int, total: int | None, seconds: float) -> str:
    """``120/500 pages read, 98 processed, 35.2 pages/s, about 11 s left``."""
    of = f"/{total}" if total is not None else ""
    line = f"{read}{of} pages read, {done} processed"
    if done and seconds >= MIN_RATE_SECONDS:
        rate = done / seconds
        line += f", {rate:.1f} pages/s"
        if total is not None and total > done:
            line += f", about {_duration((total - done) / rate)} left"
        elif total is not None:
            line += ", finding syndicated copies and writing"
    return line


def streaming_line(counts: dict[str, int], seconds: float) -> str:
    """``running 5 min 02 s: 310 pages -> 250 articles, 40 copies, 20 dead letters (1.0 pages/s)``."""
    pages = counts.get("pages_read", 0)
    rate = pages / seconds if seconds > 0 else 0.0
    return (
        f"running {_duration(seconds)}: {pages} pages -> {counts.get('articles_written', 0)} "
        f"articles, {counts.get('syndicated_copies', 0)} copies, "
        f"{counts.get('dead_letters', 0)} dead letters ({rate:.1f} pages/s)"
    )


class ProgressReporter:
    """A thread that prints the progress line on stderr while a batch run works.

    On a terminal the line is redrawn in place; otherwise (a log, a pipe) one line is
    printed every ``LOG_SECONDS`` while the counts change.
    """

    def __init__(self, folder: str, total: int | None, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.time, interval: float | None = None,
                 tty: bool | None = None):
        self._folder = folder
        self._total = total
        self._stream = stream or sys.stderr
        self._clock = clock
        if tty is None:
            tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._tty = tty
        self._interval = interval or (TTY_SECONDS if self._tty else LOG_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="newsbeam-progress", daemon=True)
        self._last: tuple[int, int] | None = None
        self._drawn = False

    def __enter__(self) -> ProgressReporter:
        os.environ[PROGRESS_DIR_ENV] = self._folder
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        os.environ.pop(PROGRESS_DIR_ENV, None)
        _COUNTS.pop(self._folder, None)
        _LAST_FLUSH.pop(self._folder, None)
        if self._drawn and self._tty:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def restart(self) -> None:
        """A new attempt: counts of the failed one are forgotten."""
        for name in os.listdir(self._folder):
            try:
                os.remove(os.path.join(self._folder, name))
            except OSError:
                pass
        _COUNTS.pop(self._folder, None)
        self._last = None

    def report(self) -> str | None:
        """The line to show now, or None when nothing moved since the last one."""
        counts = read_counts(self._folder)
        read, done = counts.get(READ, 0), counts.get(DONE, 0)
        if (read, done) == self._last or not read:
            return None
        self._last = (read, done)
        elapsed = self._clock() - (counts["first"] or self._clock())
        return progress_line(read, done, self._total, elapsed)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            line = self.report()
            if line is None:
                continue
            if self._tty:
                self._stream.write(f"\r\033[Knewsbeam: {line}")
            else:
                self._stream.write(f"newsbeam: {line}\n")
            self._stream.flush()
            self._drawn = True
