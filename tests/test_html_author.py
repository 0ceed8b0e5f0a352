"""The one-pass byline search finds what trafilatura's extract_author finds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

from transforms.html_author import clean_authors, page_author

ROOT = Path(__file__).resolve().parent.parent
# sha256 of trafilatura 2.3.1's author and author-discard XPaths, which html_author.py
# restates. If trafilatura changes them, restate the change there, then update this.
TRAFILATURA_AUTHOR_XPATHS_SHA256 = "bd5f280624916a837f627a558a6f87d6ebde80d97a00908c8a856c7b7b9eae82"


def page(body: str) -> str:
    return f"<html><head><title>Story</title></head><body>{body}</body></html>"


def both(html: str) -> tuple[str | None, str | None]:
    tree = load_html(html)
    return page_author(tree), extract_author(tree)


def test_the_restated_expressions_are_still_trafilaturas():
    paths = "\n".join(x.path for x in AUTHOR_XPATHS + AUTHOR_DISCARD_XPATHS)
    assert hashlib.sha256(paths.encode()).hexdigest() == TRAFILATURA_AUTHOR_XPATHS_SHA256


@pytest.mark.parametrize(
    "body, author",
    [
        ('<span class="author-name">Mara Lindqvist</span>', "Mara Lindqvist"),
        ('<a rel="author" href="/m">Mara Lindqvist</a>', "Mara Lindqvist"),
        ('<div class="byline">Jon Park</div>', "Jon Park"),
        ('<p id="zuozhe">Li Wei</p>', "Li Wei"),
        ('<section data-component="Byline">Ana Souza</section>', "Ana Souza"),
        ('<em class="post-Author">Ana Souza</em>', "Ana Souza"),
        ('<em class="staff-writer">Ana Souza</em>', "Ana Souza"),
        ('<b id="Author1">Ana Souza</b>', "Ana Souza"),
        ('<h4 class="posted-by">Ana Souza</h4>', "Ana Souza"),
        ('<p><rel>me</rel>Ana Souza</p>', "Ana Souza"),
        ('<address itemprop="author name">Kim Su-min</address>', "Kim Su-min"),
        # pruned first: an author inside comments, the date inside a byline
        ('<div id="comments"><span class="author">Troll Person</span></div>'
         '<span class="author">Jon Park</span>', "Jon Park"),
        ('<div class="byline">Jon Park <time>May 2</time></div>', "Jon Park"),
        # rel='me' reads the pruned tree: a <rel> holding "me" and a date still counts
        ('<div class="writer">Jon Park</div><p>Ana Souza<rel>me<time>May 2</time></rel></p>',
         "Ana Souza"),
        # an earlier expression wins over a later one in document order
        ('<div class="writer">Later Writer</div><span class="author">First Author</span>',
         "First Author"),
        ('<div class="byline">x</div>', None),  # too short to be a name
        ("<p>No byline on this page at all.</p>", None),
    ],
)
def test_bylines_are_found_as_trafilatura_finds_them(body, author):
    ours, theirs = both(page(body))
    assert ours == theirs
    assert (ours is None) == (author is None)
    if author:
        assert author in ours


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "golden").glob("*.html")),
                         ids=lambda p: p.name)
def test_real_pages_agree(path):
    ours, theirs = both(path.read_text(encoding="utf-8"))
    assert ours == theirs


_TAGS = ("div", "span", "p", "a", "h3", "section", "time", "figure", "em", "author", "rel")
_CLASSES = ("", "author", "author-name", "AuthorName", "byline", "Byline", "byl", "BBL", "writer",
            "comments", "Comments-box", "sidebar", "title", "date", "post-author", "meta-date",
            "username", "quote", "x")
_IDS = ("", "author", "Author", "comments", "comment-list", "zuozhe", "bio")
_NAMES = ("Mara Lindqvist", "Jon Park", "me", "x", "By Ana Souza and Li Wei", "Reuters",
          "A very long line of text that goes on far longer than any author name ever would "
          "in a byline on a real news site, twice: " * 2)


@st.composite
def elements(draw, depth: int = 0) -> str:
    tag = draw(st.sampled_from(_TAGS))
    attrs = ""
    if cls := draw(st.sampled_from(_CLASSES)):
        attrs += f' class="{cls}"'
    if ident := draw(st.sampled_from(_IDS)):
        attrs += f' id="{ident}"'
    if draw(st.booleans()):
        attrs += ' itemprop="author"'
    if draw(st.integers(0, 5)) == 0:
        attrs += ' rel="author"'
    if draw(st.integers(0, 5)) == 0:
        attrs += ' data-component="Byline"'
    text = draw(st.sampled_from(_NAMES))
    children = "".join(draw(st.lists(elements(depth + 1), max_size=3))) if depth < 3 else ""
    tail = draw(st.sampled_from(("", " and ", "Jon Park")))
    return f"<{tag}{attrs}>{text}{children}</{tag}>{tail}"


@settings(max_examples=300, deadline=None)
@given(st.lists(elements(), min_size=1, max_size=4))
def test_random_pages_agree(parts):
    ours, theirs = both(page("".join(parts)))
    assert ours == theirs


@pytest.mark.parametrize(
    "names, expected",
    [
        (["Zeige alle Beiträge von Mara Lindqvist"], ["Mara Lindqvist"]),
        (["View all posts by Jon Park"], ["Jon Park"]),
        (["Ana Souza, PhD"], ["Ana Souza"]),
        (["Art Edwards says"], []),
        (["Coastline Gazette Com"], []),
        (["Posted"], []),
        (["Publiziert am"], []),
        (["Coastline Gazette", "Mara Lindqvist"], ["Mara Lindqvist"]),
        (["Coastline Gazette"], ["Coastline Gazette"]),  # nobody else: kept, may be a person
        (["Mara Lindqvist", "ML"], ["Mara Lindqvist"]),
        (["Emily Co"], ["Emily Co"]),
        (["Redaktion"], ["Redaktion"]),
    ],
)
def test_clean_authors(names, expected):
    assert clean_authors(names, lambda n: n == "Coastline Gazette") == expected


def test_wordpress_post_terms_do_not_hide_the_byline():
    html = page('<div class="post hentry category-news tag-ferry"><div class="entry-meta">'
                '<span class="author vcard"><a class="url fn n" href="/a/m">marali</a></span>'
                '</div><p>Body text.</p></div>')
    assert page_author(load_html(html)) == "Marali"
