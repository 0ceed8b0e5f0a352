"""Tests for the publication-dates stage: formats, zones, the ceiling, seeds and mentioned days."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.datelines import apply_datelines
from transforms.dates import (
    Locale,
    NormalizeDates,
    apply_dates,
    find_published,
    load_publishers,
    mentioned_days,
    parse_human,
    parse_machine,
)
from transforms.failures import DEAD_LETTERS, MAIN
from transforms.records import (
    DAY,
    INFERRED_DAY,
    KIND_HTML,
    KIND_TEXT,
    TIME_NO_ZONE,
    TIME_WITH_ZONE,
    Article,
    Published,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
REFERENCE = datetime(2024, 4, 1, tzinfo=UTC)
PUBLISHERS = load_publishers()


def article(
    text: str = "Body.",
    *,
    kind: str = KIND_TEXT,
    document: str | None = None,
    header: tuple[str, ...] = (),
    url: str | None = None,
    publisher: str | None = None,
    fetched_at: str | None = None,
) -> Article:
    return Article(
        id="a1",
        source="test",
        kind=kind,
        url=url,
        title=None,
        text=text,
        publisher=publisher,
        fetched_at=fetched_at,
        document=document if document is not None else text,
        header=header,
    )


def html_page(head: str = "", body: str = "") -> str:
    title = "<title>Leaders meet in Seoul today</title>"
    return f"<html><head>{title}{head}</head><body>{body}</body></html>"


def published_of(a: Article, reference: datetime = REFERENCE) -> Published | None:
    return find_published(a, reference, PUBLISHERS)


# --- Parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, day, time, offset",
    [
        ("2024-03-26T19:20:00+09:00", "2024-03-26", (19, 20), 540),
        ("2024-03-26T10:20:00Z", "2024-03-26", (10, 20), 0),
        ("2024-03-26T10:20:00.123-04:00", "2024-03-26", (10, 20), -240),
        ("2020-12-29T16:19:16+0300", "2020-12-29", (16, 19), 180),
        ("20201123T11:02:35Z", "2020-11-23", (11, 2), 0),
        ("2020-12-05T23:15:0Z", "2020-12-05", (23, 15), 0),
        ("2024-03-26 19:20:00", "2024-03-26", (19, 20), None),
        ("2024-03-26", "2024-03-26", None, None),
        ("Wed, 28 Oct 2020 22:22:49 GMT", "2020-10-28", (22, 22), 0),
        ("Thu, 28 Mar 2024 09:00:00 +0900", "2024-03-28", (9, 0), 540),
    ],
)
def test_parse_machine(value, day, time, offset):
    reading = parse_machine(value)
    assert reading is not None
    assert reading.day.isoformat() == day
    assert reading.time == time
    assert reading.offset_minutes == offset


def test_parse_machine_keeps_a_zone_abbreviation():
    reading = parse_machine("2020-09-29T00:30:00PDT")
    assert reading.abbreviation == "PDT" and reading.offset_minutes is None


@pytest.mark.parametrize(
    "text, day_first, day, time",
    [
        ("March 25, 2024", False, "2024-03-25", None),
        ("By Thomson Reuters Mar 29, 2024 | 5:20 AM", False, "2024-03-29", (5, 20)),
        ("Published : March 26, 2024 - 19:20", False, "2024-03-26", (19, 20)),
        ("Updated: Apr 29, 2018, 04:10 PM IST", False, "2018-04-29", (16, 10)),
        ("Sept. 18, 2023 at 7:05 p.m.", False, "2023-09-18", (19, 5)),
        # Ordinal suffixes.
        ("March 1st, 2024", False, "2024-03-01", None),
        ("22nd March 2024", False, "2024-03-22", None),
        ("the 3rd of May, 2021", False, "2021-05-03", None),
        ("Aug 23rd 2019 2:15 pm", False, "2019-08-23", (14, 15)),
        # Two-digit years.
        ("Mar 29, '24", False, "2024-03-29", None),
        ("29/03/24", True, "2024-03-29", None),
        ("03/29/99", False, "1999-03-29", None),
        # Numeric order: European sites put the day first; a day over 12 settles it anyway.
        ("05/04/2024", True, "2024-04-05", None),
        ("05/04/2024", False, "2024-05-04", None),
        ("29.03.2024 14:30", False, "2024-03-29", (14, 30)),
        ("2024/03/29", True, "2024-03-29", None),
        # Noon and midnight.
        ("March 29, 2024 12:00 PM", False, "2024-03-29", (12, 0)),
        ("March 29, 2024 12:30 AM", False, "2024-03-29", (0, 30)),
        ("March 29, 2024, noon", False, "2024-03-29", (12, 0)),
        ("March 29, 2024, 12 noon", False, "2024-03-29", (12, 0)),
        ("March 29, 2024 midnight", False, "2024-03-29", (0, 0)),
        ("11:25 PM - 10 Jul 2020", False, "2020-07-10", (23, 25)),
        # Other languages' month names.
        ("9 oktober 2020 11:12", True, "2020-10-09", (11, 12)),
        ("24 de agosto de 2020", True, "2020-08-24", None),
        ("3. März 2021", True, "2021-03-03", None),
    ],
)
def test_parse_human(text, day_first, day, time):
    reading = parse_human(text, day_first, 2024)
    assert reading is not None
    assert reading.day.isoformat() == day
    assert reading.time == time


@pytest.mark.parametrize(
    "text",
    ["North Korea admitted in 2002 to kidnapping", "in the 1970s and 1980s", "24/7 coverage",
     "Registration certificate 06691200", "It scored 29 in March"],
)
def test_parse_human_takes_no_year_alone(text):
    assert parse_human(text, False, 2024) is None


# --- Zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, publisher, url, time, offset",
    [
        # IST is India time on an Indian site, Irish summer time on an Irish one.
        ("Updated: Apr 29, 2018, 04:10 PM IST", "WION", None, "16:10", "+05:30"),
        ("Updated: Jun 29, 2018, 04:10 PM IST", None, "https://www.example.ie/news/1", "16:10",
         "+01:00"),
        ("Updated: Jan 29, 2018, 04:10 PM IST", None, "https://www.example.co.il/a", "16:10",
         "+02:00"),
        ("Posted March 26, 2024 7:20 PM KST", None, None, "19:20", "+09:00"),
        ("Posted March 26, 2024 7:20 PM JST", None, None, "19:20", "+09:00"),
        # ET follows US summer time.
        ("Published March 26, 2024 7:20 AM ET", None, None, "07:20", "-04:00"),
        ("Published January 26, 2024 7:20 AM ET", None, None, "07:20", "-05:00"),
        ("Published January 26, 2024 7:20 AM (GMT+10)", None, None, "07:20", "+10:00"),
        # A bare time takes the publisher's default zone.
        ("Published : March 26, 2024 - 19:20", "The Korea Herald", None, "19:20", "+09:00"),
        ("Published : March 26, 2024 - 19:20", None, "https://www.koreaherald.com/view.php",
         "19:20", "+09:00"),
    ],
)
def test_zones(header, publisher, url, time, offset):
    got = published_of(article(header=(header,), publisher=publisher, url=url))
    assert (got.time, got.utc_offset, got.certainty) == (time, offset, TIME_WITH_ZONE)
    assert got.instant_ms is not None


def test_bare_time_without_publisher_has_no_zone():
    got = published_of(article(header=("Mar 29, 2024 | 5:20 AM",)))
    assert (got.time, got.utc_offset, got.instant_ms, got.certainty) == (
        "05:20", None, None, TIME_NO_ZONE)


def test_utc_stamp_is_dated_in_the_publishers_zone():
    page = html_page('<meta property="article:published_time" content="2020-12-05T23:15:00Z">')
    got = published_of(article(kind=KIND_HTML, document=page, url="https://giornale.example.it/a"))
    assert (got.date, got.time, got.utc_offset) == ("2020-12-06", "00:15", "+01:00")
    assert got.instant_ms == int(datetime(2020, 12, 5, 23, 15, tzinfo=UTC).timestamp() * 1000)


def test_instant_is_epoch_millis():
    got = published_of(article(header=("Published : March 26, 2024 - 19:20",),
                               publisher="Korea Herald"))
    assert got.instant_ms == int(datetime(2024, 3, 26, 10, 20, tzinfo=UTC).timestamp() * 1000)


def test_editable_table(tmp_path):
    table = tmp_path / "publishers.toml"
    table.write_text('[[publisher]]\nnames = ["Gazette"]\nutc_offset = "+03:00"\n')
    got = find_published(article(header=("Published March 26, 2024 10:00",), publisher="Gazette"),
                         REFERENCE, load_publishers(str(table)))
    assert got.utc_offset == "+03:00"


# --- Evidence order and the ceiling ------------------------------------------------------------

LD = ('<script type="application/ld+json">{"@type": "NewsArticle", '
      '"datePublished": "2024-03-26T19:20:00+09:00", "dateModified": "2024-03-28T08:00:00+09:00"}'
      "</script>")


@pytest.mark.parametrize(
    "head, body, url, day, evidence",
    [
        (LD, "", None, "2024-03-26", "json-ld:datePublished"),
        ('<meta property="article:modified_time" content="2024-03-28T01:00:00Z">'
         '<meta property="article:published_time" content="2024-03-20T01:00:00Z">', "", None,
         "2024-03-20", "meta:article:published_time"),
        ("", '<time itemprop="datePublished" datetime="2024-03-21T08:00:00Z">Mar 21</time>', None,
         "2024-03-21", "itemprop:datePublished"),
        ("", "<p>Tue, 26 Mar 2024</p><h1>Leaders meet in Seoul today</h1>"
             "<p>By Jane Roe</p><p>Updated March 27, 2024</p><p>Published March 25, 2024</p>",
         None, "2024-03-25", "byline:Published"),
        ("", "<h1>Leaders meet in Seoul today</h1><p>Nothing dated.</p>",
         "https://news.example.com/2024/03/22/leaders-meet", "2024-03-22", "url"),
        ("", "<p>Nothing dated.</p>", None, None, None),
    ],
)
def test_html_evidence(head, body, url, day, evidence):
    got = published_of(article(kind=KIND_HTML, document=html_page(head, body), url=url))
    assert (got.date, got.evidence) == (day, evidence) if day else got is None


def test_published_preferred_over_updated_in_header():
    got = published_of(article(header=("Updated: March 28, 2024", "Published: March 26, 2024")))
    assert (got.date, got.evidence) == ("2024-03-26", "header:Published")


@pytest.mark.parametrize(
    "fetched_at, reference, want",
    [
        # A date after the fetch time is not the publication date: the next evidence is used.
        ("2024-03-27T00:00:00Z", REFERENCE, "2024-03-25"),
        (None, datetime(2024, 3, 27, tzinfo=UTC), "2024-03-25"),
        (None, REFERENCE, "2024-03-29"),
    ],
)
def test_ceiling(fetched_at, reference, want):
    a = article(header=("Published: March 29, 2024",), fetched_at=fetched_at,
                url="https://example.com/2024/03/25/story")
    assert published_of(a, reference).date == want


def test_year_in_a_sentence_is_not_a_date():
    a = article("North Korea admitted in 2002 to kidnapping 13 Japanese citizens.")
    assert published_of(a) is None


@pytest.mark.parametrize(
    "text, reference, want",
    [
        ("SEOUL — KCNA reported on Friday (March 29), citing the minister.", REFERENCE,
         "2024-03-29"),
        ("SEOUL — KCNA reported on Friday (March 29), citing the minister.",
         datetime(2026, 11, 23, tzinfo=UTC), "2024-03-29"),
        ("The ministry said on Thursday, March 28 that talks would resume.", REFERENCE,
         "2024-03-28"),
    ],
)
def test_weekday_and_yearless_day_is_inferred(text, reference, want):
    got = published_of(article(text), reference)
    assert (got.date, got.certainty, got.evidence) == (want, INFERRED_DAY, "text:weekday")


def test_dateline_day_is_inferred():
    a = apply_datelines(article("SEOUL, Sept 18 (Reuters) - Talks resumed."))
    got = published_of(a, datetime(2024, 3, 1, tzinfo=UTC))
    assert (got.date, got.certainty, got.evidence) == ("2023-09-18", INFERRED_DAY, "dateline")


# --- Mentioned days ------------------------------------------------------------------------

TUESDAY = Published("2024-03-26", None, None, None, DAY, "test")


@pytest.mark.parametrize(
    "text, phrase, day",
    [
        ("the sister of the leader said Tuesday.", "said Tuesday", "2024-03-26"),
        ("held a press conference Monday stating", "press conference Monday", "2024-03-25"),
        ("Yonhap reported on Monday citing", "reported on Monday", "2024-03-25"),
        ("Kim met Moon on Friday after the talks", "on Friday", "2024-03-22"),
        ("as he did last Tuesday", "last Tuesday", "2024-03-19"),
        ("will meet next Monday", "next Monday", "2024-04-01"),
        ("the statement issued yesterday", "yesterday", "2024-03-25"),
        ("a day after she said", "a day after", "2024-03-25"),
        ("two days after the summit", "two days after", "2024-03-24"),
        ("late on Saturday", "late on Saturday", "2024-03-23"),
    ],
)
def test_mentioned_days(text, phrase, day):
    assert (phrase, day) in {(m.phrase, m.date) for m in mentioned_days(text, TUESDAY)}


def test_weekday_with_a_written_date_is_not_a_relative_mention():
    assert mentioned_days("on Friday, March 29, talks ended", TUESDAY) == ()


# --- Seeds: the captures in seeds/, as a capture cleaner hands them on ------------------------


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def seed_article(prefix: str, header: tuple[str, ...], first: str, last: str,
                 publisher: str | None = None) -> Article:
    """An article from a seed capture: the given header lines, and the body from ``first``
    (a paragraph's opening words) to the paragraph ending with ``last``, inclusive."""
    capture = seed(prefix)
    start = capture.index(first)
    end = capture.index(last, start) + len(last)
    body = "\n\n".join(p.strip() for p in capture[start:end].split("\n\n") if p.strip())
    return apply_datelines(article(body, document=capture, header=header, publisher=publisher))


SEED_ARTICLES = {
    "000": lambda: seed_article(
        "000", ("By Thomson Reuters Mar 29, 2024 | 5:20 AM", "By Hyunsu Yim"),
        "SEOUL (Reuters)", "prompting fresh sanctions from Seoul and Washington."),
    "001": lambda: seed_article(
        "001", ("The Korea Herald", "By Yonhap", "Published : March 26, 2024 - 19:20",
                "• Link copied", "Kim Yo-jong (Herald DB) Kim Yo-jong (Herald DB)"),
        "North Korea will refuse all contact", "(Yonhap)", publisher="The Korea Herald"),
    "002": lambda: seed_article(
        "002", ("Contacts",), "SEOUL — North Korea", "quoted as saying in the KCNA report.",
        publisher="Asian-News.net"),
    "003": lambda: seed_article(
        "003", ("March 25, 2024", "2 mins read"), "A summit meeting between", "(ANI)",
        publisher="Asian Lite News"),
    "004": lambda: seed_article(
        "004", ("ugc_banner", "WION Web Team",
                "New Delhi, Delhi, IndiaUpdated: Apr 29, 2018, 04:10 PM IST", "main img",
                "File photo of North Korean leader Kim Jong-Un. Photograph:(Reuters)"),
        "North Korea leader Kim Jong-Un has agreed", "long-range missile tests last year.",
        publisher="WION"),
}


@pytest.mark.parametrize(
    "prefix, day, time, offset, certainty",
    [
        ("000", "2024-03-29", "05:20", None, TIME_NO_ZONE),
        ("001", "2024-03-26", "19:20", "+09:00", TIME_WITH_ZONE),
        ("002", "2024-03-29", None, None, INFERRED_DAY),
        ("003", "2024-03-25", None, None, DAY),
        ("004", "2018-04-29", "16:10", "+05:30", TIME_WITH_ZONE),
    ],
)
@pytest.mark.parametrize("reference", [REFERENCE, datetime(2026, 11, 23, tzinfo=UTC)])
def test_seed_published(prefix, day, time, offset, certainty, reference):
    got = published_of(SEED_ARTICLES[prefix](), reference)
    assert (got.date, got.time, got.utc_offset, got.certainty) == (day, time, offset, certainty)
    assert (got.instant_ms is not None) == (certainty == TIME_WITH_ZONE)


@pytest.mark.parametrize(
    "prefix, phrase, day",
    [
        ("001", "said Tuesday", "2024-03-26"),
        ("001", "press conference Monday", "2024-03-25"),
        ("003", "reported on Monday", "2024-03-25"),
        ("004", "said Sunday", "2018-04-29"),
        ("004", "on Friday", "2018-04-27"),
    ],
)
def test_seed_mentioned_days(prefix, phrase, day):
    dated = apply_dates(SEED_ARTICLES[prefix](), REFERENCE, PUBLISHERS)
    assert (phrase, day) in {(m.phrase, m.date) for m in dated.mentioned_days}
    assert dated.document is None


# --- The composite -------------------------------------------------------------------------


def test_normalize_dates_composite():
    dated = article(header=("Published : March 26, 2024 - 19:20",), publisher="Korea Herald",
                    text="The minister said Tuesday.")
    undated = Article(id="a2", source="test", kind=KIND_TEXT, url=None, title=None,
                      text="No date here.", document="No date here.")
    with TestPipeline() as p:
        out = p | beam.Create([dated, undated]) | NormalizeDates(REFERENCE)
        assert_that(
            out[MAIN] | "Days" >> beam.Map(
                lambda a: (a.id, a.published.date if a.published else None,
                           tuple(m.date for m in a.mentioned_days), a.document)),
            equal_to([("a1", "2024-03-26", ("2024-03-26",), None), ("a2", None, (), None)]),
            label="main",
        )
        assert_that(out[DEAD_LETTERS], equal_to([]), label="dead letters")


def test_a_dated_sentence_in_a_capture_is_not_the_publication_date():
    capture = ("Talks resume\n\nOn March 3, 2002, the two leaders met in Pyongyang and signed a "
               "declaration that set out the path to normal relations between them.\n")
    assert published_of(article(capture.split("\n\n")[1], document=capture)) is None


def test_a_weekday_day_deep_in_the_body_is_not_inferred():
    text = "Talks resumed. " + "More background. " * 50 + "They met on Friday (March 29)."
    assert published_of(article(text)) is None


def test_declared_url_gives_the_locale_when_the_page_comes_without_one():
    page = html_page('<link rel="canonical" href="https://giornale.example.it/a">'
                     '<meta property="article:published_time" content="2020-12-05T23:15:00Z">')
    got = published_of(article(kind=KIND_HTML, document=page))
    assert (got.date, got.utc_offset) == ("2020-12-06", "+01:00")


def test_epoch_attribute_is_read_in_utc():
    page = html_page(body='<span data-time-ms="1594448702000">Jul 10</span>')
    got = published_of(article(kind=KIND_HTML, document=page))
    assert (got.date, got.time, got.utc_offset, got.evidence) == (
        "2020-07-11", "06:25", "+00:00", "attr:data-time")


def test_an_announced_weekday_day_is_not_the_publication_day():
    text = "The band will tour. Tickets go on sale at 10 a.m. Friday, Dec. 6."
    assert published_of(article(text)) is None


# --- The weekday scan is the full-text regex scan, only faster --------------------------------
_MENTION_WORDS = ("on", "last", "next", "this", "coming", "Friday", "Monday,", "Dec.", "6", "said",
                  "late", "the", "Tuesday", "Sunday's", "Friday-night", "KCNA", "since", "by",
                  "reported", "x" * 120, "(March", "29)")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_MENTION_WORDS), max_size=30), st.sampled_from((" ", "  ", "\n")))
def test_weekday_scan_finds_what_the_regex_finds_over_the_whole_text(words, sep):
    from transforms.dates.mentions import _WEEKDAY_MENTION, _weekday_mentions

    text = sep.join(words)
    want = [(m.span(), m.groupdict()) for m in _WEEKDAY_MENTION.finditer(text)]
    assert [(m.span(), m.groupdict()) for m in _weekday_mentions(text)] == want


def _locale_by_scan(table, publisher, url):
    """The publisher lookup as a plain scan of the rules in order (the specification)."""
    from urllib.parse import urlsplit

    from transforms.dates.tables import name_key

    host = (urlsplit(url).hostname or "").lower() if url else ""
    key = name_key(publisher) if publisher else ""
    for rule in table.publishers:
        if key and key in rule.names:
            return rule.locale
        if host and any(host == h or host.endswith("." + h) for h in rule.hosts):
            return rule.locale
    if host and (country := dict(table.tlds).get(host.rsplit(".", 1)[-1])):
        return dict(table.countries)[country]
    return Locale()


def test_publisher_lookup_is_the_rule_scan_on_every_name_and_host():
    table = load_publishers()
    names = [n for rule in table.publishers for n in rule.names] + ["The Korea Herald", "Nobody"]
    hosts = [h for rule in table.publishers for h in rule.hosts]
    urls = [None, "https://example.org/a", "https://news.example.co.kr/x", "https://x.jp/"]
    urls += [f"https://{h}/story" for h in hosts] + [f"https://www.{h}/s" for h in hosts]
    urls += [f"https://not{h}/s" for h in hosts]
    for publisher in [None, *names]:
        for url in urls:
            assert table.locale(publisher, url) == _locale_by_scan(table, publisher, url), (
                publisher, url)
