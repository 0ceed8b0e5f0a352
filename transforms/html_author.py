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
from collections.abc import Callable
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
            or any(_text_left(c) == "me" for c in el.iterchildren("rel"))
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


# WordPress marks each post's container with its terms ("post hentry category-allgemein
# tag-film"). trafilatura's test `contains(@class, "category")` then prunes the whole post,
# byline included (3 of the trafilatura_eval tune part's missed authors): here those term
# classes are not read as a category box. The one place this search differs from trafilatura's.
_POST_TERMS = re.compile(r"(?<!\S)(?:category|tag)-\S+")


def _discarded(el: HtmlElement) -> bool:
    tag = el.tag
    if tag in _DISCARD_ALWAYS:
        return True
    if tag not in _DISCARD_TAGS:
        return False
    cls, ident = el.get("class"), el.get("id")
    if cls and ("category-" in cls or "tag-" in cls):
        cls = _POST_TERMS.sub("", cls)
    return (
        ident == "comments"
        or cls in _DISCARD_EXACT
        or (ident is not None and _DISCARD_ID.search(ident) is not None)
        or (cls is not None and _DISCARD_CLASS.search(cls) is not None)
        or "Figure" in (el.get("data-component") or "")
    )


def _text_left(el: HtmlElement) -> str:
    """The string value of ``el`` once trafilatura's pruning has run, which is what its test
    ``rel='me'`` reads: pruned descendants' text is gone, their tails stay."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and not _discarded(child):
            parts.append(_text_left(child))
        parts.append(child.tail or "")  # a comment's text is no part of the string value
    return "".join(parts)


def _pruned(el: HtmlElement) -> bool:
    """Whether trafilatura's pruning removes ``el``: it or an element around it is discarded."""
    return _discarded(el) or any(_discarded(a) for a in el.iterancestors())


def _text_after_pruning(el: HtmlElement) -> str:
    copy = prune_unwanted_nodes(deepcopy(el), AUTHOR_DISCARD_XPATHS)
    return trim(" ".join(copy.itertext()))


def page_author(tree: HtmlElement, usable: Callable[[str], bool] | None = None) -> str | None:
    """The author(s) on the page's byline elements, as trafilatura's extract_author finds
    them; with ``usable``, the first candidate it accepts (a byline element holding only
    "Published on" is passed over for the next)."""
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
                found = normalize_authors(None, content)
                if usable is None or (found and usable(found)):
                    return found
    return None


# Byline clean-up: what sites put in the author fields besides the people who wrote.
# "Zeige alle Beiträge von X", "View all posts by X": a link label around the name.
_POSTS_BY = re.compile(
    r"^(?:(?:zeige|show|view|see|alle|all|more|mehr|voir|tous|les|ver|todos|los)\s+)*"
    r"(?:beiträge|artikel|posts|articles|stories|entries|artículos|notas|billets)\s+"
    r"(?:von|by|de|par|di|del)\s+",
    re.I,
)
# Academic and professional degrees after a name ("Jane Doe, PhD").
_DEGREE = re.compile(
    r"[,\s]\s?(?:Ph\.?\s?D\.?|M\.?D\.?|MBA|M\.?Sc\.?|B\.?Sc\.?|DPhil|Esq\.?|RN|MPH)$"
)
# A comment's heading, not a byline: "Art Edwards says", "Jane sagt:".
_COMMENTER = re.compile(r"\s(?:says|said|writes|wrote|sagt|schreibt|dit|écrit|dice|escribe)\s?:?$",
                        re.I)
# A web address written out as a name by the normaliser: "Facebook Com", "Katholisch At".
_ADDRESS_NAME = re.compile(
    r"^(?:www\s)?\S{1,80}(?:\s\S{1,80})?\s(?:com|net|org|de|at|ch|it|fr|es|nl|be|uk|info|eu|io)$",
    re.I,
)
# A date's label in a byline element: "Publiziert am", "Posted on", "Publié le".
_DATE_LABEL = re.compile(
    r"^(?:publiziert|veröffentlicht|erstellt|aktualisiert|geändert|posted|published|updated|"
    r"publié|mis à jour|publicado|actualizado|pubblicato)\b", re.I)
# Labels that stand where a name should ("Posted", "Zuletzt geändert").
_LABELS = frozenset((
    "posted", "posted by", "author", "autor", "autorin", "admin", "administrator", "by", "von",
    "zuletzt geändert", "geschrieben", "verfasst", "anonymous", "anonym", "guest",
))


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isalpha()).upper()


def clean_authors(names: list[str], is_site: Callable[[str], bool]) -> list[str]:
    """The people among ``names`` (one name each): link labels, degrees and commenters'
    headings removed; web addresses, placeholders, initials of a listed name, and the site's
    own name beside people's names dropped."""
    kept: list[str] = []
    for raw in names:  # whitespace collapsed first: the patterns expect single spaces
        name = _DEGREE.sub("", _POSTS_BY.sub("", " ".join(raw.split()))).strip(" ,;:-")
        if not name or _COMMENTER.search(name) or _ADDRESS_NAME.match(name) \
                or _DATE_LABEL.match(name):
            continue
        if name.casefold() in _LABELS:
            continue
        kept.append(name)
    people = [n for n in kept if not is_site(n)]
    if people:
        kept = people
    full = {_initials(n) for n in kept if len(n.split()) > 1}
    kept = [n for n in kept if not (n.isupper() and len(n) <= 3 and n in full)]
    return list(dict.fromkeys(kept))
