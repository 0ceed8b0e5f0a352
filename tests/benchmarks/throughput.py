"""Throughput benchmark: the whole pipeline against bare trafilatura on the same pages and cores.

    .venv/bin/python -m tests.benchmarks.throughput [--source DIR] [--pages 5000] [--runs 1]
    .venv/bin/python -m tests.benchmarks.throughput --memory 2000,20000,50000

Pages (a realistic workload): every HTML page of ``--source`` (default
``../shared/dev/extraction``) is copied to ``--pages`` files in a temporary folder,
each copy made a distinct story by its own letter substitution (a permutation of
the Latin, Cyrillic and kana letters, a shift of the Hangul and Han ones) applied
to the text nodes only: tags, attributes, scripts, styles, digits and English
month and weekday names are kept, so trafilatura and the date finder do the same
work as on the page itself, and two copies share no word. About ``--copies``
(20%) of the pages are planted syndicated copies: an earlier copy's page cut
short (its body's paragraphs after 40-70% of their text emptied) under the
same substitution, as a site that republishes the first part of a wire story.
The run must find them: the report gives found/planted (a planted copy is found
when it ends in its original's story).

Measured, each ``--runs`` times (medians printed), wall clock and CPU time:
  (a) a bare loop of ``trafilatura.extract`` in this process (file read and
      UTF-8 decode included, imports and a warm-up page excluded);
  (b) the same loop over ``multiprocessing.Pool(2)`` (pool start-up included);
  (c) ``newsbeam run`` as a subprocess, one worker (wall clock, start-up included);
  (d) ``newsbeam run --direct_num_workers=2 --direct_running_mode=multi_processing``.
Start-up is the wall clock of the same command on one page. The load average is
printed with each measure: the machine may be shared, and CPU time is the figure
contention moves least. The per-stage profile times each stage's pure function in
one process on ``--profile_pages`` of the same pages.

``--memory`` runs (d) at each page count, sampling the resident memory of the
run's processes (the runner and its workers) every 0.2 s: the peak of their sum,
the peak of each, and the growth per page; resident (RSS) and proportional (PSS, a page
shared by several processes counted once: the workers forked from the worker server
share its pages) sizes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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
COPY_SHARE = 0.2
# A planted copy keeps this share of its original's body text (drawn per copy).
KEEP_SHARE = (0.4, 0.7)
# Pages with less body text than this are not used as originals of planted copies:
# a cut-down copy of a 200-character page is not a story.
MIN_ORIGINAL_TEXT = 2000
# Text nodes at least this long are paragraphs of the story; shorter ones are mostly
# menus, links and captions, which would otherwise decide where a page is cut.
PARAGRAPH_CHARS = 60
_PROTECTED = re.compile(r"(?is)<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->")
_TEXT_NODE = re.compile(r">([^<]+)<")
# Kept as they are, so the date finder reads a copy's dates as it reads the page's.
_DATE_WORDS = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
    r"|\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day)?\b"
    r"|\b(?:am|pm|gmt|utc|edt|est|kst|jst|bst|cet|pst|pdt)\b",
    re.IGNORECASE,
)
# Alphabets shifted per copy (start, size): Cyrillic upper and lower, Hangul syllables,
# hiragana, katakana, Han.
_BLOCKS = ((0x410, 32), (0x430, 32), (0xAC00, 11172), (0x3041, 86), (0x30A1, 90),
           (0x4E00, 20992))
_NON_LATIN = re.compile("[" + "".join(f"{chr(a)}-{chr(a + n - 1)}" for a, n in _BLOCKS) + "]")


# --------------------------------------------------------------------------- the pages
class Cipher:
    """One copy's letter substitution (seeded by the copy's number)."""

    def __init__(self, number: int):
        rng = random.Random(number)
        lower = list("abcdefghijklmnopqrstuvwxyz")
        shuffled = lower[:]
        rng.shuffle(shuffled)
        table = {ord(a): b for a, b in zip(lower, shuffled, strict=True)}
        table.update({ord(a.upper()): b.upper() for a, b in zip(lower, shuffled, strict=True)})
        # Small alphabets are permuted too: a shift of 32 Cyrillic letters gives two of a
        # page's 80 copies the same text one time in 31 (they were then found as copies).
        cyrillic = [chr(c) for c in range(0x430, 0x450)]
        order = cyrillic[:]
        rng.shuffle(order)
        for a, b in zip(cyrillic, order, strict=True):
            table[ord(a)], table[ord(a.upper())] = b, b.upper()
        for start, size in ((0x3041, 86), (0x30A1, 90)):  # hiragana, katakana
            kana = [chr(c) for c in range(start, start + size)]
            order = kana[:]
            rng.shuffle(order)
            table.update({ord(a): b for a, b in zip(kana, order, strict=True)})
        self._table = table
        # Hangul syllables and Han: a shift among 11,172 and 20,992 places.
        self._shift = [(start, size, rng.randrange(1, size)) for start, size in _BLOCKS[2:3]
                       + _BLOCKS[5:]]

    def _other(self, m: re.Match) -> str:
        code = ord(m.group(0))
        for start, size, shift in self._shift:
            if start <= code < start + size:
                return chr(start + (code - start + shift) % size)
        return m.group(0)

    def piece(self, text: str, ascii_only: bool) -> str:
        text = text.translate(self._table)
        return text if ascii_only else _NON_LATIN.sub(self._other, text)


class Template:
    """A page split once into kept markup and the text nodes a cipher rewrites."""

    def __init__(self, html: str):
        body = _body_start(html)
        # ("markup", text) or ("node", in body?, paragraph size, [(piece, ascii?) or
        # (date word, None)]); walked once, rendered for every copy.
        self.items: list[tuple] = []
        self.paragraph_text = 0
        at = [0]

        def node(text: str) -> None:
            pieces = _pieces(text)
            size = len(text.strip())
            in_body = at[0] >= body
            if in_body and size >= PARAGRAPH_CHARS:
                self.paragraph_text += size
            self.items.append(("node", in_body, size, len(text), pieces))
            at[0] += len(text)

        def markup(text: str) -> None:
            self.items.append(("markup", text))
            at[0] += len(text)

        _walk(html, node, markup)

    def render(self, cipher: Cipher | None, keep: float | None = None) -> str:
        """The page under ``cipher`` (None: as it is); with ``keep``, its body's
        paragraphs emptied after that share of their text."""
        budget = None if keep is None else keep * self.paragraph_text
        out = []
        for item in self.items:
            if item[0] == "markup":
                out.append(item[1])
                continue
            _, in_body, size, length, pieces = item
            text = "".join(p if flag is None or cipher is None else cipher.piece(p, flag)
                           for p, flag in pieces)
            if budget is not None and in_body and size >= PARAGRAPH_CHARS:
                # The site's menus and links (short nodes) stay, as on a republisher's page.
                if budget <= 0:
                    text = " "
                else:
                    budget -= size
                    if budget < 0:
                        text = text[: max(0, length + int(budget))]  # cut in this paragraph
            out.append(text)
        return "".join(out)


def _pieces(text: str) -> list[tuple[str, bool | None]]:
    """``text`` as pieces a cipher rewrites ((piece, ascii?)) and date words it keeps."""
    pieces, last = [], 0
    for m in _DATE_WORDS.finditer(text):
        pieces.append((text[last:m.start()], text[last:m.start()].isascii()))
        pieces.append((m.group(0), None))
        last = m.end()
    pieces.append((text[last:], text[last:].isascii()))
    return pieces


class TextTemplate:
    """A plain-text capture split once into lines, for the ``--kind text`` workload."""

    def __init__(self, text: str):
        self.lines = [(len(line.strip()), _pieces(line)) for line in text.split("\n")]
        self.paragraph_text = sum(size for size, _ in self.lines if size >= PARAGRAPH_CHARS)

    def render(self, cipher: Cipher, keep: float | None = None) -> str:
        budget = None if keep is None else keep * self.paragraph_text
        out = []
        for size, pieces in self.lines:
            if budget is not None and budget <= 0:
                break  # the capture ends at the cut
            if budget is not None and size >= PARAGRAPH_CHARS:
                budget -= size
            out.append("".join(p if flag is None else cipher.piece(p, flag)
                               for p, flag in pieces))
        return "\n".join(out)


def _walk(html: str, node: Callable[[str], str], markup: Callable[[str], None]) -> None:
    """Call ``markup`` on everything but text nodes and ``node`` on these, in page order."""
    last = 0
    for m in _PROTECTED.finditer(html):
        _walk_nodes(html[last:m.start()], node, markup)
        markup(m.group(0))
        last = m.end()
    _walk_nodes(html[last:], node, markup)


def _walk_nodes(html: str, node: Callable[[str], str], markup: Callable[[str], None]) -> None:
    last = 0
    for m in _TEXT_NODE.finditer(html):
        markup(html[last:m.start(1)])
        node(m.group(1))
        last = m.end(1)
    markup(html[last:])


def _body_start(html: str) -> int:
    start = html.lower().find("<body")
    return max(start, 0)


def distinct_copy(html: str | Template, number: int) -> str:
    """``html`` as a distinct story: copy ``number``'s substitution in every text node."""
    template = html if isinstance(html, Template) else Template(html)
    return template.render(Cipher(number))


def body_text_size(html: str) -> int:
    """Characters of the body's paragraph-long text nodes."""
    return Template(html).paragraph_text


def cut_short(html: str, keep: float) -> str:
    """``html`` with its body's paragraphs emptied after ``keep`` of their text."""
    return Template(html).render(None, keep)


def source_pages(source: Path, kind: str = "html") -> list[str]:
    pages = []
    for path in sorted(source.iterdir()):
        name = path.name.lower()
        if kind == "text":
            if not name.endswith(".txt") or name.endswith(".truth.txt"):
                continue
        elif kind == "truth":
            if not name.endswith(".truth.txt"):
                continue
        elif not name.endswith((".html", ".htm", ".html.gz", ".htm.gz")):
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        pages.append(data.decode("utf-8", errors="replace"))
    if not pages:
        raise SystemExit(f"no {kind} pages in {source}")
    return pages


def make_corpus(pages: list[str], n: int, folder: Path, copy_share: float = COPY_SHARE,
                kind: str = "html") -> tuple[list[Path], dict[str, str]]:
    """``n`` pages in ``folder``: distinct stories, and about ``copy_share`` planted copies.

    Returns the paths and the planted copies (copy's file name -> original's file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261201)
    templates = [Template(p) if kind == "html" else TextTemplate(p) for p in pages]
    suffix = ".html" if kind == "html" else ".txt"
    long_enough = [t.paragraph_text >= MIN_ORIGINAL_TEXT for t in templates]
    every = round(1 / copy_share) if copy_share else 0
    paths: list[Path] = []
    planted: dict[str, str] = {}
    originals: list[int] = []  # numbers of earlier copies that may be cut down
    for i in range(n):
        path = folder / f"page{i:06d}{suffix}"
        if every and i % every == every - 1 and originals:
            j = originals[rng.randrange(len(originals))]
            keep = rng.uniform(*KEEP_SHARE)
            html = templates[j % len(pages)].render(Cipher(j), keep)
            planted[path.name] = f"page{j:06d}{suffix}"
        else:
            html = templates[i % len(pages)].render(Cipher(i))
            if long_enough[i % len(pages)]:
                originals.append(i)
        path.write_text(html, encoding="utf-8")
        paths.append(path)
    return paths, planted


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


def _pss(pid: int) -> int | None:
    """Proportional set size: each shared page counted once over the processes sharing it
    (the workers forked from newsbeam's worker server share its pages); None if unknown."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _tree_rss(proc) -> dict[int, tuple[int, int]]:
    """(resident, proportional) bytes of ``proc`` and its descendants, by pid."""
    import psutil

    out = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        pss = _pss(p.pid)
        out[p.pid] = (rss, rss if pss is None else pss)
    return out


def _role(process) -> str:
    """worker (Beam's stock worker, or one forked by newsbeam's worker server), server (that
    server: its pages are shared with the workers it forks) or main."""
    from tests.support import is_sdk_worker

    if is_sdk_worker(process):
        return "worker"
    return "server" if "pipeline.worker_fork" in " ".join(process.cmdline()) else "main"


def run_newsbeam(inputs: str, output: Path, extra: list[str], sample: bool = False) -> dict:
    """Wall and CPU seconds, peak memory and summary of one ``newsbeam run``.

    CPU counts the run's processes that have ended and been waited for (Beam's
    multi-processing workers included). Memory: ``rss_mb`` is the largest peak of
    one process (getrusage); with ``sample``, the run's process tree is sampled
    every 0.2 s for the peak of the sum and each process's peak."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(newsbeam_command(inputs, output, extra), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    names: dict[int, str] = {}
    peak_sum = [0, 0]  # resident, proportional

    def sampler() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = _tree_rss(root)
            except psutil.Error:
                break
            for pid, (value, _) in rss.items():
                peaks[pid] = max(peaks.get(pid, 0), value)
                if pid not in names:
                    try:
                        names[pid] = _role(psutil.Process(pid))
                    except psutil.Error:
                        names[pid] = "?"
            peak_sum[0] = max(peak_sum[0], sum(r for r, _ in rss.values()))
            peak_sum[1] = max(peak_sum[1], sum(p for _, p in rss.values()))
            time.sleep(0.2)

    thread = threading.Thread(target=sampler, daemon=True)
    if sample:
        thread.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    if sample:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"newsbeam run failed ({proc.returncode}): {' '.join(extra)}\n"
                         f"{err.decode(errors='replace')[-2000:]}")
    summary = json.loads((output / "summary.json").read_text())
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"seconds": seconds, "cpu": cpu, "rss_mb": after.ru_maxrss / 1024,
            "summary": summary, "peak_sum_mb": peak_sum[0] / 2**20,
            "peak_pss_mb": peak_sum[1] / 2**20,
            "peaks_mb": sorted(((names.get(pid, "?"), v / 2**20) for pid, v in peaks.items()),
                               key=lambda x: -x[1])}


def found_copies(output: Path, planted: dict[str, str]) -> tuple[int, int, int]:
    """(planted copies found, planted, other pages written as copies) in a run's output."""
    import fastavro

    id_of: dict[str, str] = {}
    canonical: dict[str, str] = {}
    for kind in ("articles", "copies"):
        for path in sorted((output / kind).glob("*.avro")):
            with open(path, "rb") as handle:
                for record in fastavro.reader(handle):
                    name = Path(record["source"]).name
                    id_of[name] = record["id"]
                    synd = record.get("syndicated_from")
                    canonical[name] = synd["canonical_id"] if synd else record["id"]
    # Found: the copy ends in its original's story. (Where cutting the page did not
    # shorten what extraction finds, the two texts are equal and either may be canonical.)
    found = sum(1 for copy, original in planted.items()
                if copy in canonical and original in canonical
                and canonical[copy] == canonical[original])
    # Other pages written as copies, not counting an original placed under its own
    # planted copy (the same story, with the copy ranked first: equal texts, or dates
    # read differently on the cut page).
    originals = set(planted.values())
    others = sum(1 for name, c in canonical.items()
                 if c != id_of[name] and name not in planted and name not in originals)
    return found, len(planted), others


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


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
    ap.add_argument("--pages", type=int, default=5000, help="pages in the corpus")
    ap.add_argument("--copies", type=float, default=COPY_SHARE,
                    help="share of the pages that are planted truncated copies")
    ap.add_argument("--runs", type=int, default=1, help="runs of each measure (medians shown)")
    ap.add_argument("--profile_pages", type=int, default=600,
                    help="pages (of the same corpus) for the per-stage profile; 0: none")
    ap.add_argument("--only", default="abcd", help="which of a, b, c, d to measure")
    ap.add_argument("--memory", default="",
                    help="instead: page counts (e.g. 2000,20000,50000) for peak-memory runs")
    ap.add_argument("--kind", choices=("html", "text", "truth"), default="html",
                    help="--memory only: HTML pages, the plain-text captures of --source, or "
                         "its main texts (*.truth.txt) as text pages: the same articles at a "
                         "fraction of the extraction cost, for runs of 50,000 pages on a "
                         "loaded machine")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)

    pages = source_pages(args.source, args.kind if args.memory else "html")
    tmp = Path(tempfile.mkdtemp(prefix="newsbeam-bench-"))
    try:
        if args.memory:
            return memory_report(pages, [int(n) for n in args.memory.split(",")], tmp, args)
        return throughput_report(pages, args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def throughput_report(pages: list[str], args, tmp: Path) -> int:
    n = args.pages
    paths, planted = make_corpus(pages, n, tmp / "pages", args.copies)
    make_corpus(pages[:1], 1, tmp / "one")
    print(f"corpus: {len(pages)} HTML pages of {args.source} made into {n} distinct stories "
          f"(letter substitution per copy), of which {len(planted)} planted truncated copies; "
          f"{os.cpu_count()} cores, {load()}", flush=True)
    inputs, one_input = str(tmp / "pages" / "*.html"), str(tmp / "one" / "*.html")
    seconds: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "d", "c1", "d1")}
    cpu: dict[str, list[float]] = {k: [] for k in seconds}
    loads: dict[str, list[str]] = {k: [] for k in seconds}
    summaries: dict[str, dict] = {}
    found: dict[str, tuple[int, int, int]] = {}

    def note(key: str, wall: float, cpu_s: float) -> None:
        seconds[key].append(wall)
        cpu[key].append(cpu_s)
        loads[key].append(load())

    for run in range(1, args.runs + 1):
        if "a" in args.only:
            note("a", *bare_loop(paths))
        if "b" in args.only:
            note("b", *bare_pool(paths))
        for key, extra in (("c", []), ("d", MULTI)):
            if key not in args.only:
                continue
            out = tmp / f"out_{key}{run}"
            result = run_newsbeam(inputs, out, extra)
            note(key, result["seconds"], result["cpu"])
            summaries[key] = result["summary"]
            found[key] = found_copies(out, planted)
            shutil.rmtree(out, ignore_errors=True)
            result = run_newsbeam(one_input, tmp / f"out_{key}1_{run}", extra)
            note(key + "1", result["seconds"], result["cpu"])
        print(f"run {run}: " + ", ".join(f"{k} {v[-1]:.1f} s (cpu {cpu[k][-1]:.1f}, {loads[k][-1]})"
                                         for k, v in seconds.items() if v), flush=True)

    med = {k: median(v) for k, v in seconds.items() if v}
    med_cpu = {k: median(v) for k, v in cpu.items() if v}
    rate = {k: n / med[k] for k in "abcd" if k in med}
    print(f"\n(a) runs: {BARE_CALL}")
    print(f"medians of {args.runs} run(s), {n} pages, {os.cpu_count()} cores shared with other "
          "jobs: wall-clock ratios are taken within one run; CPU time is what contention moves "
          "least")
    labels = {"a": "(a) bare trafilatura, 1 process", "b": "(b) bare trafilatura, Pool(2)",
              "c": "(c) newsbeam run, 1 worker", "d": "(d) newsbeam run, 2 workers (multi_processing)"}
    for key, label in labels.items():
        if key in rate:
            print(f"  {label:48s} {rate[key]:6.1f} pages/s  ({med[key]:6.1f} s wall, "
                  f"{med_cpu[key]:6.1f} CPU-s, {1000 * med_cpu[key] / n:5.1f} CPU-ms/page; "
                  f"{loads[key][-1]})")
    for key in "cd":
        if key in summaries:
            s = summaries[key]
            f, p, other = found[key]
            print(f"  ({key}) summary: {s['pages_read']} read, {s['articles_written']} articles, "
                  f"{s['syndicated_copies']} syndicated copies, {s['dead_letters']} dead letters "
                  f"{s['dead_letters_by_reason']}; planted copies found {f}/{p}, "
                  f"other pages called copies {other}")
    for key, base, target in (("c", "a", 0.85), ("d", "b", 0.9)):
        if key in rate and base in rate:
            print(f"  {key}/{base} = {rate[key] / rate[base]:.2f} wall-clock pages/s (target >= "
                  f"{target}); {med_cpu[base] / med_cpu[key]:.2f} per CPU-second")
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
    return 0


def memory_report(pages: list[str], counts: list[int], tmp: Path, args) -> int:
    paths, planted = make_corpus(pages, max(counts), tmp / "pages", args.copies, args.kind)
    print(f"peak memory of `newsbeam run` with 2 workers (multi_processing), {len(pages)} "
          f"{args.kind} pages made into distinct stories, {100 * args.copies:.0f}% planted "
          f"copies; {load()}", flush=True)
    rows = []
    for n in counts:
        folder = tmp / f"in{n}"
        folder.mkdir()
        for path in paths[:n]:
            os.link(path, folder / path.name)
        out = tmp / f"out{n}"
        result = run_newsbeam(str(folder / "*"), out, MULTI, sample=True)
        mine = {k: v for k, v in planted.items() if int(k[4:10]) < n}
        f, p, other = found_copies(out, mine)
        shutil.rmtree(out, ignore_errors=True)
        rows.append((n, result))
        s = result["summary"]
        procs = ", ".join(f"{name} {mb:.0f}" for name, mb in result["peaks_mb"])
        print(f"  {n:6d} pages: peak RSS of the process tree {result['peak_sum_mb']:6.0f} MB, "
              f"PSS {result['peak_pss_mb']:6.0f} MB "
              f"(per process: {procs} MB; getrusage max {result['rss_mb']:.0f} MB), "
              f"{result['seconds']:.0f} s wall, {result['cpu']:.0f} CPU-s, "
              f"{s['articles_written']} articles, {s['syndicated_copies']} copies, "
              f"planted found {f}/{p}, others {other}; {load()}", flush=True)
    if len(rows) > 1:
        (n0, r0), (n1, r1) = rows[0], rows[-1]
        for key, what in (("peak_sum_mb", "RSS"), ("peak_pss_mb", "PSS")):
            slope = (r1[key] - r0[key]) / (n1 - n0) * 1024
            print(f"  growth {n0} -> {n1} pages: {slope:.1f} KB per page (process tree, {what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
