"""Structured readers: the dates a page declares for machines, and what it says of its locale.

JSON-LD (in any ``<script>`` whose text is JSON-LD, typed ``application/ld+json`` or not),
``<meta>`` tags, ``itemprop="datePublished"`` (its ``datetime``, ``content`` or ``title``
attribute before its text: ``<abbr title="2019-10-16T14:33">2:33 PM</abbr>``) and
``<time>`` marked as the publication time. A date that belongs to another work the page
is about (a reviewed book, a film, an event, a product) is not the page's date: JSON-LD
nodes of those types, or under ``itemReviewed``/``about``/``mentions``, and microdata inside
an ``itemscope`` of such a type, are skipped."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from lxml import etree

from transforms.dates.parsing import Reading, parse_human, parse_machine

Candidate = tuple[str, Reading | None]

# Compiled XPath: ElementPath's iterfind tests an attribute predicate on every element in
# Python, a millisecond on a large page.
_ITEMPROP_PUBLISHED = etree.XPath(".//*[@itemprop='datePublished']")
_TIMES = etree.XPath(".//time[@datetime]")
_last = threading.local()


def _per_tree(name: str, query, tree) -> list:
    """``query(tree)``, kept for the page being dated (several readers ask the same)."""
    if getattr(_last, "tree", None) is not tree:
        _last.tree, _last.found = tree, {}
    if name not in _last.found:
        _last.found[name] = query(tree)
    return _last.found[name]


def itemprop_published(tree) -> list:
    return _per_tree("itemprop", _ITEMPROP_PUBLISHED, tree)


def time_elements(tree) -> list:
    return _per_tree("times", _TIMES, tree)
SCRIPTS = etree.XPath(".//script")
_SCOPES = etree.XPath(".//*[@itemscope or @itemtype]")
_EPOCH = etree.XPath("(.//*[@data-time-ms or @data-timestamp or @data-time])[1]")

# Machine-readable publication dates, best first: meta attribute values.
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "og:published_time",
    "article:published", "datepublished", "pubdate", "publishdate", "publish-date",
    "publish_date", "published_time", "date_published", "parsely-pub-date", "sailthru.date",
    "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date", "dc.date.created", "date",
    "bt:pubdate", "cxenseparse:recs:publishtime", "citation_publication_date", "uploaddate",
    "datecreated", "og:pubdate", "pub_date", "publication_date", "original-publish-date",
)
# Generic names that many CMSs fill with the day a page was created or last changed: read
# after the dates the page shows people (tests/benchmarks: on trafilatura's pages they
# disagree with the visible date more often than any other meta name).
GENERIC_META = frozenset(("date", "dc.date", "dcterms.date", "dc.date.created", "datecreated"))
MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "lastmod")
JSON_LD_PUBLISHED = ("datePublished", "dateCreated", "uploadDate")
# schema.org types whose dates are the page's own.
PAGE_TYPES = ("Article", "BlogPosting", "Report", "Posting", "WebPage", "LiveBlogPosting",
              "Blog", "VideoObject", "Recipe", "Question")
# Types of other works a page may describe: their dates are not the page's.
OTHER_WORK_TYPES = frozenset(
    ("Book", "Movie", "Product", "Event", "MusicAlbum", "MusicRecording", "TVSeries",
     "TVEpisode", "VideoGame", "SoftwareApplication", "Game", "Offer", "Person",
     "Organization", "Place", "CreativeWorkSeries", "Periodical", "Comment")
)
# Keys under which JSON-LD describes something other than the page.
OTHER_WORK_KEYS = frozenset(("itemReviewed", "about", "mentions", "isBasedOn", "workExample",
                             "citation", "subjectOf", "comment", "review", "author",
                             "publisher", "isPartOf"))
_LD_DATE = re.compile(r'"(date\w{0,20}|uploadDate)"\s{0,10}:\s{0,10}"([^"\n]{1,60})"')
# Script text that is JSON-LD whatever the script's type says.
_LOOKS_LD = re.compile(r'^\s{0,200}[\[{][^<]{0,400}"@(?:context|type|graph)"')


def _kinds(node: dict) -> list[str]:
    kind = node.get("@type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def _is_page(kinds: list[str]) -> bool:
    return any(k.endswith(PAGE_TYPES) for k in kinds)


def _ld_scripts(tree) -> Iterator[str]:
    for script in SCRIPTS(tree):
        raw = script.text or ""
        kind = (script.get("type") or "").lower()
        if kind == "application/ld+json" or (kind in ("", "application/json", "text/json",
                                                       "text/javascript")
                                              and _LOOKS_LD.match(raw)):
            yield raw


def json_ld_dates(tree) -> Iterator[tuple[str, str, bool]]:
    """(key, value, is_article) for each date in the page's JSON-LD, in document order;
    dates of other works the page describes are left out."""
    for raw in _ld_scripts(tree):
        try:
            data = json.loads(raw)
        except ValueError:
            for key, value in _LD_DATE.findall(raw):
                yield key, value, False
            continue
        stack = [data]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack[:0] = node
            elif isinstance(node, dict):
                kinds = _kinds(node)
                if any(k in OTHER_WORK_TYPES for k in kinds):
                    continue
                is_article = _is_page(kinds)
                for key, value in node.items():
                    if isinstance(value, str) and key.startswith(("date", "upload")):
                        yield key, value, is_article
                    elif isinstance(value, dict | list) and key not in OTHER_WORK_KEYS:
                        stack.append(value)


def other_work_elements(tree) -> list:
    """The elements describing other works (JSON-LD scripts with such a node, microdata
    scopes of such a type): what a library reading the whole page must not see."""
    found = []
    for script in SCRIPTS(tree):
        raw = script.text or ""
        if "@type" in raw and _names_other_work(raw):
            found.append(script)
    for el in _SCOPES(tree):
        kind = (el.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]
        if kind in OTHER_WORK_TYPES:
            found.append(el)
    return found


def _names_other_work(raw: str) -> bool:
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if any(k in OTHER_WORK_TYPES for k in _kinds(node)) and any(
                    isinstance(key, str) and key.startswith("date") for key in node):
                return True
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return False


def declared_url(tree) -> str | None:
    """The page's own address (canonical link or og:url), for pages that come without one."""
    for el in tree.iterfind(".//link[@rel='canonical']"):
        if el.get("href", "").startswith("http"):
            return el.get("href")
    for el in tree.iterfind(".//meta[@property='og:url']"):
        if el.get("content", "").startswith("http"):
            return el.get("content")
    return None


def meta_values(tree) -> dict[str, str]:
    """Each meta name (property, name, itemprop or http-equiv, lower case) -> its first value."""
    metas: dict[str, str] = {}
    for meta in tree.iterfind(".//meta"):
        content = meta.get("content") or meta.get("datetime")
        if not content or (meta.get("itemprop") and _other_work_scope(meta)):
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            name = (meta.get(attr) or "").strip().lower()
            if name and name not in metas:
                metas[name] = content.strip()
    return metas


def _other_work_scope(el) -> bool:
    """Whether microdata sits in an itemscope of another work (a reviewed book)."""
    for parent in el.iterancestors():
        if parent.get("itemscope") is not None or parent.get("itemtype"):
            kind = (parent.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]
            return kind in OTHER_WORK_TYPES
    return False


def structured_candidates(
    tree, metas: dict[str, str], ld: list[tuple[str, str, bool]], day_first: bool,
    ceiling_year: int,
) -> Iterator[Candidate]:
    """The page's declared publication dates, best evidence first (``ld``: its
    ``json_ld_dates``)."""
    for key in JSON_LD_PUBLISHED:
        for want_article in (True, False):
            for k, value, is_article in ld:
                if k == key and is_article == want_article:
                    yield f"json-ld:{key}", parse_machine(value)
    for name in PUBLISHED_META:
        if name in metas and name not in GENERIC_META:
            yield meta_candidate(metas, name, day_first, ceiling_year)
    microdata: list[Candidate] = []
    for el in itemprop_published(tree):
        if _other_work_scope(el):
            continue
        # The attribute is the machine value; the text is what people see ("2:33 PM").
        for value in (el.get("datetime"), el.get("content"), el.get("title")):
            if value and (reading := parse_machine(value)):
                microdata.append(("itemprop:datePublished", reading))
                break
        else:
            text = el.text_content()
            microdata.append(("itemprop:datePublished", parse_machine(text) or parse_human(
                text, day_first, ceiling_year)))
    yield from _one_story(microdata)
    marked = []
    for el in time_elements(tree):
        marks = f"{el.get('class', '')} {el.get('itemprop', '')} {el.get('pubdate', '')}".lower()
        if "publish" in marks or "created" in marks:
            marked.append(("time:published", parse_machine(el.get("datetime"))))
    yield from _one_story(marked)


def _one_story(candidates: list[Candidate]) -> list[Candidate]:
    """Microdata or <time> dates, unless they name days far apart: then the page lists
    several stories (a blog's sidebar, a front page) and they say nothing of this one."""
    days = sorted({reading.day for _, reading in candidates if reading is not None})
    if len(days) > 1 and (days[-1] - days[0]).days > 1:
        return []
    return candidates


def meta_candidate(metas: dict[str, str], name: str, day_first: bool,
                   ceiling_year: int) -> Candidate:
    return f"meta:{name}", parse_machine(metas[name]) or parse_human(
        metas[name], day_first, ceiling_year)


def generic_meta_candidates(metas: dict[str, str], day_first: bool, ceiling_year: int
                            ) -> Iterator[Candidate]:
    for name in PUBLISHED_META:
        if name in metas and name in GENERIC_META:
            yield meta_candidate(metas, name, day_first, ceiling_year)


def agreed_times(tree) -> list[Candidate]:
    """The page's <time datetime> stamps, when they all name about the same day (a page
    with one story, or several stamps of it): the first of them."""
    times = [("time:datetime", parse_machine(el.get("datetime")))
             for el in time_elements(tree)]
    return _one_story(times)[:1]


def late_candidates(tree, metas: dict[str, str]) -> Iterator[Candidate]:
    """Weaker machine-readable dates: any <time datetime>, modified stamps."""
    for el in time_elements(tree):
        yield "time:datetime", parse_machine(el.get("datetime"))
    for name in MODIFIED_META:
        if name in metas:
            yield f"meta:{name}", parse_machine(metas[name])


def epoch_candidate(tree) -> Candidate:
    """The first epoch attribute ('data-time-ms="1594448702000"'): a machine stamp that
    htmldate does not read."""
    for el in _EPOCH(tree):
        value = el.get("data-time-ms") or el.get("data-timestamp") or el.get("data-time")
        return "attr:data-time", epoch(value)
    return "attr:data-time", None


def page_offset(tree, metas: dict[str, str], ld: list[tuple[str, str, bool]]) -> int | None:
    """An offset other than zero written in the page's own stamps (JSON-LD, meta, <time>):
    the publisher's zone when its publication stamp is in UTC."""
    values = [value for _, value, _ in ld]
    values += [v for k, v in metas.items() if "time" in k or "date" in k]
    values += [el.get("datetime") for el in time_elements(tree)]
    for value in values:
        reading = parse_machine(value) if value else None
        if reading is not None and reading.offset_minutes:
            return reading.offset_minutes
    return None


_REGION = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z]{2}))?\b", re.I)


def page_language(tree, metas: dict[str, str]) -> tuple[str | None, str | None]:
    """(language, country) the page declares: <html lang>, og:locale, content-language."""
    language = country = None
    for value in (tree.get("lang"), tree.get("xml:lang"), metas.get("og:locale"),
                  metas.get("content-language"), metas.get("language")):
        m = _REGION.match((value or "").strip())
        if not m:
            continue
        language = language or m.group(1).lower()
        if m.group(2) and country is None:
            country = m.group(2).upper()
        if language and country:
            break
    return language, country


def epoch(value: str | None) -> Reading | None:
    if not value or not value.isdigit() or len(value) not in (10, 13):
        return None
    moment = datetime.fromtimestamp(int(value[:10]), tz=UTC)
    return Reading(moment.date(), (moment.hour, moment.minute), 0)


_URL_DATE = re.compile(
    r"/(?P<y>(?:19|20)\d{2})[/-](?P<m>\d{1,2})[/-](?P<d>\d{1,2})(?=[/_-]|\.\w+$|$)"
    r"|/(?P<y2>(?:19|20)\d{2})(?P<m2>\d{2})(?P<d2>\d{2})(?=[/_.-]|$)"
)


def url_reading(url: str | None) -> Reading | None:
    """The date in a page address ('/2024/03/22/leaders-meet')."""
    if not url:
        return None
    m = _URL_DATE.search(urlsplit(url).path)
    if not m:
        return None
    y, mo, d = (m.group("y"), m.group("m"), m.group("d")) if m.group("y") else (
        m.group("y2"), m.group("m2"), m.group("d2"))
    try:
        return Reading(date(int(y), int(mo), int(d)))
    except ValueError:
        return None
