"""One parse of each HTML page, shared by the stages that read its tree.

Extraction and dating both read the page's element tree. Parsing costs about a
millisecond a page, as much as some whole stages, so the tree of the page being
processed is kept (one per thread) and handed to the next stage that asks for the
same document. Beam runs the fused stages of an element one after the other in one
thread, so the second parse is skipped; anywhere else the page is simply parsed again.
Readers must not modify the tree (trafilatura copies a tree before cleaning it)."""

from __future__ import annotations

import threading

from lxml.html import HtmlElement
from trafilatura.utils import load_html

_last = threading.local()


def page_tree(html: str) -> HtmlElement | None:
    """The parsed tree of ``html`` (None if it is not HTML); shared, read-only."""
    if getattr(_last, "html", None) is html:
        return _last.tree
    try:
        tree = load_html(html)
    except (TypeError, ValueError):
        tree = None
    _last.html, _last.tree = html, tree
    return tree
