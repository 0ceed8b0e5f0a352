"""Reading pages from file globs: one page per file, one per JSON line, oversized files cut short."""

import gzip
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.sources import ReadPages, check_patterns


def test_files_and_json_lines_become_pages(tmp_path):
    (tmp_path / "a.html").write_text("<html><body><p>a</p></body></html>")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"plain text capture"))
    (tmp_path / "big.html").write_bytes(b"x" * 5000)
    lines = [
        json.dumps({"url": "u1", "html": "<p>1</p>"}),
        "",
        json.dumps({"url": "u2", "text": "t"}),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n")
    with TestPipeline() as p:
        pages = p | ReadPages([str(tmp_path / "*")], max_page_bytes=1000)
        summary = pages | beam.Map(
            lambda page: (
                page.source.rsplit("/", 1)[-1],
                page.size_bytes,
                page.declared_kind,
                len(page.body) <= 4096,
            )
        )
        assert_that(
            summary,
            equal_to(
                [
                    ("a.html", 34, None, True),
                    ("b.txt.gz", len(gzip.compress(b"plain text capture")), None, True),
                    ("big.html", 5000, None, True),
                    ("feed.jsonl:1", len(lines[0]) + 1, "jsonl", True),
                    ("feed.jsonl:3", len(lines[2]) + 1, "jsonl", True),
                ]
            ),
        )


def test_a_pattern_that_matches_nothing_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert check_patterns([str(tmp_path / "*.txt")]) == {str(tmp_path / "*.txt"): 1}
    try:
        check_patterns([str(tmp_path / "*.html")])
    except ValueError as exc:
        assert "*.html" in str(exc)
    else:
        raise AssertionError("no error for a pattern that matches nothing")
