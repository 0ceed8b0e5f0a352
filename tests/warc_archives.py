"""WARC archives for tests and benchmarks, written with warcio from pages we give it."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass(frozen=True)
class Spec:
    """One record to write: a response (HTTP or not), or any other WARC-Type."""

    kind: str  # WARC-Type, or "dns" for a dns: response without HTTP
    url: str
    payload: bytes = b""
    date: str = "2026-11-20T08:30:00Z"
    status: str = "200 OK"
    headers: tuple[tuple[str, str], ...] = field(default=(("Content-Type", "text/html"),))


def html_response(
    url: str,
    html: bytes,
    date: str = "2026-11-20T08:30:00Z",
    content_type: str = "text/html; charset=utf-8",
    status: str = "200 OK",
    chunked: bool = False,
    gzipped: bool = False,
) -> Spec:
    """A response as a crawler stores it: the payload gzip-encoded and/or chunked as sent."""
    headers = [("Content-Type", content_type)] if content_type else []
    payload = html
    if gzipped:
        payload = gzip.compress(payload, mtime=0)
        headers.append(("Content-Encoding", "gzip"))
    if chunked:
        step = 700  # several chunks, split mid-word
        payload = b"".join(
            b"%x\r\n%s\r\n" % (len(payload[i : i + step]), payload[i : i + step])
            for i in range(0, len(payload), step)
        ) + b"0\r\n\r\n"
        headers.append(("Transfer-Encoding", "chunked"))
    return Spec("response", url, payload, date, status, tuple(headers))


def write_archive(out: BinaryIO, specs: list[Spec], compress: bool = True) -> list[int]:
    """Write ``specs`` after a warcinfo record; returns each spec's record offset."""
    writer = WARCWriter(out, gzip=compress)
    writer.write_record(writer.create_warcinfo_record("test.warc", {"software": "newsbeam tests"}))
    offsets = []
    for spec in specs:
        offsets.append(out.tell())
        writer.write_record(_record(writer, spec))
    return offsets


def archive_bytes(specs: list[Spec], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    write_archive(buffer, specs, compress)
    return buffer.getvalue()


def _record(writer: WARCWriter, spec: Spec):
    warc_headers = {"WARC-Date": spec.date}
    if spec.kind == "dns":
        return writer.create_warc_record(
            spec.url, "response", payload=io.BytesIO(spec.payload),
            warc_content_type="text/dns", warc_headers_dict=warc_headers,
        )
    if spec.kind == "revisit":
        return writer.create_revisit_record(
            spec.url, digest="sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ",
            refers_to_uri=spec.url, refers_to_date=spec.date,
        )
    if spec.kind in ("metadata", "resource"):
        return writer.create_warc_record(
            spec.url, spec.kind, payload=io.BytesIO(spec.payload),
            warc_content_type="application/warc-fields", warc_headers_dict=warc_headers,
        )
    if spec.kind == "request":
        http = StatusAndHeaders(
            f"GET {spec.url} HTTP/1.1", [("Host", "example.org")], is_http_request=True
        )
        return writer.create_warc_record(
            spec.url, "request", payload=io.BytesIO(b""), http_headers=http,
            warc_headers_dict=warc_headers,
        )
    http = StatusAndHeaders(spec.status, list(spec.headers), protocol="HTTP/1.1")
    return writer.create_warc_record(
        spec.url, "response", payload=io.BytesIO(spec.payload), http_headers=http,
        warc_headers_dict=warc_headers,
    )
