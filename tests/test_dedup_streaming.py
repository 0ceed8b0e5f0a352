"""Streaming syndication with TestStream: late, out-of-order copies and the state TTL."""

from __future__ import annotations

from dataclasses import replace

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from tests.test_dedup import (
    INQUIRY,
    ORIGINAL,
    REPREFIXED,
    TRUNCATED,
    UNRELATED,
    UPDATE,
    article,
)
from transforms.dedup import ARTICLES, COPIES, DetectSyndication, _StreamingSyndication

DAY = 86_400  # seconds
T0 = 1_748_908_800  # 2025-06-03T00:00:00Z, a fixed event-time origin


def _options() -> PipelineOptions:
    options = PipelineOptions(runner="DirectRunner")
    options.view_as(StandardOptions).streaming = True
    return options


def _run(stream: TestStream, articles: list[str], copies: list[tuple[str, str]],
         ttl_days: float = 7.0) -> dict[str, int]:
    """Run the stream through DetectSyndication(streaming=True); return its counters."""
    p = TestPipeline(options=_options())
    out = p | stream | DetectSyndication(streaming=True, ttl_days=ttl_days)
    assert_that(out[ARTICLES] | "Ids" >> beam.Map(lambda a: (a.id, a.syndicated_from)),
                equal_to([(i, None) for i in articles]), label="articles")
    assert_that(out[COPIES] | "Links" >> beam.Map(lambda a: (a.id, a.syndicated_from.canonical_id)),
                equal_to(copies), label="copies")
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(MetricsFilter())["counters"]
    totals: dict[str, int] = {}
    for c in counters:
        totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    return totals


def _at(article, seconds: float) -> TimestampedValue:
    return TimestampedValue(article, T0 + seconds)


def _stream() -> TestStream:
    return TestStream(coder=PickleCoder()).advance_watermark_to(T0 - DAY)


def test_copy_after_its_original():
    stream = (
        _stream()
        .add_elements([_at(ORIGINAL, 0)])
        .add_elements([_at(INQUIRY, 3600), _at(UNRELATED, 3700)])
        .advance_watermark_to(T0 + DAY)
        .add_elements([_at(TRUNCATED, DAY + 60)])
        .add_elements([_at(REPREFIXED, DAY + 120)])
        .add_elements([_at(UPDATE, DAY + 180)])
        .advance_watermark_to_infinity()
    )
    _run(stream, ["orig", "inquiry", "velotrak", "update"],
         [("trunc", "orig"), ("prefixed", "orig")])


def test_byte_identical_pages_are_one_article_and_exact_copies():
    # Identical pages under other names share the id (it is the content's): copies with
    # similarity 1.0, also where the text is too thin for the shingle check.
    again = replace(ORIGINAL, source="test/again.html")
    blank, blank_again = (article("blank", "", title=None, source_name=name) for name in "xy")
    p = TestPipeline(options=_options())
    stream = (
        _stream()
        .add_elements([_at(ORIGINAL, 0), _at(blank, 10)])
        .add_elements([_at(again, 60), _at(blank_again, 70)])
        .advance_watermark_to_infinity()
    )
    out = p | stream | DetectSyndication(streaming=True)
    assert_that(out[ARTICLES] | "Ids" >> beam.Map(lambda a: (a.id, a.source)),
                equal_to([("orig", "test/orig"), ("blank", "test/x")]), label="articles")
    assert_that(out[COPIES] | "Links" >> beam.Map(
        lambda a: (a.id, a.source, a.syndicated_from.canonical_id, a.syndicated_from.similarity,
                   a.syndicated_from.containment)),
        equal_to([("orig", "test/again.html", "orig", 1.0, 1.0),
                  ("blank", "test/y", "blank", 1.0, 1.0)]), label="copies")
    p.run().wait_until_finish()


def test_counters_in_one_bundle():
    # The BundleBasedDirectRunner keeps a keyed step's counters from one bundle
    # only (measured), so the counted events share one bundle here; elements of
    # one bundle and one key are processed in list order.
    stream = (
        _stream()
        .add_elements([_at(TRUNCATED, 2 * 3600), _at(ORIGINAL, 0), _at(REPREFIXED, 3 * 3600)])
        .advance_watermark_to_infinity()
    )
    counters = _run(stream, ["trunc"], [("orig", "trunc"), ("prefixed", "trunc")])
    assert counters["syndicated_copies"] == 2
    assert counters["syndication_canonical_outranked"] == 2


def test_copy_inherits_the_canonical_agency():
    p = TestPipeline(options=_options())
    stream = (_stream().add_elements([_at(ORIGINAL, 0)]).add_elements([_at(TRUNCATED, 60)])
              .advance_watermark_to_infinity())
    out = p | stream | DetectSyndication(streaming=True)
    assert_that(out[COPIES] | beam.Map(lambda a: (a.id, a.agency, a.syndicated_from.canonical_id)),
                equal_to([("trunc", "Reuters", "orig")]))
    p.run().wait_until_finish()


def test_out_of_order_shorter_copy_first_stays_canonical():
    # The truncated copy is written first; the fuller original (earlier event
    # time, arriving later) becomes its copy: streaming output is final.
    stream = (
        _stream()
        .add_elements([_at(TRUNCATED, 2 * 3600)])
        .add_elements([_at(ORIGINAL, 0)])
        .advance_watermark_to_infinity()
    )
    _run(stream, ["trunc"], [("orig", "trunc")])


def test_late_copy_behind_the_watermark_still_matches():
    stream = (
        _stream()
        .add_elements([_at(ORIGINAL, 0)])
        .advance_watermark_to(T0 + 5 * DAY)
        .add_elements([_at(INQUIRY, 4 * DAY)])
        .add_elements([_at(REPREFIXED, 2 * DAY)])  # late: event time behind the watermark
        .advance_watermark_to_infinity()
    )
    _run(stream, ["orig", "inquiry"], [("prefixed", "orig")])


def test_copy_after_the_ttl_becomes_a_new_canonical():
    stream = (
        _stream()
        .add_elements([_at(ORIGINAL, 0)])
        .add_elements([_at(RESAVE_6D, 6 * DAY)])  # within the TTL: a copy, refreshing the story
        .advance_watermark_to(T0 + 14 * DAY)
        .add_elements([_at(TRUNCATED, 13.5 * DAY)])  # 7.5 days after the last sighting
        .add_elements([_at(UNRELATED, 14 * DAY)])
        .advance_watermark_to(T0 + 40 * DAY)
        .add_elements([_at(REPREFIXED, 40 * DAY)])  # everything earlier is past the TTL
        .advance_watermark_to_infinity()
    )
    _run(stream, ["orig", "trunc", "velotrak", "prefixed"], [("resave6", "orig")])


def test_ttl_is_an_option():
    stream = (
        _stream()
        .add_elements([_at(ORIGINAL, 0)])
        .add_elements([_at(TRUNCATED, 2 * DAY)])
        .advance_watermark_to_infinity()
    )
    _run(stream, ["orig", "trunc"], [], ttl_days=1.0)


RESAVE_6D = replace(ORIGINAL, id="resave6", source="test/resave6")


# The sweep, driven by hand: timer callbacks' counters and state are not
# observable through the local runners, so the DoFn runs on in-memory state.
class _Value:
    def __init__(self):
        self.value = None

    def read(self):
        return self.value

    def write(self, value):
        self.value = value

    def clear(self):
        self.value = None


class _Bag(_Value):
    def __init__(self):
        self.value = []

    def read(self):
        return list(self.value)

    def add(self, value):
        self.value.append(value)

    def clear(self):
        self.value = []


class _Timer:
    def __init__(self):
        self.at = None

    def set(self, ts):
        self.at = ts


class _State:
    def __init__(self):
        self.records, self.version, self.newest = _Bag(), _Value(), _Value()
        self.oldest, self.armed, self.timer = _Value(), _Value(), _Timer()

    def process(self, fn, article, seconds):
        return list(fn.process(
            ("k", article), Timestamp(T0 + seconds), self.records, self.version, self.newest,
            self.oldest, self.armed, self.timer))

    def sweep(self, fn, fired_seconds):
        list(fn._sweep("k", Timestamp(T0 + fired_seconds), self.records, self.version,
                       self.newest, self.oldest, self.armed))

    def ids(self):
        return sorted(r[1].id for r in self.records.read() if r[0] == "entry")


def test_sweep_keeps_entries_within_the_ttl_even_when_the_timer_fires_early():
    fn = _StreamingSyndication(ttl_days=7.0)
    fn.setup()
    state = _State()
    state.process(fn, ORIGINAL, 0)
    state.process(fn, INQUIRY, 2 * DAY)
    assert state.timer.at == Timestamp(T0 + 8 * DAY)  # oldest + TTL + one sweep day
    # The local live runner fires the timer at once: newest event is day 2,
    # so nothing is past its TTL and nothing may be dropped.
    state.sweep(fn, 8 * DAY)
    assert state.ids() == ["inquiry", "orig"]
    assert state.armed.read() is None  # the next article re-arms it
    state.process(fn, UNRELATED, 8.5 * DAY)
    state.sweep(fn, 8.5 * DAY)
    assert state.ids() == ["inquiry", "velotrak"]  # orig is 8.5 days old, inquiry 6.5
    # A fresh DoFn instance (a restart) rebuilds its index from state alone.
    other = _StreamingSyndication(ttl_days=7.0)
    other.setup()
    out = state.process(other, replace(INQUIRY, id="inquiry-copy"), 9 * DAY)
    assert [o.value.syndicated_from.canonical_id for o in out] == ["inquiry"]


def test_state_stays_bounded_over_a_long_stream():
    fn = _StreamingSyndication(ttl_days=2.0)
    fn.setup()
    state = _State()
    for day in range(30):
        for n in range(3):
            body = f"distinct story {day} {n} " + " ".join(f"w{day}x{n}x{i}" for i in range(40))
            state.process(fn, replace(UNRELATED, id=f"s{day}-{n}", text=body), day * DAY + n)
        state.sweep(fn, day * DAY + 10)
        # TTL (2 days) + the sweep margin (1 day) + today: at most 4 days of entries.
        assert len(state.ids()) <= 4 * 3
