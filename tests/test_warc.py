"""WARC archives in: HTML responses as pages, other records counted, byte ranges, damage."""

from __future__ import annotations

import gzip
import io
import json
import random
import signal
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.archiveiterator import ArchiveIterator

from pipeline import warc
from pipeline.sources import ReadPages
from tests.support import read_records, run_newsbeam
from tests.warc_archives import Spec, archive_bytes, html_response, write_archive
from transforms.decode import decode_page
from transforms.failures import METRICS_NAMESPACE
from transforms.records import StageError

GOLDEN = Path(__file__).resolve().parent / "golden"
WHOLE = 10**12  # a range size larger than any archive: one read


def story(title: str, *paragraphs: str, meta: str = '<meta charset="utf-8">') -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


PAGE_A = story(
    "Lighthouse keepers return to the northern cape",
    "The northern cape lighthouse has its first resident keepers in thirty years, after the "
    "maritime trust decided that the old lamp room needed daily care through the winter storms.",
    "Two keepers, a retired ferry engineer and a former schoolteacher, moved into the cottage "
    "at the foot of the tower last week and will share the watches between them.",
    "The trust said visitors could climb the tower on Sundays from April, when the path along "
    "the cliff reopens after repairs to the fences and the wooden steps.",
)
PAGE_B = story(
    "Village orchard wins regional prize for old apple varieties",
    "An orchard planted by volunteers on the edge of the village has won the regional prize "
    "for keeping old apple varieties, some of which had not been grown in the county for decades.",
    "The volunteers grafted the trees from cuttings found in abandoned gardens and farm hedges, "
    "and now tend forty-two varieties, each labelled with where the cutting came from.",
    "Pressing day in October drew more than three hundred people, and the juice sold out before "
    "noon, the organisers said.",
)


def specs_of_a_crawl() -> list[Spec]:
    """One record of each kind a crawler writes, and two pages (one chunked and gzip-encoded)."""
    return [
        Spec("request", "https://news.example.org/lighthouse"),
        html_response("https://news.example.org/lighthouse", PAGE_A, date="2026-11-20T08:30:00Z"),
        Spec("metadata", "https://news.example.org/lighthouse", b"outlinks: 3\r\n"),
        html_response(
            "https://news.example.org/orchard", PAGE_B, date="2026-11-20T09:15:42.5Z",
            chunked=True, gzipped=True,
        ),
        Spec("revisit", "https://news.example.org/orchard"),
        html_response("https://news.example.org/old", b"", status="301 Moved Permanently"),
        html_response("https://news.example.org/gone", b"<p>not found</p>", status="404 Not Found"),
        Spec("response", "https://news.example.org/logo.png", b"\x89PNG\r\n\x1a\n",
             headers=(("Content-Type", "image/png"),)),
        Spec("dns", "dns:news.example.org", b"news.example.org. 300 IN A 192.0.2.7"),
    ]


def read_all(data: bytes, range_bytes: int = WHOLE, max_bytes: int = 10**6, path: str = "a.warc.gz"):
    """(outcome, page) of every record, reading the archive in ranges of ``range_bytes``."""
    found = []
    for rng in warc.split_archive(path, len(data), "2026-11-21T00:00:00+00:00", range_bytes):
        found.extend(warc.read_range(lambda: io.BytesIO(data), rng, max_bytes))
    return found


def summary(found) -> list[tuple]:
    """What must not depend on how the archive was cut into ranges (a damage's message names
    the error warcio raised, which depends on where the read began; its reason does not)."""
    return [
        (outcome, page and page.source, page and page.body, page and page.size_bytes,
         page and page.failure and page.failure[0])
        for outcome, page in found
    ]


# ---------------------------------------------------------------- records to pages


@pytest.mark.parametrize("compress", [True, False])
def test_html_responses_are_pages_and_every_other_record_is_counted(compress):
    buffer = io.BytesIO()
    offsets = write_archive(buffer, specs_of_a_crawl(), compress)
    found = read_all(buffer.getvalue())
    assert [outcome for outcome, _ in found] == [
        "skipped_warcinfo", "skipped_request", "pages", "skipped_metadata", "pages",
        "skipped_revisit", "skipped_redirect", "skipped_http_error", "skipped_not_html",
        "skipped_not_http",
    ]
    pages = [page for _, page in found if page is not None]
    assert [p.url for p in pages] == [
        "https://news.example.org/lighthouse", "https://news.example.org/orchard"
    ]
    assert [p.fetched_at for p in pages] == [
        "2026-11-20T08:30:00+00:00", "2026-11-20T09:15:42.500000+00:00"
    ]
    # Chunked transfer and gzip content encoding undone: the bytes the server meant.
    assert [p.body for p in pages] == [PAGE_A, PAGE_B]
    assert [p.size_bytes for p in pages] == [len(PAGE_A), len(PAGE_B)]
    assert [p.charset for p in pages] == ["utf-8", "utf-8"]
    assert [p.source for p in pages] == [f"a.warc.gz:{offsets[1]}", f"a.warc.gz:{offsets[3]}"]


def test_a_source_finds_its_record_again():
    data = archive_bytes(specs_of_a_crawl())
    for _, page in read_all(data):
        if page is None:
            continue
        path, offset = page.source.rsplit(":", 1)
        stream = io.BytesIO(data)
        stream.seek(int(offset))  # as `warcio extract --payload PATH OFFSET` does
        record = next(iter(ArchiveIterator(stream)))
        assert record.rec_headers.get_header("WARC-Target-URI") == page.url
        assert record.content_stream().read() == page.body


def test_the_http_charset_decodes_a_page_that_declares_none():
    japanese = "<html><body><p>拉致被害者の家族が東京で会見した。</p></body></html>"
    legacy = japanese.encode("shift_jis")
    specs = [
        html_response("https://jp.example.org/1", legacy, content_type="text/html; charset=Shift_JIS"),
        # A server's default charset over a UTF-8 page: the bytes, valid UTF-8, win.
        html_response("https://jp.example.org/2", japanese.encode("utf-8"),
                      content_type="text/html; charset=ISO-8859-1"),
        # The page's own declaration wins over the server's.
        html_response("https://jp.example.org/3",
                      legacy.replace(b"<html>", b'<html><meta charset="shift_jis">'),
                      content_type="text/html; charset=EUC-KR"),
    ]
    pages = [page for _, page in read_all(archive_bytes(specs)) if page is not None]
    assert [p.charset for p in pages] == ["shift_jis", "iso8859-1", "euc_kr"]
    docs = [decode_page(p) for p in pages]
    assert all("拉致被害者の家族" in doc.content for doc in docs)
    assert [doc.encoding for doc in docs] == ["shift_jis", "utf-8", "shift_jis"]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("text/html; charset=UTF-8", ("text/html", "utf-8")),
        ('text/html;charset="windows-1251"', ("text/html", "cp1251")),
        ("TEXT/HTML", ("text/html", None)),
        ("text/html; charset=no-such-charset", ("text/html", None)),
        ("application/xhtml+xml; charset=euc-jp", ("application/xhtml+xml", "euc_jp")),
        ("", ("", None)),
        (None, ("", None)),
    ],
)
def test_http_content_type(value, expected):
    assert warc.http_content_type(value) == expected


def test_a_response_without_content_type_uses_the_identified_payload_type_else_is_read():
    specs = [
        Spec("response", "https://x.example.org/a", PAGE_A, headers=()),
        Spec("response", "https://x.example.org/b", b"%PDF-1.4", headers=(
            ("Content-Type", "application/octet-stream"),)),
    ]
    data = archive_bytes(specs, compress=False)
    identified = data.replace(
        b"WARC-Target-URI: https://x.example.org/b\r\n",
        b"WARC-Target-URI: https://x.example.org/b\r\nWARC-Identified-Payload-Type: application/pdf\r\n",
    )
    # The header added above lengthens the WARC headers only, not the block: still valid.
    assert [o for o, _ in read_all(identified)] == ["skipped_warcinfo", "pages", "skipped_not_html"]


def test_an_oversized_page_is_cut_and_refused_as_too_large():
    big = story("Big", "word " * 5000)
    found = read_all(archive_bytes([html_response("https://x.example.org/big", big)]), max_bytes=4000)
    page = found[-1][1]
    assert page.size_bytes > 4000 and len(page.body) <= warc.EXCERPT_BYTES
    with pytest.raises(StageError) as caught:
        decode_page(page, max_bytes=4000)
    assert caught.value.reason == "too_large"


# ---------------------------------------------------------------- ranges


def many_pages(count: int) -> list[Spec]:
    specs = []
    for number in range(count):
        page = story(f"Story {number}", f"Paragraph {number} " * (20 + number * 7))
        specs.append(html_response(f"https://x.example.org/{number}", page,
                                   chunked=number % 3 == 0, gzipped=number % 2 == 0))
        if number % 4 == 0:
            specs.append(Spec("request", f"https://x.example.org/{number}"))
    return specs


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("range_bytes", [1, 97, 500, 1500, 4096])
def test_ranges_read_exactly_the_records_of_one_read(compress, range_bytes):
    data = archive_bytes(many_pages(15), compress)
    one = summary(read_all(data))
    assert len([o for o in one if o[0] == "pages"]) == 15
    assert summary(read_all(data, range_bytes)) == one


@pytest.mark.parametrize("compress", [True, False])
def test_ranges_of_damaged_archives_read_what_one_read_does(compress):
    data = archive_bytes(many_pages(8), compress)
    rnd = random.Random(20)
    damaged = [data[: rnd.randrange(len(data))] for _ in range(25)]  # cut anywhere
    for _ in range(25):  # bytes overwritten anywhere
        at, n = rnd.randrange(len(data)), rnd.randrange(1, 64)
        damaged.append(data[:at] + bytes(rnd.randrange(256) for _ in range(n)) + data[at + n :])
    for sample in damaged:
        one = summary(read_all(sample))
        for range_bytes in (61, 700):
            assert summary(read_all(sample, range_bytes)) == one


def test_a_split_is_a_range_of_at_most_range_bytes_and_covers_the_file():
    ranges = warc.split_archive("a.warc.gz", 1000, None, 300)
    assert [(r.start, r.end) for r in ranges] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert warc.split_archive("a.warc", 0, None, 300)[0].start == 0


# ---------------------------------------------------------------- damage


@pytest.mark.parametrize("compress", [True, False])
def test_an_archive_cut_in_a_record_keeps_what_came_before_and_one_dead_letter(compress):
    buffer = io.BytesIO()
    offsets = write_archive(buffer, many_pages(4), compress)
    data = buffer.getvalue()
    last = offsets[-1]
    for cut in (last + 1, last + 3, last + 40, (last + len(data)) // 2, (last + 3 * len(data)) // 4):
        found = read_all(data[:cut])
        pages = [p for o, p in found if o == "pages"]
        assert len(pages) == 3  # every complete page before the cut
        damaged = [p for o, p in found if o == "damaged"]
        assert len(damaged) == 1 and damaged[0].source == f"a.warc.gz:{last}"
        assert damaged[0].size_bytes == cut - last
        reason, error = damaged[0].failure  # decode makes it a dead letter, stage read
        assert reason == "warc_cut" and f"byte {last}" in error


def test_a_cut_in_the_gzip_trailer_of_the_last_record_keeps_the_record():
    """Its content is all there; only the member's checksum and length are missing."""
    data = archive_bytes(many_pages(2))
    assert [o for o, _ in read_all(data[:-4])] == [o for o, _ in read_all(data)]


def test_a_corrupt_gzip_member_is_one_dead_letter_and_reading_goes_on():
    buffer = io.BytesIO()
    offsets = write_archive(buffer, many_pages(4), compress=True)
    data = bytearray(buffer.getvalue())
    bad = offsets[2]  # the third page's member
    data[bad + 30 : bad + 60] = b"\x00" * 30
    found = read_all(bytes(data))
    assert [o for o, _ in found].count("pages") == 3
    damaged = [p for o, p in found if o == "damaged"]
    assert [p.source for p in damaged] == [f"a.warc.gz:{bad}"]
    assert damaged[0].failure[0] == "warc_corrupt"
    assert damaged[0].size_bytes == offsets[3] - bad  # up to the next readable record


def test_a_whole_file_gzip_is_refused_with_how_to_fix_it():
    plain = archive_bytes(many_pages(2), compress=False)
    found = read_all(gzip.compress(plain))
    reasons = [p.failure for o, p in found if o == "damaged"]
    assert len(reasons) == 1 and "warcio recompress" in reasons[0][1]


def test_a_file_that_is_no_archive_is_one_dead_letter():
    found = read_all(b"<html><body>not an archive</body></html>", path="x.warc")
    assert [(o, p.failure[0]) for o, p in found] == [("damaged", "warc_corrupt")]


# ---------------------------------------------------------------- in the pipeline


def test_read_pages_splits_an_archive_and_counts_its_records(tmp_path, monkeypatch):
    (tmp_path / "crawl.warc.gz").write_bytes(archive_bytes(specs_of_a_crawl() + many_pages(6)))
    (tmp_path / "plain.warc").write_bytes(archive_bytes(many_pages(3), compress=False))
    (tmp_path / "loose.html").write_bytes(PAGE_A)
    monkeypatch.setattr(warc, "RANGE_BYTES", 1024)  # several ranges per archive
    pipeline = TestPipeline()
    pages = pipeline | ReadPages([str(tmp_path / "*")], max_page_bytes=10**6)
    urls = pages | beam.Map(lambda page: (Path(page.source.split(":")[0]).name, page.url))
    expected = [("crawl.warc.gz", "https://news.example.org/lighthouse"),
                ("crawl.warc.gz", "https://news.example.org/orchard")]
    expected += [("crawl.warc.gz", f"https://x.example.org/{n}") for n in range(6)]
    expected += [("plain.warc", f"https://x.example.org/{n}") for n in range(3)]
    expected += [("loose.html", None)]
    assert_that(urls, equal_to(expected))
    result = pipeline.run()
    result.wait_until_finish()
    counted = {
        m.key.metric.name: m.committed
        for m in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    }
    assert counted["files_read"] == 3
    assert counted["warc_pages"] == 11
    assert counted["warc_ranges_read"] > 4
    assert counted["warc_skipped_request"] == 1 + 2 + 1
    # crawl.warc.gz: warcinfo, 9 specs, 6 pages and 2 requests; plain.warc: warcinfo, 3 and 1.
    assert counted["warc_records"] == (1 + 9 + 8) + (1 + 4)


def test_archive_pages_come_out_as_the_same_pages_read_as_html(tmp_path):
    pages = {
        "https://news.example.org/lighthouse": (PAGE_A, "2026-11-20T08:30:00Z"),
        "https://news.example.org/orchard": (PAGE_B, "2026-11-20T09:15:42Z"),
        "https://news.example.org/ferry": ((GOLDEN / "harbour_ferry.html").read_bytes(),
                                           "2026-11-19T23:59:59Z"),
    }
    crawl, files = tmp_path / "crawl", tmp_path / "files"
    crawl.mkdir()
    files.mkdir()
    specs = [html_response(url, html, date=date, chunked=i == 1, gzipped=i == 1)
             for i, (url, (html, date)) in enumerate(pages.items())]
    (crawl / "a.warc.gz").write_bytes(archive_bytes(specs))
    lines = [json.dumps({"url": url, "html": html.decode("utf-8"), "fetched_at": date})
             for url, (html, date) in pages.items()]
    (files / "pages.jsonl").write_text("\n".join(lines) + "\n")
    from_archive = run_newsbeam([str(crawl / "*.warc.gz")], tmp_path / "out_warc")
    from_files = run_newsbeam([str(files / "*.jsonl")], tmp_path / "out_files")
    assert from_archive["articles_written"] == from_files["articles_written"] == 3

    def by_url(output):
        return {r["url"]: r for r in read_records(output, "articles")}

    archive, loose = by_url(tmp_path / "out_warc"), by_url(tmp_path / "out_files")
    assert archive.keys() == loose.keys() == pages.keys()
    for url in pages:
        for name in ("text", "title", "fetched_at", "published", "id", "topics"):
            assert archive[url][name] == loose[url][name], (url, name)
        assert archive[url]["source"].startswith(str(crawl / "a.warc.gz") + ":")


def test_a_damaged_archive_is_one_dead_letter_and_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(warc, "RANGE_BYTES", 512)  # each archive in several ranges
    buffer = io.BytesIO()
    offsets = write_archive(buffer, [html_response("https://news.example.org/a", PAGE_A),
                                     html_response("https://news.example.org/b", PAGE_B)])
    data = buffer.getvalue()
    (tmp_path / "cut.warc.gz").write_bytes(data[: offsets[1] + 50])
    (tmp_path / "whole.warc.gz").write_bytes(data)
    result = run_newsbeam([str(tmp_path / "*.warc.gz")], tmp_path / "out")
    assert result["articles_written"] + result["syndicated_copies"] == 3
    assert result["dead_letters_by_reason"] == {"warc_cut": 1}
    assert result["accounted"]  # the books balance: two files read once each, pages = records
    assert result["books"]["read"]["files_read"] == 2
    dead = read_records(tmp_path / "out", "dead_letters")
    assert [(d["source"], d["stage"]) for d in dead] == [
        (f"{tmp_path / 'cut.warc.gz'}:{offsets[1]}", "read")
    ]


def test_an_archive_dropped_into_a_watched_folder_is_read_the_same_way(tmp_path):
    from tests.test_streaming_watch import drop, wait_for, watching

    inbox, output, staging = tmp_path / "inbox", tmp_path / "out", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    buffer = io.BytesIO()
    offsets = write_archive(buffer, specs_of_a_crawl())
    (staging / "crawl.warc.gz").write_bytes(buffer.getvalue())
    with watching(inbox, output, tmp_path) as process:
        drop(staging / "crawl.warc.gz", inbox)
        wait_for(lambda: len(read_records(output, "articles")) == 2, process, "both pages")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]
    articles = sorted(read_records(output, "articles"), key=lambda r: int(r["source"].rsplit(":", 1)[1]))
    archive = inbox / "crawl.warc.gz"
    assert [a["source"] for a in articles] == [f"{archive}:{offsets[1]}", f"{archive}:{offsets[3]}"]
    assert [a["url"] for a in articles] == [
        "https://news.example.org/lighthouse", "https://news.example.org/orchard"
    ]
    assert [a["fetched_at"].isoformat() for a in articles] == [
        "2026-11-20T08:30:00+00:00", "2026-11-20T09:15:42.500000+00:00"
    ]
    assert "2 pages read -> 2 articles" in stdout
