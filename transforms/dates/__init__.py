"""Publication dates: when a page was published, with time and zone, and the days it mentions.

The stage's modules, one per concern:

- ``tables``: thresholds, month and zone names, the publisher defaults table;
- ``parsing``: reading one date (cheap parsers, then dateparser in the page's language);
- ``structured``: what the page declares for machines (JSON-LD, meta, microdata, <time>),
  and its locale (lang, og:locale, other stamps' offsets, the URL's date);
- ``visible``: dated lines after the headline, in the header, atop text captures;
- ``library``: htmldate, where the structured readers find nothing or disagree;
- ``zones``: the publisher's zone and local day, and the ceiling;
- ``inferred``: yearless days (datelines, 'reported on Friday (March 29)');
- ``mentions``: the weekdays and relative days the text mentions;
- this module: the order of evidence, and the Beam composite ``NormalizeDates``.

Order of evidence on an HTML page (the first that gives a date not after the ceiling):
the page's declared dates (JSON-LD, then meta, microdata, <time> marked published; when
they name days more than one day apart, the one htmldate agrees with; when the page's
address names a day more than one day from them, that day), then the dated lines just
after the headline ('Published' ones first), then the first <time datetime> when all the
page's <time> stamps name about the same day, then generic meta names ('date', 'dc.date':
often the day the page was created or changed), then an epoch attribute, then htmldate, then
the dated lines of the header, any <time datetime>, modified stamps, the declared URL's
date, the given URL's date, yearless days, and last a year-only answer of htmldate. A text
capture: header lines, the capture's top lines, the URL, yearless days.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from functools import cached_property, partial
from itertools import chain

import apache_beam as beam

from transforms.dates.inferred import inferred_candidates
from transforms.dates.library import htmldate_reading
from transforms.dates.mentions import mentioned_days
from transforms.dates.parsing import Reading, parse_human, parse_machine, parse_words
from transforms.dates.structured import (
    Candidate,
    agreed_times,
    declared_url,
    epoch_candidate,
    generic_meta_candidates,
    itemprop_published,
    json_ld_dates,
    late_candidates,
    meta_values,
    page_language,
    page_offset,
    structured_candidates,
    time_elements,
    url_reading,
)
from transforms.dates.tables import (
    CAPTURE_TOP_LINES,
    MAX_DATE_LINE_CHARS,
    Locale,
    PublisherTable,
    load_publishers,
)
from transforms.dates.visible import byline_lines, line_candidates, read_line
from transforms.dates.zones import LocalHints, Shown, ceiling_of, published
from transforms.failures import GuardedMap
from transforms.html_tree import page_tree
from transforms.records import DAY, KIND_HTML, STAGE_DATES, Article, Published

__all__ = [
    "Locale",
    "NormalizeDates",
    "PublisherTable",
    "Reading",
    "apply_dates",
    "find_published",
    "load_publishers",
    "mentioned_days",
    "parse_human",
    "parse_machine",
    "parse_words",
]

# Languages whose numeric dates may put the month first ("05/04/2024" as May 4).
MONTH_FIRST_LANGUAGES = frozenset(("en",))
# How many <time> elements' texts count as days the page shows (a list page has dozens).
SHOWN_TIMES = 5
# Two-digit years in shown days are read as this century's (only their day is compared).
MAX_YEAR = 2099
# Declared dates this many days apart are a disagreement that htmldate settles.
DISAGREE_DAYS = 1


class _Page:
    """One HTML page's tree and what several readers use of it, each read once."""

    def __init__(self, tree):
        self.tree = tree

    @cached_property
    def metas(self) -> dict[str, str]:
        return meta_values(self.tree)

    @cached_property
    def ld(self) -> list[tuple[str, str, bool]]:
        return list(json_ld_dates(self.tree))

    @cached_property
    def lines(self) -> list[str]:
        return byline_lines(self.tree)


def _hints(article: Article, page: _Page | None, url: str | None, publishers: PublisherTable
           ) -> tuple[LocalHints, bool, str | None]:
    """What the page and the table say of the publisher's zone; its date order; language."""
    locale, source = publishers.locale_and_source(article.publisher, url)
    language = country = None
    offset = None
    if page is not None:
        language, country = page_language(page.tree, page.metas)
        offset = page_offset(page.tree, page.metas, page.ld)
    language = language or article.language
    page_locale, page_source = None, ""
    if country and (page_locale := publishers.country(country)):
        page_source = f"lang:{language or ''}-{country}"
    elif language and (page_locale := publishers.language_country(language)):
        page_source = f"language:{language}"
    if source:
        day_first = locale.day_first
    elif page_locale is not None:
        day_first = page_locale.day_first
    else:
        # Only English pages write the month first (and not all of them); every other
        # language with numeric dates writes the day first.
        day_first = bool(language) and language not in MONTH_FIRST_LANGUAGES
    url_read = url_reading(url)
    shown = Shown(partial(_shown, page, day_first, language)) if page is not None else None
    hints = LocalHints(locale, source, offset, page_locale, page_source,
                       url_read.day if url_read else None, shown)
    return hints, day_first, language


def _shown(page: _Page, day_first: bool, language: str | None) -> tuple[set, set]:
    """The days, and the local times, the page shows people as its date: the text of its
    microdata date and of its first <time> elements, and the dated lines after its
    headline."""
    tree = page.tree
    lines = [el.text_content().strip() for el in itemprop_published(tree)]
    lines += [el.text_content().strip() for el in time_elements(tree)[:SHOWN_TIMES]]
    lines += page.lines
    days, times = set(), set()
    for line in lines:
        if line and len(line) <= MAX_DATE_LINE_CHARS:
            reading = read_line(line, day_first, MAX_YEAR, language)
            if reading is not None:
                days.add(reading.day)
                if reading.time is not None and reading.offset_minutes is None:
                    times.add(datetime.combine(reading.day, datetime.min.time()).replace(
                        hour=reading.time[0], minute=reading.time[1]))
    return days, times


def _first(candidates, hints: LocalHints, ceiling: datetime) -> Published | None:
    for evidence, reading in candidates:
        if reading is not None and (found := published(reading, evidence, hints, ceiling)):
            return found
    return None


def _declared(page: _Page, hints: LocalHints, day_first: bool, ceiling: datetime
              ) -> Published | None:
    """The page's declared publication date; htmldate settles declared dates that disagree."""
    tree = page.tree
    found = [
        got for evidence, reading in structured_candidates(
            tree, page.metas, page.ld, day_first, ceiling.year)
        if reading is not None and (got := published(reading, evidence, hints, ceiling))
    ]
    if not found:
        return None
    if hints.url_day is not None:
        # The address keeps the day the story first went out; declared stamps are rewritten
        # when a site migrates or republishes (htmldate's original_date reads URLs first too).
        declared_day = datetime.fromisoformat(found[0].date).date()
        if abs((declared_day - hints.url_day).days) > DISAGREE_DAYS:
            return Published(hints.url_day.isoformat(), None, None, None, DAY,
                             f"url over {found[0].evidence.split(' ', 1)[0]}")
    first = datetime.fromisoformat(found[0].date)
    apart = [p for p in found
             if abs((datetime.fromisoformat(p.date) - first).days) > DISAGREE_DAYS]
    if not apart:
        return found[0]
    judge = htmldate_reading(tree, ceiling)
    if judge is not None:
        for candidate in found:
            if candidate.date == judge.day.isoformat():
                return replace(candidate, evidence=f"{candidate.evidence} htmldate-agrees")
    return found[0]


def _html_candidates(article: Article, page: _Page, day_first: bool, language: str | None,
                     ceiling: datetime, last: list[Candidate]) -> Iterator[Candidate]:
    """The page's other evidence, best first; a year-only htmldate answer goes to ``last``."""
    year, tree = ceiling.year, page.tree
    yield from line_candidates(page.lines, "byline", day_first, year, language)
    yield from agreed_times(tree)
    yield from generic_meta_candidates(page.metas, day_first, year)
    yield epoch_candidate(tree)
    library = htmldate_reading(tree, ceiling)
    year_start = library is not None and (library.day.month, library.day.day) == (1, 1)
    if not year_start:
        yield "htmldate", library
    yield from line_candidates(article.header, "header", day_first, year, language)
    yield from late_candidates(tree, page.metas)
    yield "url:declared", url_reading(declared_url(tree))
    if year_start:
        # htmldate answers 1 January when it found only a year (a copyright line): the
        # weakest evidence there is.
        last.append(("htmldate:year", library))


def _text_candidates(article: Article, day_first: bool, language: str | None,
                     ceiling: datetime) -> Iterator[Candidate]:
    year = ceiling.year
    yield from line_candidates(article.header, "header", day_first, year, language)
    top = (article.document or "").lstrip().split("\n", CAPTURE_TOP_LINES)
    yield from line_candidates(top[:CAPTURE_TOP_LINES], "capture", day_first, year, language)


def find_published(
    article: Article, reference: datetime, publishers: PublisherTable
) -> Published | None:
    """When the page was published, from the best evidence it offers; None if it gives none."""
    ceiling = ceiling_of(article.fetched_at, reference)
    tree = None
    if article.kind == KIND_HTML and article.document:
        tree = page_tree(article.document)  # the tree extraction parsed, for the same page
    url = article.url or (declared_url(tree) if tree is not None else None)
    page = _Page(tree) if tree is not None else None
    hints, day_first, language = _hints(article, page, url, publishers)
    tail = [("url", url_reading(article.url)),
            *inferred_candidates(article.dateline, article.text, ceiling)]
    if page is None:
        return _first(chain(_text_candidates(article, day_first, language, ceiling), tail),
                      hints, ceiling)
    found = _declared(page, hints, day_first, ceiling)
    if found is not None:
        return found
    last: list[Candidate] = []
    candidates = _html_candidates(article, page, day_first, language, ceiling, last)
    return _first(chain(candidates, tail, last), hints, ceiling)


# --- The stage ------------------------------------------------------------------------------


def apply_dates(article: Article, reference: datetime, publishers: PublisherTable) -> Article:
    """The article with its publication date and mentioned days; the raw page is dropped."""
    found = find_published(article, reference, publishers)
    days = mentioned_days(article.text, found) if found else ()
    return replace(article, published=found, mentioned_days=days, document=None)


class NormalizeDates(beam.PTransform):
    """Date each article and resolve the days it mentions; failures go to dead letters."""

    def __init__(self, reference_time: datetime, publishers_path: str | None = None):
        super().__init__()
        self._reference_time = reference_time
        self._publishers = load_publishers(publishers_path)

    def expand(self, articles):
        return articles | GuardedMap(
            STAGE_DATES,
            partial(apply_dates, reference=self._reference_time, publishers=self._publishers),
        )
