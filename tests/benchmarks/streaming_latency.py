"""Streaming latency: from a page landing in a watched folder to its record being readable.

    python -m tests.benchmarks.streaming_latency --pages 300 [--rate 10] [--burst 100]
        [--poll_interval 1.0] [--stable_seconds 1.0] [--idle_seconds 10]

Starts ``newsbeam run --streaming --watch`` on a temporary folder (a
subprocess, as a user would), then:

1. steady: drops ``--pages`` synthetic HTML pages at ``--rate`` pages/s (each
   written as ``name.part`` and renamed, the drop time taken after the rename)
   and polls the output folders, reading each new Avro file once with
   fastavro, to find when each page's record (by ``source``) became readable.
   Prints the median, 95th percentile and maximum latency and the sustained
   rate (pages made readable per second over the run);
2. burst: drops ``--burst`` pages at once and times until all are readable;
3. idle: CPU use of the whole process tree over ``--idle_seconds`` with no new
   pages (percent of one core);
4. stops it with SIGINT and checks it exits 0, prints its summary and leaves
   no temporary files.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fastavro
import psutil

from tests.corpus import html_page, story

KINDS = ("articles", "copies", "dead_letters")
POLL_SECONDS = 0.05  # how often the output folders are looked at (resolution of the figures)
DEADLINE_SECONDS = 180


class Output:
    """Reads each new Avro file of the output folders once; remembers when each source appeared."""

    def __init__(self, folder: Path):
        self._folder = folder
        self._read: set[str] = set()
        self.seen: dict[str, float] = {}  # page file name -> time its record was first readable

    def poll(self) -> None:
        now = time.time()
        for kind in KINDS:
            for path in glob.glob(str(self._folder / kind / "*.avro")):
                if path in self._read:
                    continue
                self._read.add(path)
                with open(path, "rb") as handle:
                    for record in fastavro.reader(handle):
                        self.seen.setdefault(os.path.basename(record["source"]), now)

    def wait_for(self, names: list[str], process: subprocess.Popen, what: str) -> float:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            self.poll()
            if all(name in self.seen for name in names):
                return max(self.seen[name] for name in names)
            if process.poll() is not None:
                raise SystemExit(f"newsbeam exited ({process.returncode}) while waiting for {what}")
            time.sleep(POLL_SECONDS)
        missing = [name for name in names if name not in self.seen]
        raise SystemExit(f"timed out waiting for {what}: {len(missing)} pages not readable")


class Dropper:
    """Writes distinct synthetic pages into the watched folder: ``.part`` first, then renamed."""

    def __init__(self, inbox: Path, seed: int = 7):
        self._inbox = inbox
        self._rng = random.Random(seed)
        self._n = 0
        self.dropped: dict[str, float] = {}

    def drop(self) -> str:
        title, paragraphs = story(self._rng)
        name = f"page{self._n:05d}.html"
        self._n += 1
        partial = self._inbox / f"{name}.part"
        partial.write_text(html_page(title, paragraphs, day=1 + self._n % 28), encoding="utf-8")
        os.replace(partial, self._inbox / name)
        self.dropped[name] = time.time()
        return name


def tree_cpu_seconds(root: psutil.Process) -> dict[int, float]:
    """CPU seconds (user + system) of a process and all its descendants, by pid."""
    times = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            times[proc.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return times


def idle_cpu_percent(pid: int, seconds: float) -> float:
    root = psutil.Process(pid)
    before = tree_cpu_seconds(root)
    started = time.monotonic()
    time.sleep(seconds)  # measuring over a span, not waiting for an outcome
    after = tree_cpu_seconds(root)
    elapsed = time.monotonic() - started
    used = sum(after[p] - before.get(p, 0.0) for p in after)
    return 100.0 * used / elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="pages dropped per second")
    parser.add_argument("--burst", type=int, default=100, help="pages dropped at once (0: skip)")
    parser.add_argument("--poll_interval", type=float, default=None, help="newsbeam's (default: its own)")
    parser.add_argument("--stable_seconds", type=float, default=None, help="newsbeam's (default: its own)")
    parser.add_argument("--idle_seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="newsbeam-latency-"))
    inbox, out = work / "inbox", work / "out"
    inbox.mkdir()
    command = [sys.executable, "-m", "pipeline.cli", "run", "--streaming",
               f"--watch={inbox}/*", f"--output={out}"]
    if args.poll_interval is not None:
        command.append(f"--poll_interval={args.poll_interval}")
    if args.stable_seconds is not None:
        command.append(f"--stable_seconds={args.stable_seconds}")
    log = open(work / "newsbeam.log", "w")
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    output, dropper = Output(out), Dropper(inbox)
    try:
        first = dropper.drop()
        ready = output.wait_for([first], process, "the first page")
        print(f"start-up: first page readable {ready - started:.1f} s after launch "
              f"({ready - dropper.dropped[first]:.2f} s after it landed)")

        # 1. steady rate
        names, t0 = [], time.monotonic()
        for i in range(args.pages):
            due = t0 + i / args.rate
            while time.monotonic() < due:
                output.poll()
                time.sleep(min(POLL_SECONDS, max(0.0, due - time.monotonic())))
            names.append(dropper.drop())
        last = output.wait_for(names, process, "the steady pages")
        latencies = [output.seen[n] - dropper.dropped[n] for n in names]
        span = last - dropper.dropped[names[0]]
        print(f"steady: {args.pages} pages at {args.rate:g}/s: latency median "
              f"{statistics.median(latencies):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
              f"max {max(latencies):.2f} s; sustained {args.pages / span:.1f} pages/s")

        # 2. burst
        if args.burst:
            burst = [dropper.drop() for _ in range(args.burst)]
            last = output.wait_for(burst, process, "the burst")
            took = last - dropper.dropped[burst[0]]
            blat = [output.seen[n] - dropper.dropped[n] for n in burst]
            print(f"burst: {args.burst} pages at once all readable in {took:.1f} s "
                  f"({args.burst / took:.1f} pages/s; latency median {statistics.median(blat):.2f} s)")

        # 3. idle
        cpu = idle_cpu_percent(process.pid, args.idle_seconds)
        print(f"idle: {cpu:.0f}% of one core over {args.idle_seconds:g} s with no new pages "
              f"({psutil.cpu_count()} cores)")
    finally:
        # 4. stop
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        try:
            stdout, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, _ = process.communicate()
        log.close()
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    summary = next((line for line in stdout.splitlines() if "pages read" in line), "")
    print(f"stop: SIGINT -> exit {process.returncode} in {time.monotonic() - stopping:.1f} s; "
          f"{summary.strip()}; leftover temporaries: {len(leftovers)}")
    total = len(dropper.dropped)
    ok = process.returncode == 0 and not leftovers and summary.startswith(f"newsbeam: {total} pages")
    print(f"work folder: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
