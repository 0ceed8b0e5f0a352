"""WARC benchmark: pages per second from a crawl archive against the same pages as files.

    .venv/bin/python -m tests.benchmarks.warc [--source DIR] [--copies 4] [--runs 3] [--memory_mb 256]

Pages: every HTML page of ``--source`` (default ``../shared/dev/extraction``),
``--copies`` times, each copy made unique as the throughput benchmark does (so
copies are not syndicated copies of each other), with its manifest URL
(``?copy=N`` added) and a fixed fetch time. The same pages are written three ways
in one temporary folder: one ``.warc.gz`` (one gzip member per record, as
crawlers write; every third response chunked and gzip-encoded, every fourth
preceded by its request record), one ``.html`` file per page, and one JSON Lines
file with url and fetched_at.

Measured in one run, alternating archive and files ``--runs`` times (medians):
  (a) reading alone, in this process: every page of the archive through
      ``read_archive`` (warcio, HTTP decoding, range syncing) against every file
      through ``read_file``; pages per CPU second;
  (b) ``newsbeam run`` end to end on the archive against the ``.html`` files
      (one worker; wall and CPU seconds, start-up included);
  (c) equality: the archive's articles against the JSON lines' (same pages, same
      url and fetched_at): text, title, url, fetched_at and published of each
      page, counted on the tune and held parts of the dev set;
  (d) memory: peak RSS of reading a ``--memory_mb`` archive (the same records
      repeated) against a 1/16 as large one, each in a fresh process;
  (e) splitting: ``ReadPages`` on the archive with two local worker processes
      (``multi_processing``): which worker read the pages of each byte range.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apache_beam.io.filesystem import FileMetadata

from pipeline import warc
from pipeline.sources import read_file
from tests.benchmarks.split import HELD, PARTS, part
from tests.benchmarks.throughput import REPO, run_newsbeam, unique_copy
from tests.warc_archives import Spec, html_response, write_archive

DEFAULT_SOURCE = REPO.parent / "shared" / "dev" / "extraction"
FETCHED_AT = "2026-11-20T08:30:00Z"
MAX_PAGE_BYTES = 8 * 1024 * 1024
COMPARED = ("text", "title", "url", "fetched_at", "published")


def dev_pages(source: Path) -> list[dict]:
    """The dev set's pages: id, url and HTML."""
    pages = []
    for line in (source / "manifest.jsonl").read_text().splitlines():
        item = json.loads(line)
        html = gzip.decompress((source / item["html"]).read_bytes()).decode("utf-8")
        pages.append({"id": item["id"], "url": item["url"], "html": html})
    return pages


def make_inputs(pages: list[dict], copies: int, folder: Path) -> list[dict]:
    """The archive, the files and the JSON lines of every copy; returns the copies."""
    made = []
    for copy in range(copies):
        for page in pages:
            sep = "&" if "?" in page["url"] else "?"
            made.append({**page, "url": f"{page['url']}{sep}copy={copy}",
                         "html": unique_copy(page["html"], len(made))})
    specs: list[Spec] = []
    for number, page in enumerate(made):
        if number % 4 == 0:
            specs.append(Spec("request", page["url"]))
        specs.append(html_response(page["url"], page["html"].encode("utf-8"), date=FETCHED_AT,
                                   chunked=number % 3 == 0, gzipped=number % 3 == 0))
    for name in ("crawl", "files", "lines"):
        (folder / name).mkdir()
    with open(folder / "crawl" / "pages.warc.gz", "wb") as out:
        offsets = write_archive(out, specs)
    archive = str(folder / "crawl" / "pages.warc.gz")
    # Where a dead letter (which has no url) of either run came from.
    pages_at = {warc.source_of(archive, at): spec.url
                for at, spec in zip(offsets, specs, strict=True) if spec.kind == "response"}
    for number, page in enumerate(made):
        (folder / "files" / f"{number:05d}.html").write_text(page["html"], encoding="utf-8")
    with open(folder / "lines" / "pages.jsonl", "w", encoding="utf-8") as out:
        for page in made:
            out.write(json.dumps({"url": page["url"], "html": page["html"],
                                  "fetched_at": FETCHED_AT}) + "\n")
    lines = str(folder / "lines" / "pages.jsonl")
    pages_at.update({f"{lines}:{n}": page["url"] for n, page in enumerate(made, start=1)})
    return made, pages_at


def metadata_of(path: Path) -> FileMetadata:
    stat = path.stat()
    return FileMetadata(str(path), stat.st_size, last_updated_in_seconds=stat.st_mtime)


def read_archive_cpu(archive: Path) -> tuple[int, float]:
    """Pages read from the archive in ranges, and the CPU seconds it took."""
    started = time.process_time()
    pages = 0
    for rng in warc.split_archives(metadata_of(archive)):
        pages += sum(1 for _ in warc.read_archive(rng, MAX_PAGE_BYTES))
    return pages, time.process_time() - started


def read_files_cpu(paths: list[Path]) -> tuple[int, float]:
    started = time.process_time()
    pages = sum(sum(1 for _ in read_file(metadata_of(p), MAX_PAGE_BYTES)) for p in paths)
    return pages, time.process_time() - started


def equality(folder: Path, made: list[dict], pages_at: dict[str, str]) -> dict[str, list[int]]:
    """Per part: [pages that came out alike, pages compared]. Alike: the compared fields of an
    article (or copy) are equal, or both runs made it a dead letter with the same reason."""
    run_newsbeam(str(folder / "crawl" / "*.warc.gz"), folder / "out_warc", [])
    run_newsbeam(str(folder / "lines" / "*.jsonl"), folder / "out_lines", [])
    from tests.support import read_records

    def by_url(output: Path) -> dict[str, dict]:
        records = read_records(output, "articles") + read_records(output, "copies")
        found = {r["url"]: {k: r[k] for k in COMPARED} for r in records}
        for dead in read_records(output, "dead_letters"):
            found[pages_at[dead["source"]]] = {"dead_letter": dead["reason"]}
        return found

    archive, lines = by_url(folder / "out_warc"), by_url(folder / "out_lines")
    counts = {name: [0, 0] for name in PARTS}
    for page in made:
        got, want = archive.get(page["url"]), lines.get(page["url"])
        counts[part(page["id"])][1] += 1
        if got is not None and got == want:
            counts[part(page["id"])][0] += 1
    return counts


_MEMORY = (
    "import resource, sys\n"
    "from pipeline import warc\n"
    "from tests.benchmarks.warc import metadata_of, MAX_PAGE_BYTES\n"
    "from pathlib import Path\n"
    "n = sum(1 for r in warc.split_archives(metadata_of(Path(sys.argv[1])))"
    " for _ in warc.read_archive(r, MAX_PAGE_BYTES))\n"
    "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def peak_rss(archive: Path) -> tuple[int, float]:
    """Pages and peak RSS (MB) of reading ``archive`` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _MEMORY, str(archive)], capture_output=True,
                         text=True, check=True, cwd=REPO)
    pages, rss_kb = out.stdout.split()
    return int(pages), int(rss_kb) / 1024


def repeated_archive(source: Path, target: Path, megabytes: float) -> None:
    """``source``'s records (one gzip member each) repeated to about ``megabytes``."""
    data = source.read_bytes()
    with open(target, "wb") as out:
        for _ in range(max(1, int(megabytes * 1024 * 1024 / len(data)))):
            out.write(data)


def workers_per_range(archive: Path, folder: Path) -> dict[int, dict[int, int]]:
    """{range number: {worker pid: pages}} of reading ``archive`` on two worker processes."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.sources import ReadPages

    def worker_and_range(page) -> str:
        import os

        offset = int(page.source.rsplit(":", 1)[1])
        return f"{offset // warc.RANGE_BYTES} {os.getpid()}"

    out = folder / "workers" / "part"
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    with beam.Pipeline(options=options) as pipeline:
        (pipeline
         | ReadPages([str(archive)], MAX_PAGE_BYTES)
         | beam.Map(worker_and_range)
         | beam.io.WriteToText(str(out)))
    found: dict[int, dict[int, int]] = {}
    for path in out.parent.glob("part*"):
        for line in path.read_text().splitlines():
            number, pid = map(int, line.split())
            found.setdefault(number, {}).setdefault(pid, 0)
            found[number][pid] += 1
    return dict(sorted(found.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory_mb", type=float, default=256)
    args = parser.parse_args(argv)
    pages = dev_pages(args.source)
    held = sum(part(p["id"]) == HELD for p in pages)
    with tempfile.TemporaryDirectory(prefix="newsbeam-warc-") as tmp:
        folder = Path(tmp)
        made, pages_at = make_inputs(pages, args.copies, folder)
        archive = folder / "crawl" / "pages.warc.gz"
        files = sorted((folder / "files").glob("*.html"))
        size_mb = archive.stat().st_size / 2**20
        files_mb = sum(p.stat().st_size for p in files) / 2**20
        print(f"{len(made)} pages ({len(pages)} dev pages x {args.copies}, {held} held): "
              f"archive {size_mb:.1f} MB gzipped, files {files_mb:.1f} MB")

        read_a, read_f, run_a, run_f = [], [], [], []
        for _ in range(args.runs):
            n, cpu = read_archive_cpu(archive)
            assert n == len(made), (n, len(made))
            read_a.append(n / cpu)
            n, cpu = read_files_cpu(files)
            read_f.append(n / cpu)
        print(f"(a) reading alone, pages per CPU second (median of {args.runs}): "
              f"archive {statistics.median(read_a):,.0f}, files {statistics.median(read_f):,.0f}")

        for number in range(args.runs):
            run_a.append(run_newsbeam(str(archive), folder / f"out_a{number}", []))
            run_f.append(run_newsbeam(str(folder / "files" / "*.html"), folder / f"out_f{number}", []))
        for name, runs in (("archive", run_a), ("files", run_f)):
            wall = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            read = runs[0]["summary"]["pages_read"]
            print(f"(b) newsbeam run on the {name}: {read} pages read, wall {wall:.1f} s "
                  f"({read / wall:.1f} pages/s), CPU {cpu:.1f} s ({read / cpu:.1f} pages/CPU s)")
        ratio = statistics.median(r["cpu"] for r in run_a) / statistics.median(
            r["cpu"] for r in run_f)
        print(f"    archive / files CPU: {ratio:.3f}")

        counts = equality(folder, made, pages_at)
        print("(c) equal text, title, url, fetched_at, published (archive vs JSON lines): "
              + ", ".join(f"{name} {ok}/{n}" for name, (ok, n) in counts.items()))

        small, big = folder / "small.warc.gz", folder / "big.warc.gz"
        repeated_archive(archive, small, args.memory_mb / 16)
        repeated_archive(archive, big, args.memory_mb)
        (n_small, rss_small), (n_big, rss_big) = peak_rss(small), peak_rss(big)
        print(f"(d) peak RSS reading {small.stat().st_size / 2**20:.0f} MB ({n_small} pages): "
              f"{rss_small:.0f} MB; {big.stat().st_size / 2**20:.0f} MB ({n_big} pages): "
              f"{rss_big:.0f} MB")

        spread = workers_per_range(archive, folder)
        pids = sorted({pid for by_pid in spread.values() for pid in by_pid})
        print(f"(e) {len(spread)} ranges of {warc.RANGE_BYTES >> 20} MB on {len(pids)} workers: "
              + "; ".join(f"range {n}: " + ", ".join(f"worker {pids.index(pid) + 1} {count} pages"
                                                      for pid, count in by_pid.items())
                          for n, by_pid in spread.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
