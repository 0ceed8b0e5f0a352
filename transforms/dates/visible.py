"""Visible-text search: dated lines after the headline, in the page header and atop captures.

Each short line is read by the cheap parsers; a line they find nothing in is given to
dateparser in the page's language ('Veröffentlicht am 3. März 2021', '2024년 3월 26일').
Long lines are sentences: a date in one is an event's, not the page's."""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from transforms.dates.parsing import Reading, parse_human, parse_machine, parse_words
from transforms.dates.structured import Candidate
from transforms.dates.tables import (
    BYLINE_NODES,
    BYLINE_WINDOW_CHARS,
    MAX_DATE_LINE_CHARS,
    PUBLISHED_LABEL,
    UPDATED_LABEL,
)

_SPACES = re.compile(r"\s+")
_BY = re.compile(r"By\b")  # matched on the stripped line: a leading \s* costs n² in search
# Text nodes after an element; scripts and styles are skipped (the tree is shared with
# extraction and must not be modified, so they are not dropped).
# (The position limit comes first: libxml2 then stops after those nodes, where a predicate
# before it would be tested on every text node to the end of the page.)
_FOLLOWING_TEXT = etree.XPath(f"following::text()[position() <= {BYLINE_NODES}]")
_HIDDEN = frozenset(("script", "style", "noscript"))
# Link text: a date in a link names the page it links to (a menu, a related story).
_IN_LINK = etree.XPath("boolean(ancestor-or-self::a or ancestor-or-self::nav)")
# A label standing alone on its line ("PUBLISHED:") names the date on the next line.
MAX_LABEL_LINE_CHARS = 30


def headline(tree):
    """The element holding the headline: the heading the <title> repeats, else the first h1."""
    title = _SPACES.sub(" ", tree.findtext(".//title") or "").strip().lower()
    first_h1 = None
    for el in tree.iter("h1", "h2", "h3"):
        text = _SPACES.sub(" ", el.text_content()).strip().lower()
        if el.tag == "h1" and first_h1 is None:
            first_h1 = el
        if len(text) > 15 and title and text in title:
            return el
    return first_h1


def _in_link(node) -> bool:
    holder = node.getparent()
    if node.is_tail:  # the text after an element belongs to that element's parent
        holder = holder.getparent()
    return holder is not None and _IN_LINK(holder)


def text_after(el, limit: int = BYLINE_WINDOW_CHARS) -> list[str]:
    """The lines of visible text that follow an element, up to ``limit`` characters."""
    lines, total = [], 0
    for node in _FOLLOWING_TEXT(el):
        piece = node.strip()
        if not piece or (not node.is_tail and node.getparent().tag in _HIDDEN):
            continue
        if not _in_link(node):
            lines.append(piece)
            total += len(piece)
            if total >= limit:
                break
    return lines


def read_line(line: str, day_first: bool, ceiling_year: int,
              language: str | None) -> Reading | None:
    """A date on a short visible line: the cheap parsers, then dateparser."""
    return (parse_human(line, day_first, ceiling_year) or parse_machine(line)
            or parse_words(line, language, day_first))


def line_candidates(
    lines: list[str] | tuple[str, ...], where: str, day_first: bool, ceiling_year: int,
    language: str | None = None,
) -> Iterator[Candidate]:
    """Dated lines: 'Published' ones first, then plain dated lines, then 'Updated' ones."""
    published, plain, updated = [], [], []
    label = ""
    for line in lines:
        if len(line) > MAX_DATE_LINE_CHARS:
            label = ""
            continue
        reading = read_line(line, day_first, ceiling_year, language)
        if reading is None:
            label = line if len(line) <= MAX_LABEL_LINE_CHARS else ""
            continue
        line, label = f"{label} {line}", ""
        if PUBLISHED_LABEL.search(line):
            published.append((f"{where}:Published", reading))
        elif UPDATED_LABEL.search(line):
            updated.append((f"{where}:Updated", reading))
        elif _BY.match(line.lstrip()):
            plain.append((f"{where}:byline", reading))
        else:
            plain.append((f"{where}:date", reading))
    yield from published
    yield from plain
    yield from updated


def byline_lines(tree) -> list[str]:
    """The visible lines after the headline, where bylines and date lines stand."""
    heading = headline(tree)
    return text_after(heading) if heading is not None else []
