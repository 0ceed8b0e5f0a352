"""WARC archives as pages: byte ranges of an archive, record by record, each HTML response a Page.

How a large archive is spread over workers: ``split_archive`` cuts it into
fixed byte ranges from its size alone (no read), and ``ReadPages`` reshuffles
the ranges before reading, so each range is its own task. A range reads every
record that *starts* inside it, to the record's end, whether or not that end
lies past the range: ``read_range`` seeks to the range's start, syncs to the
first record boundary at or after it (a gzip member that inflates to
``WARC/...``, or a ``WARC/`` header line of a plain archive, checked by the
record's ``Content-Length``) and stops at the first record that starts at or
after the range's end. Every record has one start, so the ranges together read
each record exactly once, as one read of the whole archive does.

Damage: a record that cannot be read whole (the archive ends inside it, a
gzip member does not inflate, its headers do not parse, bytes after a record
are no record) becomes one page with a ``failure`` covering the bytes up
to the next readable record; reading goes on from there, so every complete
record before the damage, and after it, is kept. Decode makes the page a dead
letter at stage ``read``: reason ``warc_cut`` when the archive ends inside the
damaged record, else ``warc_corrupt``. Ranges after the damage are read by other workers that
cannot know of it, which is why reading resumes rather than stopping there.

Memory: records are streamed; a page's body is read up to ``max_bytes`` + 1
bytes (decode refuses larger ones as ``too_large``) and everything else is read
in small blocks and dropped.
"""

from __future__ import annotations

import codecs
import logging
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.filesystems import FileSystems
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from transforms.decode import _iso_or_none
from transforms.failures import count
from transforms.records import Page

LOG = logging.getLogger("newsbeam")

ARCHIVE_SUFFIXES = (".warc", ".warc.gz")
# One task reads this much of an archive. The pages a range reads are extracted
# by the worker that read them (the stages are fused), so a range is also the
# unit of parallel extraction: 4 MB of gzipped WARC is about 100-200 pages, a
# Common Crawl News file (about 1 GB) about 250 tasks; a task's start-up (open,
# seek, sync to a record) costs a few milliseconds against seconds of extraction.
RANGE_BYTES = 4 * 1024 * 1024
# Media types read as pages; everything else in a response record is skipped.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types that say nothing about the payload: the record's identified type decides then.
UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "unknown/unknown", "application/unknown"})
# An oversized page keeps this much for its dead letter's excerpt.
EXCERPT_BYTES = 4096
GZIP_MEMBER = b"\x1f\x8b\x08"
WARC_LINE = b"WARC/"
# Syncing to a record boundary: the file is scanned in blocks of this size, and a
# candidate is checked on at most this many of its first bytes.
SCAN_BLOCK = 1024 * 1024
HEAD_BYTES = 8 * 1024
CHECK_BYTES = 64 * 1024
DISCARD_BLOCK = 64 * 1024

# Outcomes of one record (counted as ``warc_<outcome>``).
PAGE = "pages"
DAMAGED = "damaged"
SKIPPED_NOT_HTTP = "skipped_not_http"
SKIPPED_NOT_HTML = "skipped_not_html"
SKIPPED_REDIRECT = "skipped_redirect"
SKIPPED_HTTP_ERROR = "skipped_http_error"
SKIPPED_HTTP_OTHER = "skipped_http_status"  # 1xx, or a status line that is not a number
REASON_CUT = "warc_cut"
REASON_CORRUPT = "warc_corrupt"
# What warcio and zlib raise on bytes that are not a readable record (warcio reads a cut or
# garbled header block as a record without, e.g., a target URI, and fails on the None).
# OSError is not among them: a failing read raises, so that the runner retries it.
_DATA_ERRORS = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    zlib.error,
    EOFError,
    ValueError,
    AttributeError,
    TypeError,
    IndexError,
    KeyError,
)


def is_warc(path: str) -> bool:
    return path.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class ArchiveRange:
    """The records of ``path`` that start at a byte offset in ``[start, end)``."""

    path: str
    size: int  # of the whole archive
    start: int
    end: int
    mtime: str | None = None  # ISO 8601: the fetch time of a record without WARC-Date


def split_archive(
    path: str, size: int, mtime: str | None = None, range_bytes: int = RANGE_BYTES
) -> list[ArchiveRange]:
    """Byte ranges of one archive, ``range_bytes`` each (the last may be shorter); one for an empty file."""
    starts = range(0, max(size, 1), range_bytes)
    return [ArchiveRange(path, size, s, min(s + range_bytes, size), mtime) for s in starts]


def split_archives(metadata: FileMetadata, range_bytes: int | None = None) -> Iterator:
    """A WARC file as its byte ranges; any other file's metadata passes through unchanged."""
    if not is_warc(metadata.path):
        yield metadata
        return
    from pipeline.sources import mtime_iso

    size = metadata.size_in_bytes
    yield from split_archive(metadata.path, size, mtime_iso(metadata), range_bytes or RANGE_BYTES)


def starts_file(element: FileMetadata | ArchiveRange) -> bool:
    """True once per file: for a file's metadata, and for the first range of an archive."""
    return not isinstance(element, ArchiveRange) or element.start == 0


# ---------------------------------------------------------------- record boundaries


def _is_compressed(handle: BinaryIO) -> bool:
    handle.seek(0)
    return handle.read(2) == GZIP_MEMBER[:2]


def _member_is_record(head: bytes, at_end: bool) -> bool:
    """Whether bytes starting with a gzip member header inflate to a WARC record's first line.

    ``at_end``: ``head`` runs to the end of the file. A member cut there may be too short to
    inflate anything; it is taken as a record, so that reading it reports the cut.
    """
    try:
        inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16)
    except zlib.error:
        return False
    if at_end and len(inflated) < len(WARC_LINE):
        return WARC_LINE.startswith(inflated)
    return inflated.startswith(WARC_LINE)


def _warc_headers(head: bytes) -> tuple[dict[str, str], int] | None:
    """(headers by lower-case name, length of the header block) of a plain record's first
    bytes, split into lines as warcio splits them; None when the block does not end in ``head``."""
    headers: dict[str, str] = {}
    position = head.find(b"\n") + 1  # after the WARC/1.x line
    while position:
        newline = head.find(b"\n", position)
        if newline < 0:
            return None
        line, position = head[position : newline + 1], newline + 1
        if not line.strip():
            return headers, position
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return None


def _header_is_record(handle: BinaryIO, at: int, head: bytes, size: int) -> bool:
    """Whether a plain ``WARC/`` line at ``at`` opens a record: headers with a type and a
    Content-Length whose end is followed by blank lines and the next record (or the file's end)."""
    parsed = _warc_headers(head)
    if parsed is None:
        return at + len(head) >= size  # a record cut in its headers, at the end of the file
    headers, block_start = parsed
    if not headers.get("warc-type") or not headers.get("content-length", "").isdigit():
        return False
    after = at + block_start + int(headers["content-length"])
    if after >= size:
        return True  # cut at the end of the file: reading it reports the damage
    handle.seek(after)
    tail = handle.read(16)
    rest = tail.lstrip(b"\r\n")
    if after + len(tail) >= size:  # the last record: its blank lines may be cut short
        return WARC_LINE.startswith(rest[: len(WARC_LINE)])
    return rest.startswith(WARC_LINE)


def next_boundary(
    handle: BinaryIO, position: int, size: int, compressed: bool, limit: int | None = None
) -> int | None:
    """Offset of the first record that starts at or after ``position`` (and before ``limit``)."""
    magic = GZIP_MEMBER if compressed else WARC_LINE
    stop = size if limit is None else min(size, limit)
    block_start = position
    while block_start < stop:
        handle.seek(max(block_start - 1, 0))
        lead = handle.read(1) if block_start > 0 else b""
        block = handle.read(min(SCAN_BLOCK, stop - block_start) + len(magic) - 1)
        found = block.find(magic)
        while 0 <= found < stop - block_start:
            at = block_start + found
            before = block[found - 1 : found] if found else lead
            if compressed or at == 0 or before == b"\n":
                handle.seek(at)
                head = handle.read(HEAD_BYTES)
                if not compressed and _warc_headers(head) is None and at + len(head) < size:
                    handle.seek(at)  # long headers (rare): look further
                    head = handle.read(CHECK_BYTES)
                if (
                    _member_is_record(head, at + len(head) >= size)
                    if compressed
                    else _header_is_record(handle, at, head, size)
                ):
                    return at
            found = block.find(magic, found + 1)
        block_start += SCAN_BLOCK
    return None


def _ends_inside_record(handle: BinaryIO, offset: int, size: int, compressed: bool) -> bool:
    """Whether the archive ends inside the record at ``offset`` (cut), not on unreadable bytes."""
    handle.seek(offset)
    if not compressed:
        head = handle.read(CHECK_BYTES)
        if not head.startswith(WARC_LINE):  # cut inside the first line, or no record at all
            return len(head) < len(WARC_LINE) and WARC_LINE.startswith(head)
        parsed = _warc_headers(head)
        if parsed is None:
            return offset + len(head) >= size
        headers, block_start = parsed
        length = headers.get("content-length", "")
        return length.isdigit() and offset + block_start + int(length) > size
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while block := handle.read(SCAN_BLOCK):
            inflater.decompress(block, 1)  # output is not needed, only whether the stream ends
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, DISCARD_BLOCK)
            if inflater.eof:
                return False  # the member is whole: its record is unreadable, not cut
    except zlib.error:
        return False
    return True


# ---------------------------------------------------------------- records to pages


def http_content_type(value: str | None) -> tuple[str, str | None]:
    """(media type, charset as a codec name or None) of a Content-Type header."""
    # Only the parameters go through email's parser: its media type falls back to text/plain.
    media = (value or "").split(";", 1)[0].strip().lower()
    message = Message()
    message["Content-Type"] = value or ""
    charset = message.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    try:
        charset = codecs.lookup(str(charset).strip()).name if charset else None
    except LookupError:
        charset = None
    return media, charset


def _outcome_of_response(record) -> str | None:
    """Why a response record is not a page (an outcome), or None when it is an HTML page."""
    http = record.http_headers
    if http is None:
        return SKIPPED_NOT_HTTP  # dns:, whois:, or a response record without HTTP
    status = http.get_statuscode()
    if not status.isdigit() or int(status) < 200:
        return SKIPPED_HTTP_OTHER
    if 300 <= int(status) < 400:
        return SKIPPED_REDIRECT
    if int(status) >= 400:
        return SKIPPED_HTTP_ERROR
    media, _ = http_content_type(http.get_header("Content-Type"))
    if media in UNKNOWN_TYPES:
        media, _ = http_content_type(record.rec_headers.get_header("WARC-Identified-Payload-Type"))
    if media and media not in UNKNOWN_TYPES and media not in HTML_TYPES:
        return SKIPPED_NOT_HTML
    return None


def _page_of(record, source: str, max_bytes: int, default_fetched_at: str | None) -> Page:
    """The HTTP payload of a response record, de-chunked and un-gzipped, as a Page."""
    # content_stream undoes Transfer-Encoding: chunked and Content-Encoding (gzip, deflate, br).
    body = record.content_stream().read(max_bytes + 1)
    size = len(body)
    if size > max_bytes:
        body, size = body[:EXCERPT_BYTES], max(size, record.payload_length)
    _, charset = http_content_type(record.http_headers.get_header("Content-Type"))
    date = _iso_or_none(record.rec_headers.get_header("WARC-Date"))
    return Page(
        source=source,
        body=body,
        size_bytes=size,
        url=record.rec_headers.get_header("WARC-Target-URI") or None,
        fetched_at=date or default_fetched_at,
        charset=charset,
    )


def _complete(record) -> bool:
    """Whether the record's whole block was read (its Content-Length bytes were there)."""
    stream = record.raw_stream
    return getattr(stream, "limit", None) == 0


def source_of(path: str, offset: int) -> str:
    """``path:offset``: ``warcio extract --payload PATH OFFSET`` prints that record again."""
    from pipeline.sources import display_path

    return f"{display_path(path)}:{offset}"


def read_range(
    open_archive: Callable[[], BinaryIO], rng: ArchiveRange, max_bytes: int
) -> Iterator[tuple[str, Page | None]]:
    """(outcome, page or None) for each record starting in ``rng``; damage is a page with a failure.

    ``open_archive`` opens the archive (seekable); it is opened twice, once for warcio's
    sequential read and once for the boundary checks, so that neither moves the other.
    """
    if rng.size == 0 or rng.start >= rng.size:
        return
    with open_archive() as handle, open_archive() as probe:
        compressed = _is_compressed(probe)
        position = next_boundary(probe, rng.start, rng.size, compressed, rng.end)
        if rng.start == 0 and position != 0:
            # The bytes up to the archive's first record are damage (or the file is no archive).
            why = "the file does not begin with a WARC record"
            position = yield from _damage(probe, rng, 0, compressed, why)
        while position is not None and position < rng.end:
            position = yield from _records_from(handle, probe, rng, position, compressed, max_bytes)


def _records_from(
    handle: BinaryIO,
    probe: BinaryIO,
    rng: ArchiveRange,
    position: int,
    compressed: bool,
    max_bytes: int,
):
    """Records from the boundary ``position`` until the range ends or a record is damaged.

    Returns the offset to go on from (None: done). A record is read only where a record
    starts (``next_boundary``'s test), whichever path led there, so one read of the
    archive and a read in ranges see the same records.
    """
    handle.seek(position)
    records = ArchiveIterator(handle)
    while True:
        offset = records.offset
        if offset >= rng.size:
            return None
        if offset != position and next_boundary(probe, offset, rng.size, compressed, offset + 1) is None:
            # Even past the range's end: the next range syncs to the next record and
            # would skip these bytes unseen.
            why = "bytes after a record are not a WARC record"
            return (yield from _damage(probe, rng, offset, compressed, why))
        if offset >= rng.end:
            return None
        try:
            record = next(records)
        except StopIteration:  # the reader stopped before the end: a cut or unreadable tail
            return (yield from _damage(probe, rng, offset, compressed, "the bytes end inside a record"))
        except _DATA_ERRORS as exc:
            return (yield from _damage(probe, rng, offset, compressed, _explain(exc)))
        try:
            outcome, page = _read_record(record, source_of(rng.path, offset), max_bytes, rng.mtime)
            records.read_to_end()
        except _DATA_ERRORS as exc:
            return (yield from _damage(probe, rng, offset, compressed, _explain(exc)))
        if compressed and records.next_line:
            # The next record goes on in the same gzip member: not one member per record, so
            # no record after this one has an offset to seek to (warcio refuses such files too).
            return (yield from _damage(probe, rng, offset, compressed, NOT_PER_RECORD_GZIP))
        if not _complete(record):
            missing = getattr(record.raw_stream, "limit", "?")
            why = f"{missing} bytes of the record's Content-Length {record.length} are missing"
            return (yield from _damage(probe, rng, offset, compressed, why))
        yield outcome, page


def _read_record(record, source: str, max_bytes: int, default_fetched_at: str | None):
    for required in ("WARC-Type", "Content-Length"):  # as syncing to a record requires them
        if record.rec_headers.get_header(required) is None:
            raise ValueError(f"the record has no {required}")
    if record.rec_type != "response":
        return f"skipped_{record.rec_type or 'untyped'}", None
    skipped = _outcome_of_response(record)
    if skipped:
        return skipped, None
    return PAGE, _page_of(record, source, max_bytes, default_fetched_at)


NOT_PER_RECORD_GZIP = (
    "the archive is one gzip stream, not one gzip member per record as a .warc.gz must be; "
    "`warcio recompress IN OUT` fixes it"
)


def _explain(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300]
    if "non-chunked gzip" in text:
        return NOT_PER_RECORD_GZIP
    return f"{type(exc).__name__}: {text}"


def _damage(
    handle: BinaryIO,
    rng: ArchiveRange,
    offset: int,
    compressed: bool,
    why: str,
):
    """One damage page for the bytes from ``offset`` to the next readable record.

    Returns that record's offset (None at the end). The reason is ``warc_cut`` when the
    archive ends inside the damaged record, else ``warc_corrupt``: read from the bytes
    alone, so any range, and any path through warcio, names the same damage alike. No
    content is kept (as for the other source failures): what warcio made of damaged
    bytes depends on where its read began.
    """
    resume = next_boundary(handle, offset + 1, rng.size, compressed)
    end = rng.size if resume is None else resume
    cut = resume is None and _ends_inside_record(handle, offset, rng.size, compressed)
    reason = REASON_CUT if cut else REASON_CORRUPT
    where = "the end of the archive" if resume is None else f"the next record at {resume}"
    LOG.warning("%s: damaged at %d (%s); skipping to %s", rng.path, offset, why, where)
    page = Page(
        source=source_of(rng.path, offset),
        body=b"",
        size_bytes=end - offset,
        fetched_at=rng.mtime,
        failure=(reason, f"damaged WARC record at byte {offset} ({why}); {end - offset} bytes skipped to {where}"),
    )
    yield DAMAGED, page
    return resume


# ---------------------------------------------------------------- the source's entry point


def whole_archive(metadata: FileMetadata) -> ArchiveRange:
    from pipeline.sources import mtime_iso

    size = metadata.size_in_bytes
    return ArchiveRange(metadata.path, size, 0, max(size, 1), mtime_iso(metadata))


def read_archive(element: FileMetadata | ArchiveRange, max_bytes: int) -> Iterator[Page]:
    """Pages of an archive range (or of a whole archive), counting every record's outcome.

    The archive counts as one file read (``files_read``), on its first range; an archive
    that cannot be opened is one dead letter (stage read), from that range too.
    """
    from pipeline.sources import FILES_READ, UNREADABLE, VANISHED, _failed, display_path

    rng = element if isinstance(element, ArchiveRange) else whole_archive(element)
    first = rng.start == 0
    count("warc_ranges_read")

    def open_archive() -> BinaryIO:
        return FileSystems.open(rng.path, compression_type=CompressionTypes.UNCOMPRESSED)

    try:
        open_archive().close()
    except (FileNotFoundError, PermissionError) as exc:
        if first:
            what = "was listed but is gone" if isinstance(exc, FileNotFoundError) else "may not be read"
            reason = VANISHED if isinstance(exc, FileNotFoundError) else UNREADABLE
            count(FILES_READ)
            yield _failed(display_path(rng.path), reason, f"the archive {what}: {exc.strerror}")
        return
    if first:
        count(FILES_READ)
    for outcome, page in read_range(open_archive, rng, max_bytes):
        count("warc_records")
        count(f"warc_{outcome}")
        if page is not None:
            yield page
