"""Sources: files matched by globs, read as raw pages (one per file, or one per JSON line)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import TimestampedValue

from pipeline import warc
from transforms.failures import count
from transforms.records import Page

LOG = logging.getLogger("newsbeam")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
# An oversized page is not read whole: this much is kept for the dead letter's excerpt.
OVERSIZE_EXCERPT_BYTES = 4096
# Progress lines on long runs: one every this many files read by a worker.
PROGRESS_EVERY = 200


def is_jsonl(path: str) -> bool:
    return path.lower().endswith(JSONL_SUFFIXES)


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


def read_file(metadata: FileMetadata, max_bytes: int) -> Iterable[Page]:
    """Pages of one file. Oversized files are not read whole; decode refuses them."""
    if isinstance(metadata, warc.ArchiveRange) or warc.is_warc(metadata.path):
        yield from warc.read_archive(metadata, max_bytes)  # WARC: a page per HTML response
        return
    path, size = metadata.path, metadata.size_in_bytes
    fetched_at = mtime_iso(metadata)
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        if is_jsonl(path):
            yield from _read_json_lines(handle, path, max_bytes, fetched_at)
            return
        if size > max_bytes:
            yield Page(path, handle.read(OVERSIZE_EXCERPT_BYTES), size, fetched_at=fetched_at)
            return
        body = handle.read(max_bytes + 1)
    yield Page(path, body, len(body), fetched_at=fetched_at)


def _read_json_lines(handle, path: str, max_bytes: int, fetched_at: str | None) -> Iterable[Page]:
    if path.lower().endswith(".gz"):
        import gzip

        handle = gzip.GzipFile(fileobj=handle)
    for number, line in enumerate(_bounded_lines(handle, max_bytes), start=1):
        body, size = line
        if not body.strip() and size <= max_bytes:
            continue  # blank separator lines are not pages
        yield Page(f"{path}:{number}", body, size, declared_kind="jsonl", fetched_at=fetched_at)


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


class _ReadFiles(beam.DoFn):
    def __init__(self, max_bytes: int):
        self._max = max_bytes
        self._files = 0

    def process(self, metadata: FileMetadata) -> Iterable[TimestampedValue]:
        if warc.starts_file(metadata):  # an archive read in ranges is still one file
            count("files_read")
        self._files += 1
        if self._files % PROGRESS_EVERY == 0:
            LOG.info("read %d files so far (this worker)", self._files)
        for page in read_file(metadata, self._max):
            yield TimestampedValue(page, event_time(page))


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
            | "Match" >> fileio.MatchAll()
            | "SplitArchives" >> beam.FlatMap(warc.split_archives)  # WARC: byte ranges
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(_ReadFiles(self._max))
        )


def check_patterns(patterns: list[str]) -> dict[str, int]:
    """Number of files each pattern matches; raises ValueError naming a pattern that matches none."""
    counts = {}
    for pattern in patterns:
        result = FileSystems.match([pattern])[0]
        files = [m for m in result.metadata_list if not m.path.endswith("/")]
        if not files:
            raise ValueError(f"no file matches --input {pattern!r}")
        counts[pattern] = len(files)
    return counts
