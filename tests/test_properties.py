"""Property: whatever a page holds, it comes out exactly once (article, copy or dead letter), and nothing raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import read_records, run_newsbeam
from transforms.datelines import apply_datelines
from transforms.dates import apply_dates, load_publishers
from transforms.decode import decode_page
from transforms.extract import extract_document
from transforms.failures import run_guarded
from transforms.records import Article, DeadLetter, Page
from transforms.topics import load_taxonomy, tag_article

REFERENCE = datetime(2026, 11, 23, 12, tzinfo=UTC)
PUBLISHERS = load_publishers()
TAXONOMY = load_taxonomy()
STAGES = (
    ("decode", decode_page),
    ("extract", lambda doc: extract_document(doc, time_limit_s=2.0)),
    ("datelines", apply_datelines),
    ("dates", lambda a: apply_dates(a, REFERENCE, PUBLISHERS)),
    ("topics", lambda a: tag_article(a, TAXONOMY)),
)

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
tags = st.sampled_from(["p", "div", "article", "h1", "span", "script", "style", "nav", "title"])


@st.composite
def html_fragments(draw) -> str:
    parts = draw(st.lists(st.tuples(tags, words), max_size=12))
    body = "".join(f"<{t}>{w}</{t}>" for t, w in parts)
    return draw(st.sampled_from(["", "<!DOCTYPE html><html><body>", "<html>"])) + body


encodings = st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1", "cp1252", "shift_jis",
                             "euc-kr", "utf-8-sig"])


@st.composite
def encoded_text(draw) -> bytes:
    text = draw(st.one_of(words, html_fragments()))
    return text.encode(draw(encodings), errors="replace")


@st.composite
def json_lines(draw) -> bytes:
    record = draw(st.dictionaries(
        st.sampled_from(["url", "html", "text", "fetched_at", "other"]),
        st.one_of(words, html_fragments(), st.integers(), st.none()), max_size=4))
    line = json.dumps(record) if draw(st.booleans()) else draw(words)
    return line.encode("utf-8", errors="replace")


pages = st.one_of(
    st.binary(max_size=3000).map(lambda b: Page("p", b, len(b))),
    encoded_text().map(lambda b: Page("p", b, len(b))),
    json_lines().map(lambda b: Page("p:1", b, len(b), declared_kind="jsonl")),
)


def outcome(page: Page) -> Article | DeadLetter:
    """The stage chain on one page, each stage guarded as in the pipeline."""
    element = page
    for stage, fn in STAGES:
        element, failure = run_guarded(element, stage, fn)
        if failure is not None:
            return failure
    return element


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages)
def test_every_page_has_exactly_one_outcome(page):
    result = outcome(page)
    assert isinstance(result, Article | DeadLetter)
    if isinstance(result, DeadLetter):
        assert result.reason and result.stage
        assert not result.reason.endswith("_failed"), result.error  # no unexpected crash
    else:
        assert result.text.strip() and result.document is None


corpus_files = st.lists(
    st.tuples(st.sampled_from([".html", ".txt", ".htm", ".jsonl"]),
              st.one_of(encoded_text(), st.binary(max_size=500), json_lines())),
    min_size=1, max_size=6,
)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(corpus_files)
def test_pipeline_accounts_for_every_page(tmp_path_factory, files):
    folder = Path(tmp_path_factory.mktemp("prop-in"))
    expected_pages = 0
    for n, (suffix, data) in enumerate(files):
        (folder / f"page{n}{suffix}").write_bytes(data)
        if suffix == ".jsonl":
            expected_pages += sum(1 for line in data.split(b"\n") if line.strip())
        else:
            expected_pages += 1
    output = Path(tmp_path_factory.mktemp("prop-out"))
    summary = run_newsbeam([str(folder / "*")], output)
    written = sum(len(read_records(output, k)) for k in ("articles", "copies", "dead_letters"))
    assert summary["accounted"]
    assert summary["pages_read"] == written == expected_pages
