"""Turn raw page bytes into a decoded Document: un-gzip, parse JSON lines, find the charset, tell HTML from text."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import unicodedata
import zlib
from datetime import UTC, datetime
from functools import partial

import apache_beam as beam
import charset_normalizer

from transforms.failures import GuardedMap, count
from transforms.records import (
    KIND_HTML,
    KIND_TEXT,
    STAGE_DECODE,
    STAGE_READ,
    Document,
    Page,
    StageError,
)

# Pages larger than this (after gunzip) are refused with reason too_large: real
# article pages are well under 2 MB; a larger one is a feed dump, a binary or an attack.
DEFAULT_MAX_PAGE_BYTES = 8 * 1024 * 1024
# A page is binary when this share of its first bytes are control characters
# that never appear in text (NUL and friends; tab, CR, LF and form feed are fine).
BINARY_CONTROL_SHARE = 0.02
# Undeclared, not UTF-8: a handful of broken bytes in a real UTF-8 page is kept
# (replaced); more than this share of undecodable bytes means the bytes are not UTF-8.
MAX_INVALID_UTF8_SHARE = 0.001
SNIFF_BYTES = 4096
GZIP_MAGIC = b"\x1f\x8b"
ZLIB_CHUNK = 64 * 1024

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HTML_START = re.compile(
    r"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|\?xml)", re.I | re.S
)
_HTML_TAG = re.compile(
    r"<(p|div|span|a|br|article|section|h[1-6]|table|ul|li|meta|script|title)\b[^<>]*>", re.I
)
# A text with at least this many common tags per 1,000 characters is HTML even
# without a <html> start (fragments, crawler snippets).
HTML_TAGS_PER_KCHAR = 1.0
# Python text codecs that no web page is written in (a declaration naming one is ignored).
_NOT_WEB_CHARSETS = frozenset(
    {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7", "undefined"}
)
_NON_TEXT_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})
# NUL to backspace and SO to US except ESC, as bytes for ``bytes.translate`` (C speed).
_BINARY_CONTROLS = bytes([*range(0, 9), *(b for b in range(14, 32) if b != 27)])


def page_id(url: str | None, content: str) -> str:
    """Stable id: the same URL and content give the same id on every run and runner."""
    return _page_id_of(url, content.encode("utf-8", errors="surrogatepass"))


def _page_id_of(url: str | None, encoded: bytes) -> str:
    """``page_id`` from the content's UTF-8 bytes (surrogates passed), when they are at hand."""
    digest = hashlib.sha256()
    digest.update((url or "").encode("utf-8"))
    digest.update(b"\0")
    digest.update(encoded)
    return digest.hexdigest()[:24]


def gunzip_bounded(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, every member of it, refusing output over ``max_bytes``.

    A gzip bomb stops early; data cut short (no end of stream) is ``bad_gzip``,
    not a page with cut text; further members (``cat a.gz b.gz``) are read too,
    as gzip(1) reads them.
    """
    out = io.BytesIO()
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.write(inflater.decompress(rest, max_bytes + 1 - out.tell()))
            while inflater.unconsumed_tail and out.tell() <= max_bytes:
                out.write(inflater.decompress(inflater.unconsumed_tail, max_bytes + 1 - out.tell()))
            if out.tell() > max_bytes:
                raise StageError("too_large", f"gzip expands to more than {max_bytes} bytes")
            if not inflater.eof:
                raise StageError(
                    "bad_gzip", f"gzip data is truncated after {len(data)} bytes (no end of stream)"
                )
            rest = inflater.unused_data
            # gzip(1) ignores zero padding after the last member; anything else is a member.
            if not rest.strip(b"\0"):
                return out.getvalue()
    except zlib.error as exc:
        raise StageError("bad_gzip", f"gzip data is corrupt: {exc}") from exc


def _is_binary(data: bytes) -> bool:
    head = data[:SNIFF_BYTES]
    controls = len(head) - len(head.translate(None, _BINARY_CONTROLS))
    return controls > BINARY_CONTROL_SHARE * max(len(head), 1)


def _utf16_without_bom(data: bytes) -> str | None:
    """Name of the UTF-16 variant when ASCII-heavy text is stored as UTF-16 without a BOM."""
    head = data[:SNIFF_BYTES]
    if len(head) < 4:
        return None
    even_zero = head[0::2].count(0) / len(head[0::2])
    odd_zero = head[1::2].count(0) / len(head[1::2])
    if odd_zero > 0.3 and even_zero < 0.05:
        return "utf-16-le"
    if even_zero > 0.3 and odd_zero < 0.05:
        return "utf-16-be"
    return None


def _declared_charset(data: bytes) -> str | None:
    """The charset the page declares, as a codec name, or None (none, unknown, or not text)."""
    head = data[:SNIFF_BYTES]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    return web_charset(match.group(1).decode("ascii", errors="ignore"))


def web_charset(name: str) -> str | None:
    """A declared charset's codec name, or None (unknown, or a codec no page is written in)."""
    try:
        info = codecs.lookup(name.strip().lower())
    except LookupError:
        return None
    # rot13, base64, zlib...: codecs, not charsets; a page cannot be written in them.
    if not info._is_text_encoding or info.name in _NOT_WEB_CHARSETS:
        return None
    # A declaration readable as ASCII is not UTF-16/32 (the HTML standard reads such a
    # page as UTF-8); real UTF-16 is found by its BOM or its zero bytes first.
    if info.name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return info.name


def _looks_like_text(text: str) -> bool:
    """False when a decoding produced mostly controls, unassigned or private-use characters."""
    head = text[:SNIFF_BYTES]
    # Each distinct character is classified once (a page's head has a few hundred).
    odd = sum(
        head.count(ch)
        for ch in set(head)
        if unicodedata.category(ch) in _NON_TEXT_CATEGORIES and ch not in "\t\n\r\f"
    )
    return odd <= BINARY_CONTROL_SHARE * max(len(head), 1)


# Why a page was decoded as it was (counted as ``charset_<why>``; dead letters say it too).
WHY_BOM = "bom"
WHY_UTF16_ZEROS = "utf16_zeros"
WHY_UTF8 = "utf8"
WHY_UTF8_OVER_DECLARED = "utf8_over_declared"
WHY_DECLARED = "declared"
WHY_UTF8_REPAIRED = "utf8_repaired"
WHY_DETECTED = "detected"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode page bytes to text; returns (text, encoding). Raises StageError for non-text."""
    text, encoding, _, _ = _decode_checked(data)
    return text, encoding


def _decode_checked(data: bytes, hint: str | None = None) -> tuple[str, str, bool, str]:
    """``decode_bytes``, whether the text is ``data`` read as strict UTF-8, and why that codec.

    ``hint``: the charset the transport declared (HTTP Content-Type), taken as the page's
    declaration when the page declares none."""
    text, encoding, exact, why = _decode_any(data, hint)
    if not _looks_like_text(text):
        raise StageError("binary", f"decoded as {encoding} ({why}), the page is not text")
    return text, encoding, exact, why


def _decode_any(data: bytes, hint: str | None = None) -> tuple[str, str, bool, str]:
    """The order: a BOM; UTF-16's zero bytes; bytes valid as UTF-8 (whatever the page declares:
    a lying declaration is common, UTF-8 that is not UTF-8 is vanishingly rare); the declared
    charset; UTF-8 with a few broken bytes; else charset_normalizer's best guess."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, False, WHY_BOM
            except UnicodeDecodeError as exc:
                raise StageError(
                    "bad_encoding", f"invalid {encoding} after its BOM: {exc}"
                ) from exc
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return data.decode(utf16), utf16, False, WHY_UTF16_ZEROS
        except UnicodeDecodeError:
            pass
    if _is_binary(data):
        raise StageError("binary", "control bytes in the page: not text")
    declared = _declared_charset(data) or (web_charset(hint) if hint else None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        lied = declared not in (None, "utf-8", "ascii")
        return text, "utf-8", True, WHY_UTF8_OVER_DECLARED if lied else WHY_UTF8
    if declared and declared not in ("utf-8", "ascii"):
        try:
            return data.decode(declared), declared, False, WHY_DECLARED
        except UnicodeDecodeError:
            pass  # a wrong declaration is common: the bytes decide
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    if invalid <= MAX_INVALID_UTF8_SHARE * len(data) + 1:
        return text, "utf-8", False, WHY_UTF8_REPAIRED
    guess = charset_normalizer.from_bytes(data).best()
    if guess is None:
        said = f"declared {declared} does not fit" if declared else "no charset is declared"
        raise StageError(
            "bad_encoding",
            f"{invalid} bytes are not UTF-8, {said}, and no charset fits the bytes",
        )
    return str(guess), codecs.lookup(guess.encoding).name, False, WHY_DETECTED


def sniff_kind(text: str) -> str:
    """HTML or a text capture, recognised by content rather than by the file name."""
    if _HTML_START.match(text[:SNIFF_BYTES]):
        return KIND_HTML
    head = text[: 64 * 1024]
    tags = len(_HTML_TAG.findall(head))
    if tags >= 3 and tags * 1000 >= HTML_TAGS_PER_KCHAR * len(head):
        return KIND_HTML
    return KIND_TEXT


def _iso_or_none(value: object) -> str | None:
    """A crawler's fetched_at as ISO 8601 UTC, or None when missing or unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def _from_json_line(page: Page, max_bytes: int) -> Page:
    try:
        record = json.loads(page.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StageError("bad_json", f"not a JSON object: {exc}") from exc
    if not isinstance(record, dict):
        raise StageError("bad_json", f"a JSON line must be an object, got {type(record).__name__}")
    html, text = record.get("html"), record.get("text")
    if isinstance(html, str) and html.strip():
        body, kind = html, KIND_HTML
    elif isinstance(text, str) and text.strip():
        body, kind = text, KIND_TEXT
    else:
        raise StageError("no_content", "JSON line has neither a non-empty 'html' nor 'text'")
    url = record.get("url") if isinstance(record.get("url"), str) else None
    encoded = body.encode("utf-8", errors="surrogatepass")
    if len(encoded) > max_bytes:
        raise StageError("too_large", f"page is {len(encoded)} bytes, limit {max_bytes}")
    return Page(
        source=page.source,
        body=encoded,
        size_bytes=page.size_bytes,
        url=url,
        declared_kind=kind,
        fetched_at=_iso_or_none(record.get("fetched_at")) or page.fetched_at,
    )


def decode_page(page: Page, max_bytes: int = DEFAULT_MAX_PAGE_BYTES) -> Document:
    """Decode one page; raises StageError with a reason for what cannot be a document."""
    if page.size_bytes > max_bytes:
        raise StageError("too_large", f"page is {page.size_bytes} bytes, limit {max_bytes}")
    data = page.body
    if data.startswith(GZIP_MAGIC):
        data = gunzip_bounded(data, max_bytes)
    if page.declared_kind == "jsonl":
        page = _from_json_line(page, max_bytes)
        data = page.body
    if not data.strip():
        raise StageError("empty", "the page is empty or only white space")
    content, encoding, exact, why = _decode_checked(data, page.charset)
    count(f"charset_{why}")
    # Searching for one character is far cheaper than for "\r\n" in a wide string, and in
    # strict UTF-8 bytes an ASCII byte is that character.
    has_cr, has_nul = (
        (b"\r" in data, b"\x00" in data) if exact else ("\r" in content, "\x00" in content)
    )
    if has_cr:
        content = content.replace("\r\n", "\n")
    if has_nul:
        content = content.replace("\x00", "")
    if not content.strip():
        raise StageError("empty", "the page is empty or only white space")
    kind = page.declared_kind if page.declared_kind in (KIND_HTML, KIND_TEXT) else None
    # Unchanged strict UTF-8: the page's bytes are the content's UTF-8, no need to encode again.
    unchanged = exact and not has_cr and not has_nul
    return Document(
        id=_page_id_of(page.url, data) if unchanged else page_id(page.url, content),
        source=page.source,
        kind=kind or sniff_kind(content),
        content=content,
        size_bytes=page.size_bytes,
        url=page.url,
        fetched_at=page.fetched_at,
        encoding=encoding,
    )


def _decode_read(page: Page, max_bytes: int) -> Document:
    """Count the page as read; a page its source could not read is a dead letter (stage read)."""
    count("pages_read")
    if page.failure is not None:
        raise StageError(*page.failure, stage=STAGE_READ)
    return decode_page(page, max_bytes)


class DecodePages(beam.PTransform):
    """Pages to Documents; unreadable and undecodable pages go to ``dead_letters`` with their reason."""

    def __init__(self, max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES):
        super().__init__()
        self._max = max_page_bytes

    def expand(self, pages):
        return pages | GuardedMap(STAGE_DECODE, partial(_decode_read, max_bytes=self._max))
