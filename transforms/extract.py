"""Main-text extraction stage: title, text and metadata of HTML pages and text captures."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Container, Sequence
from copy import deepcopy
from dataclasses import replace
from functools import partial
from html import unescape
from typing import Any

import apache_beam as beam
import py3langid
import trafilatura
from courlan import extract_domain
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.json_metadata import JSON_PUBLISHER
from trafilatura.metadata import (
    JSON_MINIFY,
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.metadata import (
    Document as PageMetadata,
)
from trafilatura.xpaths import BODY_XPATH

from transforms.boilerplate import (
    AGENCIES,
    OTHER_STORIES,
    SHORT_ITEM_MIN_WORDS,
    TITLE_MAX_WORDS,
    clean_capture,
    clean_paragraphs,
    is_article_like,
    is_site_part,
    link_key,
    split_title,
    teaser_key,
    title_parts,
)
from transforms.failures import GuardedMap, count
from transforms.html_author import clean_authors, page_author
from transforms.html_tree import page_tree
from transforms.records import (
    KIND_TEXT,
    STAGE_EXTRACT,
    Article,
    Document,
    Extracted,
    StageError,
)
from transforms.time_limit import time_limit

DEFAULT_TIME_LIMIT_S = 5.0  # CPU seconds per page (transforms/time_limit.py)
# trafilatura's options, fixed: its balanced mode, not favor_precision, which drops
# subheadings and list items (trafilatura_eval tune part: text F 0.932 against 0.920 with
# precision; the Zyte set: F1 0.976 against 0.980; tests/benchmarks/extraction.py); our
# cleanup removes the named chrome it lets through. No deduplication: its cache is per
# process and so depends on page order. No
# metadata pass: its date search (htmldate) cost more than the extraction itself, and the
# dates stage reads the page's dates; page_metadata reads the rest.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "deduplicate": False,
    "include_comments": False,
    "favor_precision": False,
    "with_metadata": False,
    "include_tables": True,
}
# trafilatura first runs without its comparison with readability and jusText (fast=True:
# 40% of its cost). A news story shorter than this is more likely under-extracted than
# short, so then the full cascade runs and its result is kept.
FULL_CASCADE_BELOW_CHARS = 1000
# Shorter texts give py3langid too little to go on.
LANGUAGE_MIN_CHARS = 40
LANGUAGE_SAMPLE_CHARS = 800
# og:type values of pages that are news items even when their body is a photo or video.
DESCRIBED_PAGE_TYPES = ("article", "video", "photo", "newsarticle")
# A description shorter than this is a slogan, not a news item.
DESCRIBED_MIN_WORDS = 6


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``, or None when it is too short to tell."""
    if len(text) < LANGUAGE_MIN_CHARS:
        return None
    lang, _ = py3langid.classify(text[:LANGUAGE_SAMPLE_CHARS])
    return lang or None


# Job titles that sites put in the author field beside the name.
_ROLE = re.compile(r"\b(?:writer|correspondent|editor|reporter|contributor|columnist)\b", re.I)


def _names(author: str, meta: PageMetadata) -> list[str]:
    names = [a.strip() for a in author.replace(" and ", ";").split(";") if a.strip()]
    return clean_authors(names, partial(is_site_part, sitename=meta.sitename,
                                        hostname=meta.hostname))


def _authors(meta: PageMetadata) -> tuple[str, ...]:
    """The people who wrote the page: its author fields, split into names and cleaned
    (transforms/html_author.clean_authors); wire services and job titles go when a person
    is named too."""
    if not meta.author:
        return ()
    names = _names(meta.author, meta)
    people = [n for n in names if n not in AGENCIES and not _ROLE.search(n)]
    return tuple(people or names)


# A paragraph that is only a byline: "Von Claudia Muster", "By Jane Doe and John Roe",
# "Autoren Jan Muster und Eva Beispiel", "Por Agencia EFE". Names of two to four words.
_NAME_RUN = r"[^\W\d_][\w.'’-]*(?:\s[^\W\d_][\w.'’-]*){1,3}"
_TEXT_BYLINE = re.compile(
    rf"^(?i:by|von|por|par|door|av|di|autor(?:in|en)?|author|text)\s?:?\s(?P<who>{_NAME_RUN}"
    rf"(?:(?:,\s|\s(?i:and|und|y|et|e)\s){_NAME_RUN}){{0,3}})$"
)
BYLINE_MAX_WORDS = 16


def text_byline(paragraphs: Sequence[str]) -> str | None:
    """The names on a byline paragraph of the text, for pages whose author fields are empty
    (the byline is set as a paragraph of the article). Every name word is capitalised."""
    for line in paragraphs:
        if len(line.split()) > BYLINE_MAX_WORDS:
            continue
        m = _TEXT_BYLINE.match(line.strip())
        if not m:
            continue
        names = re.split(r",\s|\s(?:and|und|y|et|e)\s", m.group("who"), flags=re.I)
        if all(w[0].isupper() for n in names for w in n.split()):
            return "; ".join(names)
    return None


def _no_article(why: str) -> Extracted:
    raise StageError("no_article", why)


def page_metadata(tree: HtmlElement, url: str | None = None,
                  names: Sequence[str] | None = None) -> PageMetadata:
    """Title, author, site, address, description and og:type of a page.

    trafilatura's own metadata pass minus its date search: meta tags, then JSON-LD, then
    the page's title and byline elements (trafilatura.metadata.extract_metadata, 2.3).
    ``names`` are the page's site_names when already read."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a one-word author meta tag is a handle or a site name
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # noqa: BLE001 - its JSON-LD reader has bugs; the meta tags remain
        pass
    meta.title = meta.title or extract_title(tree)
    meta.url = meta.url or extract_url(tree, url)
    if meta.url:
        meta.hostname = extract_domain(meta.url, fast=True)
    # The title's part with a dot names the site only when it is an address: trafilatura's
    # fallback otherwise took a dated headline's half ("23.01.2022 - ...") as the publisher.
    if not meta.sitename and (named := extract_sitename(tree)) and is_site_part(named, None, None):
        meta.sitename = named
    # The name the page gives its own site, where og:site_name and the other declarations
    # name none or only an address: a <title> part that a home link (or logo) also names.
    if not meta.sitename or is_site_part(meta.sitename, None, None):
        meta.sitename = _title_site_name(tree, names) or meta.sitename
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (host := META_URL.match(meta.url)):
        meta.sitename = host[1]
    if not meta.author or not _names(meta.author, meta):
        meta.author = page_author(tree, usable=lambda found: bool(_names(found, meta)))
    meta.clean_and_trim()
    return meta


# An on-page headline shares at least this share of words (Dice) with the page's titles:
# search titles are reworded ("Professionelles & Seriöses Design für Unternehmen" over the
# <h1> "Design"), and banners are known by their markup, not by their words
# (trafilatura_eval tune part: 0.25 and 0.3 give 183 of 200 titles, 0.4 and 0.5 give 181).
HEADLINE_MIN_OVERLAP = 0.3
HEADLINE_MAX_ELEMENTS = 10
# Links read for the site's name, and the longest name taken from one.
HOME_LINKS_MAX = 40
SITE_NAME_MAX_CHARS = 80


# Parts of an <h1> that are not the headline: the kicker above it ("Klimaschutz",
# "Local News |"), the subtitle under it, and text for screen readers only.
_NOT_HEADLINE = re.compile(
    r"kicker|topic|toptitle|overline|eyebrow|dachzeile|roofline|sub-?heading|subtitle|"
    r"section|label|visually-hidden|sr-only|screen-reader", re.I)
# An <h1> that is itself the kicker over the headline (the headline is an <h2> below it).
_KICKER_HEADING = re.compile(r"kicker|strapline|overline|eyebrow|dachzeile|roofline|toptitle",
                             re.I)
# Elements whose text is not the headline: a style sheet or script inside an <h1>, and the
# readings set over CJK characters (<ruby>子<rt>こ</rt></ruby>).
_UNSHOWN = frozenset(("style", "script", "noscript", "template", "rt", "rp"))
# Invisible characters inside words: soft hyphens and zero-width spaces and joiners.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# A link to a site's home page: "/", a bare address, or an archived one ("…/http://x.de/").
_HOME_HREF = re.compile(r"^\.?/?(?:index\.\w+)?$|(?:https?:)?//[^/?#]+/?$", re.I)
# Where a kicker ends and the headline begins inside an <h1>: "Covid-19: ...", "Kicker / ...".
_KICKER_END = re.compile(r"[:/|–—•»-]\s*$")
# The class or id of a heading that is the site's name: WordPress's "site-title", a logo.
_BANNER = re.compile(r"\b(?:logo|site-?(?:title|name)|brand(?:ing)?|masthead)\b", re.I)
_QUOTES = "\"'“”„«»‘’‚"
# Meta tags that name the site besides og:site_name.
_SITE_META = XPath('//meta[@name="application-name" or @name="apple-mobile-web-app-title" '
                   'or @property="og:site_name" or @name="publisher"]/@content')
_LD_JSON = XPath('//script[@type="application/ld+json"]')


def _shown_text(element: HtmlElement) -> str:
    """An element's text without the style sheets and scripts inside it."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == "br":
            parts.append(" ")
        elif isinstance(child.tag, str) and child.tag not in _UNSHOWN:
            parts.append(_shown_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def headline_text(h1: HtmlElement) -> str:
    """The text of an <h1> without its kicker, subtitle and screen-reader parts."""
    parts = [h1.text or ""]
    for child in h1:
        if not isinstance(child.tag, str) or child.tag in _UNSHOWN or child.tag == "br":
            parts.append(" " if child.tag == "br" else "")
            parts.append(child.tail or "")
            continue
        cls = child.get("class") or ""
        marked = child.tag == "small" or (_NOT_HEADLINE.search(cls) and "hidden" not in
                                          cls.replace("visually-hidden", ""))
        if not marked:
            parts.append(_shown_text(child))
        parts.append(child.tail or "")
    headline = " ".join("".join(parts).translate(_INVISIBLE).split())
    # Only a part beside the headline is left out, never all of it.
    return headline or " ".join(_shown_text(h1).translate(_INVISIBLE).split())


def _class_and_id(element: HtmlElement) -> str:
    """What a page names an element by, for the patterns that read it: its class and id."""
    return f'{element.get("class") or ""} {element.get("id") or ""}'


def _marked_banner(heading: HtmlElement) -> bool:
    """A heading whose class or id says it is the site's logo or title."""
    return bool(_BANNER.search(_class_and_id(heading)))


def _is_home_link(a: HtmlElement) -> bool:
    return "home" in (a.get("rel") or "") or bool(_HOME_HREF.search((a.get("href") or "").strip()))


def _is_banner(heading: HtmlElement) -> bool:
    """An <h1> that links to the site's home page (or sits in such a link), or is marked as
    the site's logo or title, is the site's name set as a heading, not the headline."""
    if _marked_banner(heading):
        return True
    links = heading.findall(".//a")
    if any(_is_home_link(a) for a in links):
        return True
    return any(a.tag == "a" and _is_home_link(a) for a in heading.iterancestors())


def site_names(tree: HtmlElement) -> tuple[str, ...]:
    """The names a page gives its own site beside og:site_name: the application-name and
    publisher meta tags, JSON-LD's publisher, the text (or title, or logo's alt text) of
    links to the site's home page ("Liebe geht durch den Magen", "新华网"), and an <h1>
    marked as the site's title or logo."""
    names = [str(v) for v in _SITE_META(tree)]
    for script in _LD_JSON(tree):
        found = JSON_PUBLISHER.search(JSON_MINIFY.sub(r"\1", script.text or ""))
        if found:
            names.append(found[1])
    for _, a in zip(range(HOME_LINKS_MAX), (a for a in tree.iterfind(".//a[@href]")
                                            if _is_home_link(a)), strict=False):
        names += [_shown_text(a), a.get("title") or ""]
        names += [img.get("alt") or "" for img in a.iterfind(".//img")]
    names += [_shown_text(h) for h in tree.iterfind(".//h1") if _marked_banner(h)]
    out: dict[str, None] = {}
    for name in names:
        name = " ".join(name.translate(_INVISIBLE).split()).lstrip("@")
        if name and len(name) <= SITE_NAME_MAX_CHARS:
            out[name] = None
    return tuple(out)


def _title_element(tree: HtmlElement) -> HtmlElement | None:
    element = tree.find(".//head//title")
    return element if element is not None else tree.find(".//title")


def _title_site_name(tree: HtmlElement, names: Sequence[str] | None = None) -> str | None:
    """The first or last part of the <title> that is exactly a name the page gives its site
    (site_names): "Rinderleber mit Apfel | Liebe geht durch den Magen" with a home link
    "Liebe geht durch den Magen"."""
    element = _title_element(tree)
    parts = title_parts(_unescaped(element.text_content())) if element is not None else []
    if len(parts) < 2:
        return None
    names = site_names(tree) if names is None else names
    for part in (parts[-1], parts[0]):
        if is_site_part(part, None, None, names):
            return part
    return None


_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORD_OR_CJK = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def _word_set(text: str) -> set[str]:
    """Words of ``text``; each CJK character counts as a word (they are not spaced)."""
    return set(_WORD_OR_CJK.findall(text.casefold()))


def _overlap(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _unescaped(title: str) -> str:
    """A title without invisible characters and without the character references left in it
    when a page escaped them twice ("&amp;#8211;" in a meta tag, "&#8211;" in JSON-LD)."""
    title = title.translate(_INVISIBLE)
    return unescape(title) if "&" in title else title


def _without_kicker(heading: str, titles: Sequence[str]) -> str:
    """A title that the heading only adds a kicker to ("Kicker: Headline", "Kicker /
    Headline"): the kicker is a label over the headline, and the page's titles leave it out."""
    folded = heading.casefold()
    for title in titles:
        t = title.casefold()
        if len(t) < len(folded) and folded.endswith(t) and _KICKER_END.search(
                heading[: len(heading) - len(title)]):
            return title
    return heading


def _titles(tree: HtmlElement, meta: PageMetadata, strip: Callable[[str], str | None],
            is_site: Callable[[str], bool]) -> list[str]:
    """The page's own titles without the site name: the declared one (og:title, meta
    title, JSON-LD headline) and the <title> element; a title that is only the site's
    name is none. A declared title cut short at a quote mark (an unescaped quote in its
    attribute) gives way to the <title> element that goes on with the quote."""
    element = _title_element(tree)
    declared, document = (None if not raw or is_site(raw) else strip(raw) for raw in (
        meta.title, element.text_content() if element is not None else None))
    if declared and document and document.casefold().startswith(declared.casefold()):
        if document[len(declared):].lstrip()[:1] in tuple(_QUOTES):
            declared = document
    titles: list[str] = []
    for title in (declared, document):
        if title and not is_site(title) and title not in titles:
            titles.append(title)
    return titles


def page_title(tree: HtmlElement, meta: PageMetadata,
               names: Sequence[str] | None = None) -> str | None:
    """The headline: the page's <h1> that best matches its titles (declared and <title>,
    without the site name), else the first of those titles, else its first <h1>. Titles
    are often shortened or reworded for search and sharing while the <h1> is what the page
    shows; an <h1> unlike the titles is a site banner or a widget's heading, not the
    headline, and so is an <h1> linking to the home page or marked as a kicker. On a page
    without any other <h1>, an <h2> that matches the titles is the headline. ``names``
    are the page's site_names when already read."""
    names = site_names(tree) if names is None else names

    def strip(title: str) -> str | None:
        return split_title(_unescaped(title), meta.sitename, meta.hostname, names)

    # A whole title or heading is the site's name only when it is one exactly: a headline
    # may contain the name ("Parallels Desktop 15 for Mac" on parallels.com).
    labels = [lb for lb in (meta.hostname or "").split(".")[:-1] if lb not in ("www", "m")]
    exact = (*names, meta.sitename or "", *labels)

    def is_site(title: str) -> bool:
        return is_site_part(title, None, None, exact)

    titles = _titles(tree, meta, strip, is_site)
    refs = [_word_set(t) for t in titles]
    first_heading = None
    for tag in ("h1", "h2"):
        best, best_score = None, 0.0
        headings = (h for h in tree.iterfind(f".//{tag}")
                    if not _is_banner(h) and not _KICKER_HEADING.search(h.get("class") or ""))
        for _, heading in zip(range(HEADLINE_MAX_ELEMENTS), headings, strict=False):
            text = headline_text(heading)
            if not text or is_site(text):
                continue
            if tag == "h1" and first_heading is None:
                first_heading = text
            found = _word_set(text)
            score = max((_overlap(found, ref) for ref in refs), default=0.0)
            if score >= HEADLINE_MIN_OVERLAP and score > best_score:
                best, best_score = text, score
        if best is not None:
            return _without_kicker(strip(best) or best, titles)
        if first_heading is not None:
            break  # an <h2> is looked at only on a page without a usable <h1>
    if titles:
        return titles[0]
    return first_heading or strip(meta.title or "")


def described_item(meta: PageMetadata, title: str | None) -> Extracted | None:
    """A page that declares itself an article (og:type) but has no body text: a photo, a
    video, a live stream or an embedded post. Its description is the news item; without
    one, its headline alone is (as for a headline-only text capture). None otherwise."""
    if not (meta.pagetype or "").lower().startswith(DESCRIBED_PAGE_TYPES):
        return None
    description = " ".join((meta.description or "").split())
    if len(description.split()) >= DESCRIBED_MIN_WORDS:
        text = description
    elif title and SHORT_ITEM_MIN_WORDS <= len(title.split()) <= TITLE_MAX_WORDS:
        text = title
    else:
        return None
    return Extracted(
        title=title,
        text=text,
        authors=_authors(meta),
        publisher=meta.sitename or None,
        language=detect_language(text),
    )


def page_summary(meta: PageMetadata) -> str | None:
    """The page's own description (meta description, og:description, JSON-LD) as the
    summary. The text keeps its lead: a lead paragraph that matches the description is
    article text, and guessing a standfirst from the body moved ledes and bullets out."""
    description = " ".join((meta.description or "").split())
    if not description or _norm_words(description) == _norm_words(meta.title or ""):
        return None
    return description


def _norm_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


# The providers' own embed code for a quoted post: <blockquote class="twitter-tweet">,
# "instagram-media", "tiktok-embed", "bluesky-embed". trafilatura discards these block quotes
# and their "social"/"embed" wrappers as widgets, but the post is quoted article text (two of
# the Zyte set's pages lost 13% and 30% of their words).
_EMBEDDED_POSTS = XPath(
    '//blockquote[contains(@class, "tweet") or contains(@class, "instagram-media") '
    'or contains(@class, "tiktok-embed") or contains(@class, "bluesky-embed")]'
)
_WIDGET_CLASS = re.compile(r"social|tweet|twitter|embed|instagram|tiktok|bluesky|widget", re.I)
EMBED_WRAPPER_LEVELS = 3


def _with_quoted_posts_unmarked(tree: HtmlElement) -> HtmlElement:
    """The tree itself, or, when it quotes embedded posts, a copy in which those block
    quotes and their widget wrappers no longer carry the classes trafilatura discards."""
    if not _EMBEDDED_POSTS(tree):
        return tree
    tree = deepcopy(tree)  # the page's tree is shared with the dates stage: read-only
    for quote in _EMBEDDED_POSTS(tree):
        quote.attrib.pop("class", None)
        for _, wrapper in zip(range(EMBED_WRAPPER_LEVELS), quote.iterancestors(), strict=False):
            for attr in ("class", "id"):
                if _WIDGET_CLASS.search(wrapper.get(attr) or ""):
                    wrapper.attrib.pop(attr)
    return tree


def _template_path(elem: HtmlElement, stop: HtmlElement) -> list[tuple[str, str]]:
    path = []
    for node in (elem, *elem.iterancestors()):
        if node is stop:
            break
        path.append((node.tag, node.get("class") or ""))
    return path


def _body_chunks(tree: HtmlElement) -> list[HtmlElement]:
    """The parts of an article body split into chunks: trafilatura's first article-body
    match, then the later matches set in the same template (the same tags and classes up to
    the element the chunks share). Pages that cut their text into chunks with advertising
    rails between them ("article__chunks") otherwise lose all text after the first chunk,
    as trafilatura takes only the first match. A listing's posts or a question and its
    answers differ on the way (their own post or answer classes) and stay apart."""
    found = BODY_XPATH[0](tree)
    if len(found) < 2:
        return []
    first = found[0]
    above = set(first.iterancestors())
    chunks = [first]
    for elem in found[1:]:
        if elem.tag != first.tag or elem.get("class") != first.get("class") or first in set(
                elem.iterancestors()):
            continue
        shared = next((a for a in elem.iterancestors() if a in above), None)
        if shared is not None and _template_path(elem, shared) == _template_path(first, shared):
            chunks.append(elem)
    return chunks if len(chunks) > 1 else []


def _with_chunks_joined(tree: HtmlElement, chunks: list[HtmlElement]) -> HtmlElement:
    """A copy of the tree in which a body split into ``chunks`` is one element again (the
    later chunks' children moved into the first)."""
    copy = deepcopy(tree)  # the page's tree is shared with the dates stage: read-only
    twin = dict(zip(tree.iter(), copy.iter(), strict=True))
    first, *rest = (twin[c] for c in chunks)
    for chunk in rest:
        first.extend(list(chunk))
        chunk.getparent().remove(chunk)
    return copy


def _trafilatura_text(tree: HtmlElement, url: str | None) -> str:
    """trafilatura's text of the page: fast, then the full cascade when that falls short."""
    tree = _with_quoted_posts_unmarked(tree)
    doc = trafilatura.bare_extraction(tree, url=url, fast=True, **TRAFILATURA_OPTIONS)
    text = (doc.text or "").strip() if doc is not None else ""
    if len(text) < FULL_CASCADE_BELOW_CHARS:
        full = trafilatura.bare_extraction(tree, url=url, fast=False, **TRAFILATURA_OPTIONS)
        if full is not None and (full.text or "").strip():
            text = full.text.strip()
    return text


# A body cut into chunks shows as a shortfall: trafilatura's text is under this share of the
# page's paragraph text. Only then are chunks looked for (their search costs as much as a
# fifth of our own work on a page).
CHUNKED_TEXT_SHARE = 0.5
_PARAGRAPH_TEXT = XPath("//p//text()")


def _main_text(tree: HtmlElement, url: str | None) -> str:
    """trafilatura's text of the page, and of the page with its body chunks joined when
    that is longer (joined chunks can also steer trafilatura away from a wider container
    it would have taken whole: a slide show's slides)."""
    text = _trafilatura_text(tree, url)
    if len(text) < CHUNKED_TEXT_SHARE * sum(map(len, _PARAGRAPH_TEXT(tree))) and (
            chunks := _body_chunks(tree)):
        joined = _trafilatura_text(_with_chunks_joined(tree, chunks), url)
        if len(joined) > len(text):
            text = joined
    return text


class _OnDemand(Container[str]):
    """Keys read from the page on the first lookup: most pages never need them."""

    def __init__(self, make: Callable[[], frozenset[str]]):
        self._make = make
        self._keys: frozenset[str] | None = None

    def __contains__(self, key: object) -> bool:
        if self._keys is None:
            self._keys = self._make()
        return key in self._keys


def _headlines(tree: HtmlElement) -> list[str]:
    return [headline_text(h1) for _, h1 in zip(range(HEADLINE_MAX_ELEMENTS), tree.iter("h1"),
                                               strict=False)]


def _link_texts(tree: HtmlElement) -> frozenset[str]:
    return frozenset(filter(None, (link_key(a.text_content()) for a in tree.iter("a"))))


# A heading over other stories is short; longer text is a sentence that mentions them.
OTHER_STORIES_MAX_CHARS = 60


def _listed_teasers(tree: HtmlElement) -> frozenset[str]:
    """Keys of the list items right after a heading over other stories ("More great X
    stories", "Our latest stories", "Related"). trafilatura drops such headings when they
    are set as <div> or <span> but keeps the list under them, which then reads as the end
    of the article. Only the lists right after the heading count: a heading inside the
    article is followed by more of the article."""
    keys: set[str] = set()
    for elem in tree.iter():
        own = (elem.text or "").strip() if isinstance(elem.tag, str) else ""
        if not own or len(own) > OTHER_STORIES_MAX_CHARS or not OTHER_STORIES.match(own):
            continue
        block = elem
        while (parent := block.getparent()) is not None and len(
                parent.text_content().strip()) <= OTHER_STORIES_MAX_CHARS:
            block = parent
        for after in block.itersiblings():
            if not isinstance(after.tag, str):
                continue
            items = [teaser_key(li.text_content()) for li in after.iter("li")]
            if not items:
                break
            keys.update(filter(None, items))
    return frozenset(keys)


# Boxes that sign readers up or promote something else: their class or id, in any case
# (trafilatura's own discard list matches "newsletter" in lower case only: "Newsletter-title"
# and "ArticleEventPromo" pass it).
_SIGN_UP_OR_PROMO = re.compile(r"newsletter|sign-?up|subscri|promo", re.I)
# A larger element with such a name is a page region (a wrapper), not a box.
PROMO_BOX_MAX_CHARS = 2000


def _boxed_promos(tree: HtmlElement) -> frozenset[str]:
    """Keys of the texts inside sign-up and promotion boxes (and of each box as a whole)."""
    keys: set[str] = set()
    for box in tree.iter("div", "section", "aside", "form"):
        if not _SIGN_UP_OR_PROMO.search(_class_and_id(box)):
            continue
        text = box.text_content()
        if len(text) > PROMO_BOX_MAX_CHARS:
            continue
        keys.add(teaser_key(text))
        keys.update(teaser_key(e.text_content()) for e in box.iter() if isinstance(e.tag, str))
    keys.discard("")
    return frozenset(keys)


def extract_html(html: str, url: str | None = None) -> Extracted:
    """Article text and metadata of an HTML page (trafilatura, then our cleanup)."""
    tree = page_tree(html)
    if tree is None:
        _no_article("not parseable as HTML")
    names = site_names(tree)  # read once: both the site's name and the headline use them
    meta = page_metadata(tree, url, names)
    title = page_title(tree, meta, names)
    body = _main_text(tree, url)
    if not body:
        return described_item(meta, title) or _no_article("trafilatura found no main text")
    cleaned = clean_paragraphs(
        body.split("\n"), title=title, headlines=_headlines(tree),
        link_texts=_OnDemand(partial(_link_texts, tree)),
        teasers=_OnDemand(partial(_listed_teasers, tree)),
        boxed=_boxed_promos(tree),
    )
    if not is_article_like(cleaned.paragraphs):
        return described_item(meta, title) or _no_article(
            "nothing article-like left after cleanup")
    text = "\n\n".join(cleaned.paragraphs)
    if not _authors(meta):
        meta.author = text_byline(cleaned.paragraphs) or meta.author
    return Extracted(
        title=title,
        text=text,
        summary=page_summary(meta),
        authors=_authors(meta),
        publisher=meta.sitename or None,
        language=detect_language(text),
        credits=cleaned.credits,
    )


def _nfc(text: str | None) -> str | None:
    return unicodedata.normalize("NFC", text) if text else text


def normalized(extracted: Extracted) -> Extracted:
    """Every text field in Unicode NFC: pages mix composed and decomposed letters ("é" as
    one code point or as "e" and an accent), and consumers search for the composed form."""
    return replace(
        extracted,
        title=_nfc(extracted.title),
        text=_nfc(extracted.text) or "",
        summary=_nfc(extracted.summary),
        authors=tuple(_nfc(a) or "" for a in extracted.authors),
        publisher=_nfc(extracted.publisher),
        header=tuple(_nfc(h) or "" for h in extracted.header),
        credits=tuple(_nfc(c) or "" for c in extracted.credits),
    )


def main_text(doc: str, url: str | None = None) -> str:
    """The article text of an HTML page (the dev scorer's interface)."""
    return normalized(extract_html(doc, url)).text


def capture_text(doc: str, url: str | None = None) -> str:
    """The article text of a text capture (the dev scorer's interface)."""
    return normalized(clean_capture(doc)).text


def to_article(doc: Document, extracted: Extracted) -> Article:
    return Article(
        id=doc.id,
        source=doc.source,
        kind=doc.kind,
        url=doc.url,
        fetched_at=doc.fetched_at,
        size_bytes=doc.size_bytes,
        title=extracted.title,
        text=extracted.text,
        summary=extracted.summary,
        authors=extracted.authors,
        publisher=extracted.publisher,
        language=extracted.language,
        document=doc.content,
        header=extracted.header,
        credits=extracted.credits,
    )


def extract_document(doc: Document, time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> Article:
    """One Document to one Article; raises StageError('no_article' | 'timeout')."""
    extractor: Callable[[], Extracted]
    if doc.kind == KIND_TEXT:
        extractor = partial(clean_capture, doc.content)
    else:
        extractor = partial(extract_html, doc.content, doc.url)
    with time_limit(time_limit_s):
        extracted = normalized(extractor())
        if extracted.language is None:
            extracted = replace(extracted, language=detect_language(extracted.text))
    return to_article(doc, extracted)


def _extract_and_count(doc: Document, time_limit_s: float) -> Article:
    article = extract_document(doc, time_limit_s)
    count("articles_extracted")
    return article


class ExtractArticles(beam.PTransform):
    """Documents to Articles; pages without an article, or too slow, become dead letters."""

    def __init__(self, time_limit_s: float = DEFAULT_TIME_LIMIT_S, label: str | None = None):
        super().__init__(label)
        self._time_limit_s = time_limit_s

    def expand(self, docs):
        return docs | GuardedMap(
            STAGE_EXTRACT, partial(_extract_and_count, time_limit_s=self._time_limit_s)
        )
