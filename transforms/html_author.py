"""The author named on a page's byline elements: trafilatura's search, in one pass.

trafilatura 2.3 (``metadata.extract_author``) copies the whole tree, prunes comment,
date and figure elements from it, then runs three XPaths over every element, most of
them EXSLT regular expressions that lxml evaluates by calling back into Python. That
cost about 6 ms on a news page needing it: more than our dates, topics and syndication
stages together. Here the same element tests are applied in one walk over the tree,
only the candidates found are copied and pruned (with trafilatura's own XPaths), and
trafilatura's own functions take the first usable text and normalise the names.
``tests/test_html_author.py`` pins the translated tests to trafilatura's expressions
(an upgrade that changes them fails there) and checks that both searches agree."""

from __future__ import annotations

import re
from copy import deepcopy

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.metadata import normalize_authors
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS

AUTHOR_MAX_CHARS = 120  # trafilatura's len_limit for authors

# trafilatura.xpaths.AUTHOR_XPATHS, one test per expression, in their order.
_TAGS_0 = frozenset(("a", "address", "div", "link", "p", "span", "strong"))
_CLASS_0 = re.compile("author-?name|AuthorName|authorName")
_TAGS_1 = frozenset(("a", "div", "h3", "h4", "p", "span"))
_EXACT_CLASS_1 = frozenset(("byline", "username", "byl", "BBL"))
_ID_1 = re.compile("author|zuozhe|bianji|xiaobian")
_CLASS_1 = re.compile(
    "author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
_ID_2 = re.compile("[Aa]uthor")
_CLASS_2 = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
# trafilatura.xpaths.AUTHOR_DISCARD_XPATHS: what is pruned before the search.
_DISCARD_TAGS = frozenset(("a", "div", "section", "span"))
_DISCARD_EXACT = frozenset(("comments", "title", "date"))
_DISCARD_ID = re.compile("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(
    "^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram"
    "|article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
_DISCARD_ALWAYS = frozenset(("time", "figure"))
_WITH_ATTRIBUTES = XPath(
    "//*[@class or @id or @itemprop or @rel or @data-testid or @data-component or rel]|//author"
)


def _matches(el: HtmlElement) -> tuple[bool, bool, bool]:
    """Whether ``el`` is a result of each of trafilatura's three author XPaths."""
    tag, get = el.tag, el.get
    cls, ident, itemprop = get("class"), get("id"), get("itemprop") or ""
    first = tag == "author" or (
        tag in _TAGS_0
        and (
            get("rel") == "author"
            or ident == "author"
            or cls == "author"
            or itemprop == "author name"
            or get("data-testid") in ("AuthorCard", "AuthorURL")
            or (cls is not None and _CLASS_0.search(cls) is not None)
            or any(c.text_content() == "me" for c in el.iterchildren("rel"))
        )
    )
    second = tag in _TAGS_1 and (
        cls in _EXACT_CLASS_1
        or "author" in itemprop
        or (ident is not None and _ID_1.search(ident) is not None)
        or (cls is not None and _CLASS_1.search(cls) is not None)
    )
    third = (
        "Byline" in (get("data-component") or "")
        or "author" in itemprop
        or (ident is not None and _ID_2.search(ident) is not None)
        or (cls is not None and _CLASS_2.search(cls) is not None)
    )
    return first, second, third


def _discarded(el: HtmlElement) -> bool:
    tag = el.tag
    if tag in _DISCARD_ALWAYS:
        return True
    if tag not in _DISCARD_TAGS:
        return False
    cls, ident = el.get("class"), el.get("id")
    return (
        ident == "comments"
        or cls in _DISCARD_EXACT
        or (ident is not None and _DISCARD_ID.search(ident) is not None)
        or (cls is not None and _DISCARD_CLASS.search(cls) is not None)
        or "Figure" in (el.get("data-component") or "")
    )


def _pruned(el: HtmlElement) -> bool:
    """Whether trafilatura's pruning removes ``el``: it or an element around it is discarded."""
    return _discarded(el) or any(_discarded(a) for a in el.iterancestors())


def _text_after_pruning(el: HtmlElement) -> str:
    copy = prune_unwanted_nodes(deepcopy(el), AUTHOR_DISCARD_XPATHS)
    return trim(" ".join(copy.itertext()))


def page_author(tree: HtmlElement) -> str | None:
    """The author(s) on the page's byline elements, as trafilatura's extract_author finds them."""
    found: tuple[list[HtmlElement], list[HtmlElement], list[HtmlElement]] = ([], [], [])
    for el in _WITH_ATTRIBUTES(tree):  # every test needs one of these (libxml2 finds them)
        hits = _matches(el)
        if any(hits) and not _pruned(el):
            for results, hit in zip(found, hits, strict=True):
                if hit:
                    results.append(el)
    for results in found:
        for el in results:
            content = _text_after_pruning(el)
            if content and 2 < len(content) < AUTHOR_MAX_CHARS:
                return normalize_authors(None, content)
    return None
