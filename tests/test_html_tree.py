"""The shared page parse gives the tree trafilatura's own load_html gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from trafilatura.utils import load_html

from transforms.html_tree import page_tree, parse_page

GOLDEN = Path(__file__).resolve().parent / "golden"
BODY = "<body><h1>Talks resume</h1><p>Negotiators met in Seoul on Tuesday.</p></body>"


def serialised(tree) -> bytes | None:
    return None if tree is None else etree.tostring(tree)


def same_as_trafilatura(html: str) -> None:
    assert serialised(parse_page(html)) == serialised(load_html(html))


@pytest.mark.parametrize(
    "html",
    [
        f"<!DOCTYPE html>\n<html><head><title>T</title></head>{BODY}</html>",
        f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/x.dtd">\n<html>{BODY}</html>',
        f"<!DOCTYPE html><html>{BODY}</html>",  # no newline at all
        f"<html/>\n{BODY}",  # self-closing html tag
        f"<html><head><title>T\x00\x0b</title></head>{BODY}</html>",  # control characters
        f"<html>{BODY}\ufffe</html>",
        f'<?xml version="1.0" encoding="ISO-8859-1"?><html>{BODY}</html>',
        f'<html><head><meta charset="windows-1252"></head>{BODY}</html>',
        "<html><body><p>Сеул, 24 декабря — переговоры. 서울 협상 재개</p></body></html>",
        "just a line of text, not HTML at all",
        "<p>a fragment</p>",
        "",
        "   ",
        f"<html>{BODY}\ud800</html>",  # a lone surrogate
    ],
    ids=range(14),
)
def test_pages_parse_as_trafilatura_parses_them(html):
    same_as_trafilatura(html)


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.html")), ids=lambda p: p.name)
def test_golden_pages_parse_as_trafilatura_parses_them(path):
    same_as_trafilatura(path.read_text(encoding="utf-8"))


_PIECES = ("<html>", "</html>", "<html/>", "<!DOCTYPE html>", "<!doctype x / y>", "\n", "<p>",
           "</p>", "<div class='a'>", "</div>", "text", " ", "\x00", "\x1f", "\ufffe", "é", "서울",
           "<?xml version='1.0'?>", "<br/>", "<head><title>t</title></head>", "<body>", "&amp;")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_random_markup_parses_as_trafilatura_parses_it(pieces):
    same_as_trafilatura("".join(pieces))


def test_the_same_page_object_is_parsed_once():
    html = f"<html>{BODY}</html>"
    assert page_tree(html) is page_tree(html)
    copy = "".join([html[:10], html[10:]])  # equal text, another object: parsed again
    assert page_tree(copy) is not page_tree(html)
