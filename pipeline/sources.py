"""Sources: every way pages come in (file globs, a watched folder, Pub/Sub), as raw pages.

A file is one page, or one page per JSON line. What cannot be read becomes a page
carrying its failure (reason and error, no content), which decode turns into a dead
letter at stage ``read``: a ``.jsonl.gz`` that is not gzip or is cut short (the
lines before the damage are kept), a file that vanished between listing and
reading, a file that may not be read, a symlink whose target lies outside the
inputs (never opened: a record must not echo a local file that was not an input).
Special files (sockets, FIFOs, devices) are never opened (a FIFO would block the
reader forever): they are skipped and counted.

File names are kept as the source in a form Avro can encode: bytes of a name that
are not UTF-8 (Python keeps them as surrogate escapes) are written ``\\xNN``.
"""

from __future__ import annotations

import glob
import gzip
import json
import logging
import os
import re
import stat
import time
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.io.filesystem import CompressionTypes, FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import TimestampedValue

from pipeline import warc
from transforms.decode import _iso_or_none
from transforms.failures import count
from transforms.records import Page

LOG = logging.getLogger("newsbeam")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
# An oversized page is not read whole: this much is kept for the dead letter's excerpt.
OVERSIZE_EXCERPT_BYTES = 4096
# Progress lines on long runs: one every this many files read by a worker.
PROGRESS_EVERY = 200
# A watched folder: files being written are named ``*.part``; hidden files are never read.
PART_SUFFIX = ".part"
HIDDEN_PREFIX = "."
_GLOB_CHARS = re.compile(r"^[^[*?]*")

# Reasons of the dead letters a source writes (stage "read"); see the README's failure modes.
BAD_GZIP = "bad_gzip"
VANISHED = "vanished"
UNREADABLE = "unreadable"
OUTSIDE_INPUTS = "outside_inputs"
# Counters: the source's own count of what it read, which the run's books compare with
# what was written (pipeline/accounting.py).
FILES_READ = "files_read"
FILES_SKIPPED_SPECIAL = "files_skipped_special"
FILES_REFUSED = "files_refused"  # not opened (outside the inputs, gone, forbidden): a dead letter
JSON_LINES_READ = "json_lines_read"
SOURCE_PAGES = "source_pages"


def display_path(path: str) -> str:
    """``path`` as text any writer can encode: undecodable name bytes become ``\\xNN``."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_jsonl(path: str) -> bool:
    return path.lower().endswith(JSONL_SUFFIXES)


def is_local(path: str) -> bool:
    """A path on the local disk: no ``gs://``-like scheme of another Beam filesystem."""
    return FileSystems.get_scheme(path) is None


def mtime_iso(metadata: FileMetadata) -> str | None:
    seconds = getattr(metadata, "last_updated_in_seconds", None)
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def event_time(page: Page) -> float:
    """Event time of a page: its fetch time (crawler's, else the file's mtime), else 0."""
    if page.fetched_at:
        try:
            return datetime.fromisoformat(page.fetched_at).timestamp()
        except ValueError:
            pass
    return 0.0


# ---------------------------------------------------------------- matching files


def input_roots(patterns: Iterable[str]) -> tuple[str, ...]:
    """The real folders (and named files) the patterns read from: nothing outside is read."""
    roots = []
    for pattern in patterns:
        if not is_local(pattern):
            continue
        prefix = _GLOB_CHARS.match(pattern).group(0)
        if prefix == pattern:  # a file named outright: it is an input, whatever it links to
            roots.append(os.path.realpath(pattern))
            prefix = os.path.dirname(pattern)
        elif not prefix.endswith(os.sep):
            prefix = os.path.dirname(prefix)
        roots.append(os.path.realpath(prefix or "."))
    return tuple(sorted(set(roots)))


def _inside(real: str, roots: tuple[str, ...]) -> bool:
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def match_files(pattern: str) -> list[FileMetadata]:
    """Files matching ``pattern``, with Beam's glob rules; on the local disk, every entry.

    Beam's local listing drops what it cannot stat (a dangling symlink, a file removed
    meanwhile) without a word; here such an entry is kept (size 0) and reading it
    says what happened.
    """
    if not is_local(pattern):
        return [m for m in FileSystems.match([pattern])[0].metadata_list
                if not m.path.endswith("/")]
    if pattern.endswith(os.sep):
        pattern += "*"
    prefix = _GLOB_CHARS.match(pattern).group(0)
    if prefix == pattern:
        candidates = [pattern] if os.path.lexists(pattern) and not os.path.isdir(pattern) else []
    else:
        regex = re.compile(FileSystem.translate_pattern(pattern))
        top = prefix if prefix.endswith(os.sep) else os.path.dirname(prefix) or "."
        candidates = [
            path
            for folder, _, names in os.walk(top)
            for name in names
            if regex.match(path := os.path.join(folder, name))
        ]
    files = []
    for path in sorted(candidates):
        try:
            info = os.stat(path)
            files.append(FileMetadata(path, info.st_size, info.st_mtime))
        except OSError:
            files.append(FileMetadata(path, 0, 0))
    return files


def check_patterns(patterns: list[str]) -> dict[str, int]:
    """Number of files each pattern matches; raises ValueError naming a pattern that matches none."""
    counts = {}
    for pattern in patterns:
        files = match_files(pattern)
        if not files:
            raise ValueError(f"no file matches --input {pattern!r}")
        counts[pattern] = len(files)
    return counts


# ---------------------------------------------------------------- reading a file


def _failed(source: str, reason: str, error: str, size: int = 0) -> Page:
    """A page the source could not read: decode makes it a dead letter (no content kept)."""
    return Page(source, b"", size, failure=(reason, error))


def read_file(
    metadata: FileMetadata, max_bytes: int, roots: tuple[str, ...] = ()
) -> Iterable[Page]:
    """Pages of one file (one, or one per JSON line). Oversized files are not read whole.

    ``roots``: for local files, the real folders the inputs live in; a file whose
    real path lies elsewhere (through a symlink) is not opened. Special files are
    skipped and counted, never opened.
    """
    path = metadata.path
    source = display_path(path)
    if is_local(path):
        refusal = _local_refusal(path, roots)
        if refusal is not None and not warc.starts_file(metadata):
            return  # an archive read in ranges: its first range says it, once
        if refusal == FILES_SKIPPED_SPECIAL:
            count(FILES_SKIPPED_SPECIAL)
            return
        if refusal is not None:
            count(FILES_REFUSED)
            yield _failed(source, *refusal)
            return
    if isinstance(metadata, warc.ArchiveRange) or warc.is_warc(path):
        yield from warc.read_archive(metadata, max_bytes)  # WARC: a page per HTML response
        return
    count(FILES_READ)
    fetched_at = mtime_iso(metadata)
    try:
        handle = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except FileNotFoundError as exc:
        yield _failed(source, VANISHED, f"the file was listed but is gone: {exc.strerror}")
        return
    except PermissionError as exc:
        yield _failed(source, UNREADABLE, f"the file may not be read: {exc.strerror}")
        return
    with handle:
        if is_jsonl(path):
            yield from _read_json_lines(handle, path, source, max_bytes, fetched_at)
            return
        size = metadata.size_in_bytes
        if size > max_bytes:
            yield Page(source, handle.read(OVERSIZE_EXCERPT_BYTES), size, fetched_at=fetched_at)
            return
        body = handle.read(max_bytes + 1)
    yield Page(source, body, len(body), fetched_at=fetched_at)


def _local_refusal(path: str, roots: tuple[str, ...]) -> str | tuple[str, str] | None:
    """Why a local file is not opened: None (read it), FILES_SKIPPED_SPECIAL, or (reason, error)."""
    real = os.path.realpath(path)
    if roots and not _inside(real, roots):
        # The target's name is not echoed either: it may itself say something private.
        return OUTSIDE_INPUTS, "a symlink to a file outside the input folders: not read"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return VANISHED, "a symlink whose target does not exist"
        return VANISHED, "the file was listed but is gone"
    except PermissionError as exc:
        return UNREADABLE, f"the file may not be read: {exc.strerror}"
    if not stat.S_ISREG(mode):
        return FILES_SKIPPED_SPECIAL
    return None


def _read_json_lines(
    handle, path: str, source: str, max_bytes: int, fetched_at: str | None
) -> Iterable[Page]:
    """One page per non-blank line; damage (bad or cut gzip) ends the file with a dead letter.

    The lines before the damage are pages as usual.
    """
    compressed = path.lower().endswith(".gz")
    if compressed:
        handle = gzip.GzipFile(fileobj=handle)
    number = 0
    try:
        for number, (body, size) in enumerate(_bounded_lines(handle, max_bytes), start=1):
            if not body.strip() and size <= max_bytes:
                continue  # blank separator lines are not pages
            count(JSON_LINES_READ)
            yield Page(f"{source}:{number}", body, size, declared_kind="jsonl",
                       fetched_at=fetched_at)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        if not compressed:
            raise
        what = "cut short" if isinstance(exc, EOFError) else "not gzip or corrupt"
        yield _failed(f"{source}:{number + 1}", BAD_GZIP,
                      f"gzip data {what} after {number} lines: {exc}")


def _bounded_lines(handle, max_bytes: int) -> Iterable[tuple[bytes, int]]:
    """Lines of a file as (bytes, size); a line over ``max_bytes`` is cut, its size kept."""
    while True:
        line = handle.readline(max_bytes + 1)
        if not line:
            return
        size = len(line)
        if size > max_bytes and not line.endswith(b"\n"):
            while True:  # skip the rest of an oversized line, counting it
                rest = handle.readline(1024 * 1024)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line[:OVERSIZE_EXCERPT_BYTES], size
        else:
            yield line, size


def _stamped(pages: Iterable[Page], when=None) -> Iterable[TimestampedValue]:
    for page in pages:
        count(SOURCE_PAGES)
        yield TimestampedValue(page, page_event_time(page) if when is None else when(page))


# ---------------------------------------------------------------- file globs (batch)


class _ReadFiles(beam.DoFn):
    def __init__(self, max_bytes: int, roots: tuple[str, ...]):
        self._max = max_bytes
        self._roots = roots
        self._files = 0

    def process(self, metadata: FileMetadata) -> Iterable[TimestampedValue]:
        self._files += 1
        if self._files % PROGRESS_EVERY == 0:
            LOG.info("read %d files so far (this worker)", self._files)
        yield from _stamped(read_file(metadata, self._max, self._roots), event_time)


class ReadPages(beam.PTransform):
    """Pages from file globs: each file is a page, each line of a ``.jsonl`` file is a page.

    The file list is reshuffled before reading so that reading and everything
    fused after it (decoding, extraction) spreads over workers.
    """

    def __init__(self, patterns: list[str], max_page_bytes: int):
        super().__init__()
        self._patterns = list(patterns)
        self._max = max_page_bytes

    def expand(self, pbegin):
        return (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> beam.FlatMap(match_files)
            | "SplitArchives" >> beam.FlatMap(warc.split_archives)  # WARC: byte ranges
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(_ReadFiles(self._max, input_roots(self._patterns)))
        )


# ---------------------------------------------------------------- a watched folder (streaming)


def ready_files(pattern: str, stable_seconds: float, now: float) -> list[tuple[str, int, float]]:
    """Files matching ``pattern`` that are complete: not ``*.part``, unchanged for ``stable_seconds``.

    A writer that cannot finish a file within that time writes ``name.part`` and
    renames it when complete (the rename is atomic, so the file is never seen half-written).
    Special files and dangling links are listed too: reading them says what they are.
    """
    ready = []
    for path in sorted(glob.glob(pattern)):
        if path.endswith(PART_SUFFIX) or os.path.basename(path).startswith(HIDDEN_PREFIX):
            continue
        try:
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode) or (
                stat.S_ISLNK(info.st_mode) and os.path.isdir(path)
            ):
                continue
        except FileNotFoundError:
            continue  # renamed or removed between listing and stat
        if now - info.st_mtime < stable_seconds:
            continue
        ready.append((path, info.st_size, info.st_mtime))
    return ready


class _EmitEachPathOnce(beam.DoFn):
    """Keyed by path: the folder is re-listed on every poll, each file goes on once."""

    SEEN = ReadModifyWriteStateSpec("seen", VarIntCoder())

    def process(self, element: tuple[bytes, tuple[int, float]], seen=beam.DoFn.StateParam(SEEN)):
        path, (size, mtime) = element
        if seen.read():
            return
        seen.write(1)
        yield FileMetadata(os.fsdecode(path), size, last_updated_in_seconds=mtime)


def _list_folder(
    tick, pattern: str, stable_seconds: float, skip: frozenset[str], stop: str
) -> Iterable[tuple[bytes, tuple[int, float]]]:
    if stop and os.path.exists(stop):
        return  # the run is draining: read nothing new
    for path, size, mtime in ready_files(pattern, stable_seconds, time.time()):
        if display_path(path) not in skip:
            # Keyed by the name's bytes: a name that is not UTF-8 has no str key coder.
            yield os.fsencode(path), (size, mtime)


class WatchFolder(beam.PTransform):
    """File metadata of each new complete file matching ``pattern``, once, as it appears.

    ``skip``: sources already written by an earlier run. ``stop``: a file whose
    existence makes the watcher list nothing more (the run is draining).
    """

    def __init__(
        self,
        pattern: str,
        poll_interval: float,
        stable_seconds: float,
        start: float,
        skip: Iterable[str] = (),
        stop: str = "",
    ):
        super().__init__()
        self._pattern = pattern
        self._poll = poll_interval
        self._stable = stable_seconds
        self._start = start  # PeriodicImpulse's default start is fixed at import time
        self._skip = frozenset(skip)
        self._stop = stop

    def expand(self, pbegin):
        return (
            pbegin
            | "Poll" >> PeriodicImpulse(start_timestamp=self._start, fire_interval=self._poll)
            | "List"
            >> beam.FlatMap(
                _list_folder, self._pattern, self._stable, self._skip, self._stop
            ).with_output_types(tuple[bytes, tuple[int, float]])
            | "Once" >> beam.ParDo(_EmitEachPathOnce())
        )


def read_watched(
    metadata: FileMetadata, max_bytes: int, roots: tuple[str, ...]
) -> Iterable[TimestampedValue]:
    """Timestamped pages of one watched file (event time: fetched_at, else the file's mtime)."""
    return _stamped(read_file(metadata, max_bytes, roots))


def page_event_time(page: Page) -> float:
    """Event time: a JSON line's ``fetched_at`` when given, else the page's (the file's mtime), else 0.

    ``read_file`` stamps every page with its file's mtime; a JSON line's own
    ``fetched_at`` is only read by decode, so it is looked up here first.
    """
    if page.declared_kind == "jsonl":
        seconds = _json_fetched_at(page.body)
        if seconds is not None:
            return seconds
    return event_time(page)


# ---------------------------------------------------------------- Pub/Sub (streaming)


def pubsub_page(message: bytes, published=beam.DoFn.TimestampParam) -> TimestampedValue:
    """A Pub/Sub message as a page: event time its fetched_at, else the message's publish time.

    (Not 0: a page stamped 1970 is behind every window's allowed lateness and
    the runner would drop it, or its dead letter, unseen.)
    """
    count(SOURCE_PAGES)
    page = Page("pubsub", message, len(message), declared_kind="jsonl")
    seconds = _json_fetched_at(message)
    return TimestampedValue(page, published if seconds is None else seconds)


def _json_fetched_at(line: bytes) -> float | None:
    """A JSON line's fetched_at in epoch seconds (read as decode reads it), or None."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None  # decode dead-letters it
    iso = _iso_or_none(record.get("fetched_at")) if isinstance(record, dict) else None
    return datetime.fromisoformat(iso).timestamp() if iso else None


class ReadPubSub(beam.PTransform):
    """Pages from a Pub/Sub subscription: each message is a JSON line."""

    def __init__(self, subscription: str):
        super().__init__()
        self._subscription = subscription

    def expand(self, pbegin):
        from apache_beam.io.gcp.pubsub import ReadFromPubSub

        return (
            pbegin
            | "PubSub" >> ReadFromPubSub(subscription=self._subscription)
            | "Pages" >> beam.Map(pubsub_page)
        )
