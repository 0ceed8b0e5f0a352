"""The dates stage on whole pages we write: one test per family of errors of issue 14, and a
page in each language dateparser must read."""

from __future__ import annotations

from datetime import UTC, datetime

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.datelines import apply_datelines
from transforms.dates import NormalizeDates, find_published, load_publishers, parse_human
from transforms.dates.parsing import parse_words
from transforms.failures import DEAD_LETTERS, MAIN
from transforms.records import (
    DAY,
    INFERRED_DAY,
    KIND_HTML,
    KIND_TEXT,
    TIME_NO_ZONE,
    TIME_WITH_ZONE,
    Article,
)

REFERENCE = datetime(2026, 11, 23, 12, tzinfo=UTC)
PUBLISHERS = load_publishers()
STORY = ("<p>The two delegations met for three hours at the border village and agreed to "
         "meet again within a month, officials from both sides said after the talks.</p>")


def page(head: str = "", body: str = "", lang: str = "en",
         title: str = "Delegations agree to meet again next month") -> str:
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{title} | The Daily Example</title>{head}</head>"
            f"<body><header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
            f"<article><h1>{title}</h1>{body}{STORY * 3}</article>"
            f"<footer><p>Contact us</p></footer></body></html>")


def html_article(document: str, url: str | None = None, fetched_at: str | None = None,
                 language: str | None = None) -> Article:
    return Article(id="p1", source="test", kind=KIND_HTML, url=url, title=None, text="Body.",
                   document=document, fetched_at=fetched_at, language=language)


def dated(document: str, url: str | None = None, **kw):
    return find_published(html_article(document, url, **kw), REFERENCE, PUBLISHERS)


def instant_ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


# --- 1. UTC stamps, local days ------------------------------------------------------------

META = '<meta property="article:published_time" content="{}">'
LD = ('<script type="application/ld+json">{{"@context": "https://schema.org", '
      '"@type": "NewsArticle", "headline": "Talks", "datePublished": "{}"{}}}</script>')


@pytest.mark.parametrize(
    "head, lang, url, want, offset, how",
    [
        # An evening story in New York, stamped in UTC by its CMS.
        (META.format("2024-03-26T01:30:00Z"), "en-US", None, ("2024-03-25", "21:30"),
         "-04:00", "zone:lang:en-US"),
        # A night story in Buenos Aires: the country's domain gives the zone.
        (META.format("2024-03-27T02:10:00+00:00"), "es",
         "https://www.diario.example.com.ar/politica/nota-123", ("2024-03-26", "23:10"),
         "-03:00", "zone:tld"),
        # Curitiba: the page's locale says Brazil.
        (LD.format("2024-03-27T01:00:00.000Z", ""), "pt-BR", None, ("2024-03-26", "22:00"),
         "-03:00", "zone:lang:pt-BR"),
        # New Year's Eve in Vienna: 23:30 UTC is already the new year there.
        (META.format("2023-12-31T23:30:00Z"), "de-AT", None, ("2024-01-01", "00:30"),
         "+01:00", "zone:lang:de-AT"),
        # A German page with no country: the language stands for its one zone.
        (META.format("2023-12-31T23:30:00Z"), "de", None, ("2024-01-01", "00:30"), "+01:00",
         "zone:language:de"),
        # The page's other stamp carries the publisher's offset.
        (LD.format("2024-03-26T22:40:00Z", ', "dateModified": "2024-03-27T09:00:00+02:00"'),
         "en", None, ("2024-03-27", "00:40"), "+02:00", "zone:page-offset"),
    ],
)
def test_a_utc_stamp_is_dated_on_the_publishers_local_day(head, lang, url, want, offset, how):
    stamp = (head.split('content="')[-1].split('"')[0] if "meta" in head
             else head.split('"datePublished": "')[1].split('"')[0])
    got = dated(page(head, lang=lang), url)
    assert (got.date, got.time, got.utc_offset, got.certainty) == (*want, offset, TIME_WITH_ZONE)
    assert how in got.evidence
    # The instant is the one the stamp names, whatever the local day.
    assert got.instant_ms == instant_ms(stamp.replace("Z", "+00:00"))


def test_a_utc_stamp_takes_the_day_of_the_url_when_nothing_else_knows_the_zone():
    got = dated(page(META.format("2024-03-27T03:00:00Z")),
                "https://news.example.com/2024/03/26/delegations-agree")
    assert (got.date, got.time, got.utc_offset, got.certainty) == ("2024-03-26", None, None, DAY)
    assert got.evidence.endswith("day:url")
    assert got.instant_ms == instant_ms("2024-03-27T03:00:00+00:00")


def test_a_page_that_shows_the_utc_day_keeps_it():
    body = ('<p><time itemprop="datePublished" datetime="2020-10-28T22:22:49.000Z">'
            "28 October 2020</time></p>")
    got = dated(page(META.format("2020-10-28T22:22:49Z"), body, lang="en-AU"))
    assert (got.date, got.utc_offset) == ("2020-10-28", "+00:00")
    assert "day:shown" in got.evidence


def test_a_midnight_utc_stamp_is_a_day():
    got = dated(page(META.format("2020-01-10T00:00:00+00:00"), lang="en-US"))
    assert (got.date, got.time, got.certainty) == ("2020-01-10", None, DAY)


def test_a_stamp_with_its_own_offset_is_not_moved():
    got = dated(page(META.format("2024-03-26T23:30:00-03:00"), lang="de"))
    assert (got.date, got.time, got.utc_offset) == ("2024-03-26", "23:30", "-03:00")


# --- 2. Dates the page shows ----------------------------------------------------------------


def test_json_ld_in_a_script_without_its_type_is_read():
    head = ('<script>{"@context": "https://schema.org", "@type": "NewsArticle", '
            '"datePublished": "2019-10-16T14:33:00+02:00"}</script>')
    got = dated(page(head))
    assert (got.date, got.time, got.evidence) == ("2019-10-16", "14:33", "json-ld:datePublished")


def test_an_abbr_date_is_read_from_its_title_not_its_text():
    body = ('<p>By Ann Lee <abbr class="published" itemprop="datePublished" '
            'title="2019-10-16T14:33:00-04:00">2:33 PM</abbr></p>')
    got = dated(page(body=body))
    assert (got.date, got.time, got.utc_offset, got.evidence) == (
        "2019-10-16", "14:33", "-04:00", "itemprop:datePublished")


@pytest.mark.parametrize(
    "where",
    [
        # Far below the headline, after the story, in a dated span.
        lambda story: story * 4 + '<p><span class="meta-date">03.02.2022</span></p>',
        # A dated heading above a blog post's own title.
        lambda story: "",
    ],
)
def test_a_dotted_date_outside_the_byline_window_is_found(where):
    body = where(STORY)
    doc = page(body=body, lang="de", title="Neue Radwege in der Innenstadt geplant")
    if not body:
        doc = doc.replace("<article>", "<article><h3>03.02.2022</h3>")
    got = dated(doc)
    assert got.date == "2022-02-03"


def test_a_dotted_date_with_time_in_running_text_is_found():
    body = "<p>Die Meldung wurde am 25.08.2015 22:30 aktualisiert.</p>"
    got = dated(page(body=STORY * 4 + body, lang="de", title="Stadtrat beschließt Haushalt"))
    assert got.date == "2015-08-25"


# --- 3. Day and month -------------------------------------------------------------------------


def test_a_dotted_date_is_day_first_even_on_an_english_page():
    assert parse_human("3.11.2023", False, 2024).day.isoformat() == "2023-11-03"
    got = dated(page(body="<p>Posted 3.11.2023</p>"))
    assert got.date == "2023-11-03"


def test_numeric_dates_are_day_first_on_a_spanish_page():
    head = '<meta property="article:published_time" content="10/05/2022 05:22 pm">'
    got = dated(page(head, lang="es"))
    assert (got.date, got.time) == ("2022-05-10", "17:22")


# --- 4. Someone else's date ---------------------------------------------------------------


def test_a_reviewed_books_date_is_not_the_posts_date():
    head = ('<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "Book", "name": "The Long Winter", "datePublished": "2016-05-03"}</script>')
    body = ('<h2 class="date-header"><span>Wednesday, July 12, 2017</span></h2>'
            '<div itemscope itemtype="https://schema.org/Book"><span itemprop="name">'
            'The Long Winter</span> <meta itemprop="datePublished" content="2016-05-03"></div>')
    doc = page(head, body, title="Review: The Long Winter, a novel of the north")
    assert dated(doc).date == "2017-07-12"


def test_a_review_nested_in_an_article_keeps_the_articles_date():
    head = ('<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@type": "BlogPosting", "datePublished": "2017-07-12T08:00:00+02:00", '
            '"itemReviewed": {"@type": "Book", "datePublished": "2016-05-03"}}</script>')
    assert dated(page(head)).date == "2017-07-12"


# --- 5. Yearless datelines near midnight ----------------------------------------------------

KCNA = ("PYONGYANG, March 30 (KCNA) -- The Supreme People's Assembly opened its session "
        "on Saturday, the agency said.")


@pytest.mark.parametrize("fetched_at", ["2024-03-30T08:00:00+09:00", "2024-03-29T23:00:00Z"])
def test_a_yearless_dateline_fetched_early_in_the_korean_day_is_this_years(fetched_at):
    a = Article(id="k1", source="test", kind=KIND_TEXT, url=None, title=None, text=KCNA,
                document=KCNA, fetched_at=fetched_at)
    got = find_published(apply_datelines(a), REFERENCE, PUBLISHERS)
    assert (got.date, got.certainty, got.evidence) == ("2024-03-30", INFERRED_DAY, "dateline")


def test_a_yearless_dateline_after_the_fetch_day_is_last_years():
    a = Article(id="k1", source="test", kind=KIND_TEXT, url=None, title=None, text=KCNA,
                document=KCNA, fetched_at="2024-03-28T12:00:00Z")
    got = find_published(apply_datelines(a), REFERENCE, PUBLISHERS)
    assert got.date == "2023-03-30"


# --- 6. An impossible offset ----------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["2024-03-26T10:00:00+25:00", "2024-03-26T10:00:00+09:75"])
def test_an_impossible_offset_is_ignored_not_a_dead_letter(stamp):
    doc = page(META.format(stamp))
    got = dated(doc)
    assert (got.date, got.time, got.utc_offset, got.certainty) == (
        "2024-03-26", "10:00", None, TIME_NO_ZONE)
    with TestPipeline() as p:
        out = p | beam.Create([html_article(doc)]) | NormalizeDates(REFERENCE)
        assert_that(out[MAIN] | beam.Map(lambda a: a.published.date),
                    equal_to(["2024-03-26"]), label="main")
        assert_that(out[DEAD_LETTERS], equal_to([]), label="dead")


# --- Languages: dateparser with the page's language -----------------------------------------


@pytest.mark.parametrize(
    "lang, line, day, time",
    [
        ("en", "Posted on Tuesday the 26th of March 2024", "2024-03-26", None),
        ("de", "Veröffentlicht am 26. März 2024, 14:30 Uhr", "2024-03-26", "14:30"),
        ("fr", "Publié le mardi 26 mars 2024 à 14h30", "2024-03-26", "14:30"),
        ("es", "Publicado el martes, 26 de marzo de 2024", "2024-03-26", None),
        ("pt", "Publicado em 26 de março de 2024", "2024-03-26", None),
        ("ru", "Опубликовано 26 марта 2024 г., 14:30", "2024-03-26", "14:30"),
        ("zh", "发布时间：2024年3月26日 14:30", "2024-03-26", "14:30"),
        ("ja", "公開日：2024年3月26日", "2024-03-26", None),
        ("ko", "입력 2024년 3월 26일 14:30", "2024-03-26", "14:30"),
    ],
)
def test_a_date_in_words_is_read_in_the_pages_language(lang, line, day, time):
    got = dated(page(body=f"<p>{line}</p>", lang=lang))
    assert (got.date, got.time) == (day, time)
    assert got.evidence.startswith("byline:")


def test_dateparser_needs_a_full_date_and_is_not_asked_about_long_lines():
    assert parse_words("Veröffentlicht im März", "de", True) is None
    assert parse_words("am 26. März 2024 " + "und so weiter " * 10, "de", True) is None
    assert parse_words("2024년 3월 26일", "ko", False).day.isoformat() == "2024-03-26"


# --- The page's own rendering and address ---------------------------------------------------


def test_a_local_time_the_page_shows_gives_the_offset_of_a_utc_stamp():
    head = LD.format("2023-11-09T05:30:59Z", "")
    body = ("<p>By Staff reports</p><p>PUBLISHED:</p><p>November 8, 2023 at 11:30 p.m.</p>"
            "<p>| UPDATED:</p><p>November 9, 2023 at 12:21 a.m.</p>")
    got = dated(page(head, body, lang="en-US"))
    assert (got.date, got.time, got.utc_offset) == ("2023-11-08", "23:30", "-06:00")
    assert "zone:shown-time" in got.evidence
    assert got.instant_ms == instant_ms("2023-11-09T05:30:00+00:00")  # minutes are kept


def test_a_label_on_its_own_line_names_the_next_lines_date():
    body = "<p>Updated:</p><p>March 28, 2024</p><p>Published:</p><p>March 26, 2024</p>"
    got = dated(page(body=body))
    assert (got.date, got.evidence) == ("2024-03-26", "byline:Published")


def test_dates_in_menu_links_after_the_headline_are_not_the_pages():
    body = ('<nav><a href="/a">12. Mai 2012</a> <a href="/b">Termine 15.10.2011</a></nav>'
            '<p>Eingestellt am <span class="date">13.01.2014</span></p>')
    got = dated(page(body=body, lang="de", title="Echte Demokratie jetzt in allen Städten"))
    assert got.date == "2014-01-13"


def test_a_generic_date_meta_yields_to_the_date_the_page_shows():
    head = '<meta name="dcterms.date" content="2022-01-21T09:43+01:00">'
    body = '<p><time class="date-display-single" datetime="2022-01-25T08:00:00+01:00">25.01.2022</time></p>'
    got = dated(page(head, body, lang="de", title="Neue Regeln für die Taxonomie der EU"))
    assert got.date == "2022-01-25"


def test_the_day_in_the_pages_address_outranks_a_rewritten_stamp():
    head = ('<link rel="canonical" href="https://www.example-blog.de/home/2017/7/12/montauk">'
            + LD.format("2019-06-17T18:28:00+0200", ""))
    got = dated(page(head))
    assert (got.date, got.certainty, got.evidence) == ("2017-07-12", DAY, "url over json-ld:datePublished")


def test_publication_times_of_a_list_of_stories_say_nothing_of_this_one():
    teasers = "".join(
        f'<li><time class="published" datetime="{d}T10:00:00">{d}</time> Another story</li>'
        for d in ("2020-12-03", "2023-01-06", "2017-09-06"))
    body = f"<p>Veröffentlicht am 31.10.2023</p><ul>{teasers}</ul>"
    got = dated(page(body=body, lang="de", title="Intendantenwechsel beim Sender"))
    assert got.date == "2023-10-31"
