"""Throughput benchmark: the whole pipeline against bare trafilatura on the same pages and cores.

    .venv/bin/python -m tests.benchmarks.throughput [--source DIR] [--pages 2000] [--runs 3]
    .venv/bin/python -m tests.benchmarks.throughput --memory 2500,5000,10000

Pages: every HTML page of ``--source`` (default ``../shared/dev/extraction``),
repeated to ``--pages`` files in a temporary folder. Each copy gets a unique
marker word (``zq`` + letters of its number) after every second word of the
body's text, in any script: every word 3-shingle of a copy then holds its
marker, so copies share no shingle (the dedup compares 3-shingle containment,
threshold 0.55-0.66) and are neither syndicated copies nor LSH candidates of
each other. (A marker every third word leaves a quarter of the shingles shared:
no copies are found, but 40 copies of a page already give ~9 candidate pairs per
page, and the candidate pairs grow with the square of the copies.) The run's
summary shows how many copies it found.

Measured, each ``--runs`` times (medians printed):
  (a) a bare loop of ``trafilatura.extract`` in this process (file read and
      UTF-8 decode included, imports and a warm-up page excluded);
  (b) the same loop over ``multiprocessing.Pool(2)`` (pool start-up included);
  (c) ``newsbeam run`` as a subprocess, one worker (wall clock, start-up included);
  (d) ``newsbeam run --direct_num_workers=2 --direct_running_mode=multi_processing``.
Start-up is the wall clock of the same command on one page; the per-page cost
is (T(N) - T(1)) / (N - 1). The per-stage profile times each stage's pure
function in one process on ``--profile_pages`` of the same pages.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPO.parent / "shared" / "dev" / "extraction"
REFERENCE_TIME = "2026-01-01T00:00:00+00:00"
BARE_OPTIONS = {"deduplicate": False, "include_comments": False, "favor_precision": True}
BARE_CALL = ("trafilatura.extract(html, deduplicate=False, include_comments=False, "
             "favor_precision=True)")
INNER = "extract: trafilatura.bare_extraction"
MARK_EVERY = 2  # a marker after every second word: every 3-shingle of a copy holds its marker
# A run of letters in any script (not an entity's name, not glued to digits).
_WORD = re.compile(r"(?<![&#\w])[^\W\d_]{2,}(?![\w;])")
_TEXT_NODE = re.compile(r">([^<]+)<")


# --------------------------------------------------------------------------- the pages
def _marker(number: int) -> str:
    letters = ""
    number += 1
    while number:
        number, digit = divmod(number - 1, 26)
        letters = chr(ord("a") + digit) + letters
    return "zq" + letters


def unique_copy(html: str, number: int) -> str:
    """``html`` with copy ``number``'s marker word after every third word of the body text."""
    start = html.lower().find("<body")
    if start < 0:
        start = 0
    marker, seen = _marker(number), [0]

    def mark_word(m: re.Match) -> str:
        seen[0] += 1
        return f"{m.group(0)} {marker}" if seen[0] % MARK_EVERY == 0 else m.group(0)

    def mark_node(m: re.Match) -> str:
        return ">" + _WORD.sub(mark_word, m.group(1)) + "<"

    return html[:start] + _TEXT_NODE.sub(mark_node, html[start:])


def source_pages(source: Path) -> list[str]:
    pages = []
    for path in sorted(source.iterdir()):
        name = path.name.lower()
        if not name.endswith((".html", ".htm", ".html.gz", ".htm.gz")):
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        pages.append(data.decode("utf-8", errors="replace"))
    if not pages:
        raise SystemExit(f"no HTML pages in {source}")
    return pages


def make_corpus(pages: list[str], n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"page{i:06d}.html"
        path.write_text(unique_copy(pages[i % len(pages)], i), encoding="utf-8")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- (a) and (b)
def _bare_one(path: Path) -> bool:
    html = path.read_bytes().decode("utf-8", errors="replace")
    return trafilatura.extract(html, **BARE_OPTIONS) is not None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bare_loop(paths: list[Path]) -> tuple[float, float]:
    """(wall s, CPU s) of the bare loop in this process."""
    _bare_one(paths[0])  # warm-up: lazy imports and caches
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        _bare_one(path)
    return time.perf_counter() - started, time.process_time() - cpu


def bare_pool(paths: list[Path], workers: int = 2) -> tuple[float, float]:
    """(wall s, CPU s of this process and the pool's) of the bare loop over a Pool."""
    _bare_one(paths[0])  # the forked workers inherit the warm process
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    pool = multiprocessing.get_context("fork").Pool(workers)
    for _ in pool.imap_unordered(_bare_one, paths, chunksize=8):
        pass
    pool.close()
    pool.join()
    wall = time.perf_counter() - started
    return wall, time.process_time() - cpu + _children_cpu() - children


# --------------------------------------------------------------------------- (c) and (d)
MULTI = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def newsbeam_command(inputs: str, output: Path, extra: list[str]) -> list[str]:
    exe = Path(sys.executable).with_name("newsbeam")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pipeline.cli"]
    return [*cmd, "run", "--input", inputs, "--output", str(output),
            "--reference_time", REFERENCE_TIME, *extra]


_MEASURED = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    ".returncode\n"
    "t = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(t, u.ru_maxrss, code, u.ru_utime + u.ru_stime)\n"
)


def run_newsbeam(inputs: str, output: Path, extra: list[str]) -> dict:
    """Wall and CPU seconds, peak RSS (MB, largest process) and summary of one ``newsbeam run``.

    CPU counts the run's processes that have ended and been waited for (Beam's
    multi-processing workers included when the runner reaps them)."""
    out = subprocess.run([sys.executable, "-c", _MEASURED,
                          *newsbeam_command(inputs, output, extra)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    seconds, rss_kb, code, cpu = out.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"newsbeam run failed ({code}): {' '.join(extra)}")
    summary = json.loads((output / "summary.json").read_text())
    return {"seconds": float(seconds), "cpu": float(cpu), "rss_mb": int(rss_kb) / 1024,
            "summary": summary}


# --------------------------------------------------------------------------- per-stage profile
def stage_profile(paths: list[Path]) -> dict[str, float]:
    """CPU seconds per stage (pure functions, one process) over ``paths``."""
    import fastavro
    from apache_beam.io.filesystems import FileSystems

    import schemas
    from pipeline.sources import read_file
    from transforms.datelines import apply_datelines
    from transforms.dates import apply_dates, load_publishers
    from transforms.decode import decode_page
    from transforms.dedup import summarise
    from transforms.extract import extract_document
    from transforms.output import article_record, pipeline_version
    from transforms.records import StageError
    from transforms.topics import load_taxonomy, tag_article

    reference = datetime.fromisoformat(REFERENCE_TIME).astimezone(UTC)
    publishers, taxonomy = load_publishers(None), load_taxonomy(None)
    schema, version = schemas.parsed(schemas.ARTICLE), pipeline_version()
    ingested = int(reference.timestamp() * 1000)
    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable, *args, **kwargs):
        started = time.process_time()  # CPU time: other jobs on the machine do not inflate it
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - started

    def pages_of(path: Path):
        metadata = FileSystems.match([str(path)])[0].metadata_list[0]
        return list(read_file(metadata, 8 * 1024 * 1024))

    def one(path: Path, records: list) -> None:
        (page,) = timed("read", pages_of, path)
        doc = timed("decode", decode_page, page)
        try:
            article = timed("extract", extract_document, doc)
        except StageError:
            return
        article = timed("datelines", apply_datelines, article)
        article = timed("dates", apply_dates, article, reference, publishers)
        article = timed("topics", tag_article, article, taxonomy)
        timed("dedup signature", summarise, article)
        records.append(timed("records", article_record, article, ingested, version))

    def inner(*args, **kwargs):  # the trafilatura call inside extract, timed on its own
        return timed(INNER, bare_extraction, *args, **kwargs)

    records: list = []
    one(paths[0], [])  # warm-up (lazy imports, dateparser's first call)
    spent.clear()
    bare_extraction, trafilatura.bare_extraction = trafilatura.bare_extraction, inner
    try:
        for path in paths:
            one(path, records)
    finally:
        trafilatura.bare_extraction = bare_extraction
    buffer = io.BytesIO()
    timed("avro encode (deflate)", fastavro.writer, buffer, schema, records, "deflate")
    return spent


# --------------------------------------------------------------------------- report
def median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of HTML pages")
    ap.add_argument("--pages", type=int, default=2000, help="pages in the repeated corpus")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measure (medians shown)")
    ap.add_argument("--profile_pages", type=int, default=600,
                    help="pages (of the same corpus) for the per-stage profile; 0: none")
    ap.add_argument("--only", default="abcd", help="which of a, b, c, d to measure")
    ap.add_argument("--memory", default="",
                    help="instead: page counts (e.g. 2500,5000,10000) for peak-memory runs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)

    pages = source_pages(args.source)
    tmp = Path(tempfile.mkdtemp(prefix="newsbeam-bench-"))
    try:
        if args.memory:
            return memory_report(pages, [int(n) for n in args.memory.split(",")], tmp)
        return throughput_report(pages, args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def throughput_report(pages: list[str], args, tmp: Path) -> int:
    n = args.pages
    print(f"corpus: {len(pages)} HTML pages of {args.source}, repeated to {n} unique copies "
          f"(marker word every {MARK_EVERY} words) in {tmp}")
    paths = make_corpus(pages, n, tmp / "pages")
    make_corpus(pages[:1], 1, tmp / "one")
    inputs, one_input = str(tmp / "pages" / "*.html"), str(tmp / "one" / "*.html")
    seconds: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "d", "c1", "d1", "seeds")}
    cpu: dict[str, list[float]] = {k: [] for k in seconds}
    summaries: dict[str, dict] = {}

    def note(key: str, wall: float, cpu_s: float) -> None:
        seconds[key].append(wall)
        cpu[key].append(cpu_s)

    for run in range(1, args.runs + 1):
        if "a" in args.only:
            note("a", *bare_loop(paths))
        if "b" in args.only:
            note("b", *bare_pool(paths))
        for key, extra in (("c", []), ("d", MULTI)):
            if key not in args.only:
                continue
            result = run_newsbeam(inputs, tmp / f"out_{key}", extra)
            note(key, result["seconds"], result["cpu"])
            summaries[key] = result["summary"]
            result = run_newsbeam(one_input, tmp / f"out_{key}1", extra)
            note(key + "1", result["seconds"], result["cpu"])
        result = run_newsbeam(str(REPO / "seeds" / "*"), tmp / "out_seeds", [])
        note("seeds", result["seconds"], result["cpu"])
        print(f"run {run}: " + ", ".join(f"{k} {v[-1]:.1f} s (cpu {cpu[k][-1]:.1f})"
                                         for k, v in seconds.items() if v), flush=True)

    med = {k: median(v) for k, v in seconds.items() if v}
    med_cpu = {k: median(v) for k, v in cpu.items() if v}
    rate = {k: n / med[k] for k in "abcd" if k in med}
    print(f"\n(a) runs: {BARE_CALL}")
    print(f"medians of {args.runs} runs, {n} pages (2 cores; other jobs may share them: "
          "CPU-seconds per page is the figure that contention does not move)")
    labels = {"a": "(a) bare trafilatura, 1 process", "b": "(b) bare trafilatura, Pool(2)",
              "c": "(c) newsbeam run, 1 worker", "d": "(d) newsbeam run, 2 workers (multi_processing)"}
    for key, label in labels.items():
        if key in rate:
            print(f"  {label:48s} {rate[key]:6.1f} pages/s  ({med[key]:6.1f} s wall, "
                  f"{1000 * med_cpu[key] / n:5.1f} CPU-ms/page)")
    for key in "cd":
        if key in summaries:
            s = summaries[key]
            print(f"  ({key}) summary: {s['pages_read']} read, {s['articles_written']} articles, "
                  f"{s['syndicated_copies']} syndicated copies, {s['dead_letters']} dead letters "
                  f"{s['dead_letters_by_reason']}")
    for key, base, target in (("c", "a", 0.8), ("d", "b", 0.9)):
        if key in rate and base in rate:
            print(f"  {key}/{base} = {rate[key] / rate[base]:.2f} pages/s (target >= {target}); "
                  f"per CPU-second {med_cpu[base] / med_cpu[key]:.2f}")
    for key in "cd":
        if key in med:
            per_page = (med[key] - med[key + "1"]) / (n - 1)
            per_cpu = (med_cpu[key] - med_cpu[key + "1"]) / (n - 1)
            line = (f"  ({key}) start-up {med[key + '1']:.1f} s wall, {med_cpu[key + '1']:.1f} "
                    f"CPU-s (a run on 1 page); then {1000 * per_page:.1f} ms/page wall "
                    f"({1 / per_page:.1f} pages/s), {1000 * per_cpu:.1f} CPU-ms/page")
            base = "a" if key == "c" else "b"
            if base in rate:
                line += f"; pages/s vs ({base}) without start-up: {(1 / per_page) / rate[base]:.2f}"
            print(line)
    if "seeds" in med:
        print(f"  newsbeam run on the seeds: {med['seeds']:.1f} s wall, {med_cpu['seeds']:.1f} CPU-s")

    if args.profile_pages:
        sample = paths[: args.profile_pages]
        spent = stage_profile(sample)
        inner = spent.pop(INNER, 0.0)
        total = sum(spent.values())
        print(f"\nper-stage profile: pure functions, one process, CPU time, {len(sample)} of the "
              f"pages ({1000 * total / len(sample):.1f} CPU-ms/page)")
        for name, value in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"  {name:28s} {1000 * value / len(sample):7.2f} ms/page  {100 * value / total:5.1f} %")
            if name == "extract":
                print(f"    of which trafilatura.bare_extraction (fast, then full below 1000 chars) "
                      f"{1000 * inner / len(sample):.2f} ms/page; the rest is our cleanup and "
                      "py3langid")
        if "c" in med:
            per_page = (med_cpu["c"] - med_cpu["c1"]) / (n - 1)
            overhead = per_page - total / len(sample)
            print(f"  Beam overhead = (c) CPU-ms per page after start-up - sum: "
                  f"{1000 * overhead:.1f} ms/page ({100 * overhead / per_page:.0f} % of (c))")
    return 0


def memory_report(pages: list[str], counts: list[int], tmp: Path) -> int:
    paths = make_corpus(pages, max(counts), tmp / "pages")
    print(f"peak RSS of `newsbeam run` (one worker), pages of {len(pages)} originals, unique copies")
    rows = []
    for n in counts:
        folder = tmp / f"in{n}"
        folder.mkdir()
        for path in paths[:n]:
            os.link(path, folder / path.name)
        result = run_newsbeam(str(folder / "*.html"), tmp / f"out{n}", [])
        rows.append((n, result))
        s = result["summary"]
        print(f"  {n:6d} pages: peak RSS {result['rss_mb']:7.0f} MB, {result['seconds']:.0f} s, "
              f"{s['articles_written']} articles, {s['syndicated_copies']} copies", flush=True)
    if len(rows) > 1:
        (n0, r0), (n1, r1) = rows[0], rows[-1]
        slope = (r1["rss_mb"] - r0["rss_mb"]) / (n1 - n0) * 1024
        print(f"  growth {n0} -> {n1} pages: {slope:.1f} KB per page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
