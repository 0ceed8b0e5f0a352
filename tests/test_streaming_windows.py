"""Streaming windows with TestStream: the whole pipeline, written to Avro files, read back per window.

Each test drives ``pipeline.build.process(..., streaming=True)`` and the
windowed writer used on runners with full semantics (``write_streaming(...,
live_local=False)``) on the BundleBasedDirectRunner, then reads the files back
and checks each window's (and pane's) records exactly. Windows are 60 s; the
dedup TTL is 0.01 days (864 s), which is also the windows' allowed lateness.
"""

from __future__ import annotations

import glob
import json
import os
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import fastavro
from apache_beam.coders import PickleCoder
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to_per_window
from apache_beam.transforms.window import FixedWindows, IntervalWindow, TimestampedValue

from pipeline.build import process
from pipeline.options import NewsbeamOptions
from pipeline.sinks import OUTPUTS, write_streaming
from pipeline.sources import page_event_time, pubsub_page, read_watched, ready_files
from tests.corpus import html_page
from tests.support import REFERENCE_TIME
from transforms.output import ToRecords
from transforms.records import Page

T0 = 1_748_908_800  # 2025-06-03T00:00:00Z, event-time origin of every test
WINDOW = 60
TTL_DAYS = 0.01  # 864 s of event time
TTL_SECONDS = TTL_DAYS * 86_400
_FILE = re.compile(r"part-(\d{8}T\d{6})-\d{8}T\d{6}-(early|on_time|late)-[0-9a-f]{12}\.avro$")

# Our own story texts: three distinct stories of six paragraphs each.
_PLACES = ["the harbour", "the old mill", "the river ward", "the north terminal"]


def _story(seed: int) -> list[str]:
    rng = random.Random(seed)
    nouns = ("ferry timetable tram depot library roof canal lock bakery licence "
             "school kitchen bus lane orchard lease market hall").split()
    paragraphs = []
    for n in range(6):
        words = " ".join(rng.choice(nouns) for _ in range(40))
        paragraphs.append(f"Paragraph {n} of story {seed}: councillors at {rng.choice(_PLACES)} "
                          f"voted on the {words} before the session closed.")
    return paragraphs


FERRY, TRAM, ORCHARD, LIBRARY = _story(1), _story(2), _story(3), _story(4)


def _page(name: str, paragraphs: list[str], at: float, title: str | None = None) -> TimestampedValue:
    """A JSON-line page fetched at ``T0 + at``, stamped with that event time (as ``read_watched`` does)."""
    body = json.dumps({
        "url": f"https://news.example.test/{name}",
        "html": html_page(title or f"Council votes {name.split('-')[0]}", paragraphs),
        "fetched_at": datetime.fromtimestamp(T0 + at, UTC).isoformat(),
    }).encode()
    page = Page(f"feed.jsonl:{name}", body, len(body), declared_kind="jsonl")
    assert page_event_time(page) == T0 + at
    return TimestampedValue(page, T0 + at)


def _stream() -> TestStream:
    return TestStream(coder=PickleCoder()).advance_watermark_to(T0)


def _run(stream: TestStream, output: Path, per_window: dict | None = None) -> dict:
    """Run the pipeline on ``stream``; return {(kind, window start s, timing): [rows of each file]}.

    A row is (page name, canonical id or None, id). A pane may be several files
    (shards); a late pane is always a file of its own, apart from the on-time one.
    """
    options = PipelineOptions([f"--dedup_ttl_days={TTL_DAYS}", f"--window_seconds={WINDOW}",
                               f"--output={output}"])
    options.view_as(StandardOptions).streaming = True
    opts = options.view_as(NewsbeamOptions)
    p = TestPipeline(options=options)
    outputs = process(p | stream, opts, datetime.fromisoformat(REFERENCE_TIME), streaming=True)
    for kind, pcoll in (("articles", outputs.articles), ("copies", outputs.copies),
                        ("dead_letters", outputs.dead_letters)):
        records = pcoll | f"Records/{kind}" >> ToRecords(kind, 0, "test")
        write_streaming(records, str(output), kind, live_local=False, window_seconds=WINDOW,
                        allowed_lateness_seconds=TTL_SECONDS)
        if per_window and kind in per_window:
            assert_that(
                records
                | f"Win/{kind}" >> beam.WindowInto(FixedWindows(WINDOW))
                | f"Names/{kind}" >> beam.Map(lambda r: r["source"].split(":")[-1]),
                equal_to_per_window(per_window[kind]), use_global_window=False,
                label=f"PerWindow/{kind}")
    p.run().wait_until_finish()
    return _read_back(output)


def _read_back(output: Path) -> dict:
    found: dict = {}
    for kind in OUTPUTS:
        for path in glob.glob(str(output / kind / "*.avro")):
            match = _FILE.search(os.path.basename(path))
            assert match, path
            start = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            key = (kind, int(start.timestamp()) - T0, match.group(2))
            with open(path, "rb") as handle:
                rows = sorted((r["source"].split(":")[-1],
                               r["syndicated_from"]["canonical_id"] if r.get("syndicated_from")
                               else None, r["id"]) for r in fastavro.reader(handle))
            found.setdefault(key, []).extend(rows)
    return {key: sorted(rows) for key, rows in found.items()}


def _names(found: dict) -> dict:
    """{(kind, window start, timing): [page names]}."""
    return {key: [row[0] for row in rows] for key, rows in found.items()}


def _rows(found: dict) -> list[tuple]:
    return [row for rows in found.values() for row in rows]


def _id(found: dict, name: str) -> str:
    return next(row[2] for row in _rows(found) if row[0] == name)


def _canonical(found: dict, name: str) -> str | None:
    return next(row[1] for row in _rows(found) if row[0] == name)


def _window(start: int) -> IntervalWindow:
    return IntervalWindow(T0 + start, T0 + start + WINDOW)


def test_pages_arriving_over_time_fill_two_windows(tmp_path):
    stream = (
        _stream()
        .add_elements([_page("ferry", FERRY, 5)])
        .add_elements([_page("tram", TRAM, 20)])
        .advance_watermark_to(T0 + 70)  # the first window fires
        .add_elements([_page("orchard", ORCHARD, 65)])
        .add_elements([_page("ferry-wire", FERRY, 90, title="Council votes ferry (wire)")])
        .advance_watermark_to_infinity()
    )
    per_window = {
        "articles": {_window(0): ["ferry", "tram"], _window(60): ["orchard"]},
        "copies": {_window(60): ["ferry-wire"]},
    }
    found = _run(stream, tmp_path, per_window)
    assert _names(found) == {
        ("articles", 0, "on_time"): ["ferry", "tram"],
        ("articles", 60, "on_time"): ["orchard"],
        ("copies", 60, "on_time"): ["ferry-wire"],
    }
    # The copy, in a later window than its original, names the original's id.
    assert _canonical(found, "ferry-wire") == _id(found, "ferry")


def test_shorter_copy_first_stays_canonical_and_the_fuller_original_becomes_its_copy(tmp_path):
    # Out of order: a cut-down copy (half the story) is fetched before the full
    # original. Streaming output is final, so the first-written record stays
    # canonical and the fuller page is written as its copy (transforms/dedup.py).
    stream = (
        _stream()
        .add_elements([_page("library-short", LIBRARY[:3], 10)])
        .add_elements([_page("library", LIBRARY, 15)])
        .advance_watermark_to_infinity()
    )
    found = _run(stream, tmp_path)
    assert _names(found) == {
        ("articles", 0, "on_time"): ["library-short"],
        ("copies", 0, "on_time"): ["library"],
    }
    assert _canonical(found, "library") == _id(found, "library-short")


def test_late_pages_within_the_allowed_lateness_are_a_further_pane_later_ones_are_dropped(tmp_path):
    # The watermark passes the first window's end (60 s); pages of that window
    # arriving afterwards are late. Within the allowed lateness (the dedup TTL,
    # 864 s) each is written at once as a further pane, in its own file; the
    # on-time file is kept. Once the watermark passes 60 + 864 s the window is
    # expired and a page for it is dropped by the runner.
    stream = (
        _stream()
        .add_elements([_page("ferry", FERRY, 5)])
        .advance_watermark_to(T0 + 200)
        .add_elements([_page("tram", TRAM, 30)])  # late, within the allowed lateness
        .advance_watermark_to(T0 + 300)
        .add_elements([_page("ferry-wire", FERRY, 40)])  # late copy: still matched
        .advance_watermark_to(T0 + WINDOW + TTL_SECONDS + 60)
        .add_elements([_page("orchard", ORCHARD, 50)])  # beyond the allowed lateness
        .advance_watermark_to_infinity()
    )
    found = _run(stream, tmp_path)
    assert _names(found) == {
        ("articles", 0, "on_time"): ["ferry"],
        ("articles", 0, "late"): ["tram"],  # its own file: the on-time one is kept
        ("copies", 0, "late"): ["ferry-wire"],
    }
    assert _canonical(found, "ferry-wire") == _id(found, "ferry")


def test_dedup_state_expires_after_the_ttl(tmp_path):
    # The TTL counts from a story's last sighting: the copy at 500 s matches
    # (and refreshes it); one more than 864 s after that is a new article.
    stream = (
        _stream()
        .add_elements([_page("tram", TRAM, 5)])
        .advance_watermark_to(T0 + 480)
        .add_elements([_page("tram-wire", TRAM, 500, title="Council votes tram (wire)")])
        .advance_watermark_to(T0 + 1380)
        .add_elements([_page("tram-later", TRAM, 500 + TTL_SECONDS + 20,
                             title="Council votes tram (archive)")])
        .advance_watermark_to_infinity()
    )
    found = _run(stream, tmp_path)
    assert _names(found) == {
        ("articles", 0, "on_time"): ["tram"],
        ("copies", 480, "on_time"): ["tram-wire"],
        ("articles", 1380, "on_time"): ["tram-later"],
    }
    assert _canonical(found, "tram-wire") == _id(found, "tram")
    assert _canonical(found, "tram-later") is None


# ---------------------------------------------------------------- event time of watched files


def _read(folder: Path) -> dict[str, float]:
    """Pages of the folder as the watcher reads them: {source name: event time}."""
    from apache_beam.io.filesystem import FileMetadata

    times = {}
    for path, size, mtime in ready_files(str(folder / "*"), 0, now=2e9):
        metadata = FileMetadata(path, size, last_updated_in_seconds=mtime)
        for stamped in read_watched(metadata, 1 << 20, ()):
            times[os.path.basename(stamped.value.source)] = stamped.timestamp.micros / 1e6
    return times


def test_event_time_is_fetched_at_when_given_else_the_file_mtime(tmp_path):
    mtime = T0 + 12_345
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join([
        json.dumps({"url": "u1", "text": "one", "fetched_at": "2025-06-03T01:00:00Z"}),
        json.dumps({"url": "u2", "text": "two", "fetched_at": T0 + 7}),  # epoch seconds
        json.dumps({"url": "u3", "text": "three"}),  # no fetched_at: the file's mtime
        json.dumps({"url": "u4", "text": "four", "fetched_at": "yesterday"}),  # unreadable
        "not json",  # decode dead-letters it; event time is the file's mtime
    ]) + "\n")
    page = tmp_path / "story.html"
    page.write_text(html_page("Council votes", FERRY))
    for path in (feed, page):
        os.utime(path, (mtime, mtime))
    assert _read(tmp_path) == {
        "feed.jsonl:1": T0 + 3600,
        "feed.jsonl:2": T0 + 7,
        "feed.jsonl:3": mtime,
        "feed.jsonl:4": mtime,
        "feed.jsonl:5": mtime,
        "story.html": mtime,
    }


def test_pubsub_event_time_is_fetched_at_else_the_publish_time():
    from apache_beam.utils.timestamp import Timestamp

    published = Timestamp(T0 + 99)
    given = pubsub_page(json.dumps({"text": "x", "fetched_at": T0 + 1}).encode(), published)
    missing = pubsub_page(json.dumps({"text": "x"}).encode(), published)
    broken = pubsub_page(b"{not json", published)  # decode dead-letters it, in its window
    assert [v.timestamp for v in (given, missing, broken)] == [Timestamp(T0 + 1), published, published]
