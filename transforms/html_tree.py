"""One parse of each HTML page, shared by the stages that read its tree.

Extraction and dating both read the page's element tree. Parsing costs about a
millisecond a page, as much as some whole stages, so the tree of the page being
processed is kept (one per thread) and handed to the next stage that asks for the
same document. Beam runs the fused stages of an element one after the other in one
thread, so the second parse is skipped; anywhere else the page is simply parsed again.
Readers must not modify the tree (trafilatura copies a tree before cleaning it)."""

from __future__ import annotations

import threading

from lxml.html import HtmlElement, fromstring
from trafilatura.utils import DOCTYPE_TAG, HTML_PARSER, is_dubious_html, load_html

_last = threading.local()
# What trafilatura's load_html deletes before parsing (utils.INVALID_XML_CHARS), as bytes.
_CONTROL_BYTES = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
# U+FFFE and U+FFFF, which load_html deletes too. Looked for in the text, not in its UTF-8
# bytes: a page in ASCII or Latin-1 is stored one byte a character, and Python then knows
# without a scan that it holds neither (0.2 ms a page less).
_NONCHARACTERS = ("\ufffe", "\uffff")


def page_tree(html: str) -> HtmlElement | None:
    """The parsed tree of ``html`` (None if it is not HTML); shared, read-only."""
    if getattr(_last, "html", None) is html:
        return _last.tree
    try:
        tree = parse_page(html)
    except (TypeError, ValueError):
        tree = None
    _last.html, _last.tree = html, tree
    return tree


def _needs_repair(html: str, data: bytes, beginning: str) -> bool:
    """Whether trafilatura's load_html would change the text before parsing it."""
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):
        return True
    if any(nonchar in html for nonchar in _NONCHARACTERS):
        return True
    if "doctype" in beginning:
        first_line, newline, _ = html.partition("\n")
        if not newline or DOCTYPE_TAG.search(first_line):
            return True
    return any("<html" in line and line.endswith("/>") for line in html[:4096].splitlines()[:4])


def parse_page(html: str) -> HtmlElement | None:
    """``trafilatura.utils.load_html(html)``, faster on the common page.

    load_html scans the whole text with a regular expression for control characters
    (0.4 ms on a news page) and parses the text as a Python string. A page that needs
    none of its repairs is parsed here from its UTF-8 bytes instead, with trafilatura's
    parser; every other page, and any parse that fails, goes through load_html itself.
    tests/test_html_tree.py checks that both give the same tree."""
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return load_html(html)
    beginning = html[:50].lower()  # what load_html looks at for a doctype and for "html"
    if _needs_repair(html, data, beginning):
        return load_html(html)
    try:
        tree = fromstring(data, parser=HTML_PARSER)
    except Exception:  # noqa: BLE001 - load_html has its own fallbacks for these
        return load_html(html)
    if tree is None or len(tree) < 1:
        return load_html(html)
    if is_dubious_html(beginning) and len(tree) < 2:
        return None
    return tree
