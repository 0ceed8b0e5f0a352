"""Nothing lost, nothing trusted: every hostile page ends as a dead letter with its reason, or right."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from tests.hostile_pages import CONTENT_SNIPPETS, hostile_pages
from tests.support import copy_seeds, read_records, run_newsbeam

# Default page limit is a few MB; a 100 MB page must be refused without reading it whole.
HUGE_BYTES = 100 * 1024 * 1024
# Bounded time and memory for the whole corpus, seeds included.
MAX_SECONDS = 120
MAX_RSS_GROWTH_BYTES = 1_500 * 1024 * 1024


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    folder = copy_seeds(tmp_path_factory.mktemp("hostile-in"))
    pages = hostile_pages(HUGE_BYTES)
    for name, (data, _) in pages.items():
        (folder / name).write_bytes(data)
    output = tmp_path_factory.mktemp("hostile-out")
    rss_before = psutil.Process(os.getpid()).memory_info().rss
    started = time.monotonic()
    summary = run_newsbeam([str(folder / "*")], output)
    seconds = time.monotonic() - started
    rss_growth = psutil.Process(os.getpid()).memory_info().rss - rss_before
    outcomes = {}
    for record in read_records(output, "articles") + read_records(output, "copies"):
        outcomes[os.path.basename(record["source"])] = ("article", record)
    for record in read_records(output, "dead_letters"):
        outcomes[os.path.basename(record["source"])] = (record["reason"], record)
    return pages, outcomes, summary, seconds, rss_growth


def test_every_page_is_accounted_for(hostile_run):
    pages, outcomes, summary, _, _ = hostile_run
    assert summary["accounted"]
    # 5 seeds + every hostile file, the JSON Lines file counting one page per line
    assert summary["pages_read"] == 5 + len(pages) - 1 + 3
    good = sum(want.split("|").count("article") for _, want in pages.values())
    assert summary["articles_written"] + summary["syndicated_copies"] == 5 + good
    # the same English story in four encodings and a JSON line: one article, the rest copies
    assert summary["syndicated_copies"] >= 1 + 4


@pytest.mark.parametrize("name", sorted(hostile_pages(0)))
def test_each_hostile_page_has_its_outcome(hostile_run, name):
    pages, outcomes, _, _, _ = hostile_run
    expected = pages[name][1]
    if name.endswith(".jsonl"):
        got = [outcomes[f"{name}:{line}"][0] for line in (1, 2, 3)]
        assert got == expected.split("|")
        return
    reason, record = outcomes[name]
    assert reason == expected, (name, reason, record.get("error", "")[:300])
    if name in CONTENT_SNIPPETS:
        assert CONTENT_SNIPPETS[name] in record["text"]
    if reason != "article":
        assert record["stage"] and record["error"] and record["size_bytes"] >= 0


def test_bounded_time_and_memory(hostile_run):
    _, _, _, seconds, rss_growth = hostile_run
    assert seconds < MAX_SECONDS
    assert rss_growth < MAX_RSS_GROWTH_BYTES


def test_extraction_past_its_time_limit_is_a_timeout(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    paragraphs = "".join(f"<p>Paragraph {i} about talks between the two countries, said "
                         f"officials in Seoul on Tuesday.</p>" for i in range(20_000))
    (folder / "slow.html").write_text(f"<html><body><article>{paragraphs}</article></body></html>")
    summary = run_newsbeam([str(folder / "*")], tmp_path / "out", "--extract_time_limit=0.05")
    (letter,) = read_records(tmp_path / "out", "dead_letters")
    assert (letter["stage"], letter["reason"]) == ("extract", "timeout")
    assert summary["dead_letters_by_reason"] == {"timeout": 1}
