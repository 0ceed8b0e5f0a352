"""Reading pages from file globs: one page per file, one per JSON line, oversized files cut short."""

import gzip
import json
import os

import apache_beam as beam
import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.sources import (
    ReadPages,
    check_patterns,
    display_path,
    input_roots,
    match_files,
    read_file,
)


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


@pytest.mark.parametrize(
    "raw, shown",
    [
        (b"caf\xe9.html", "caf\\xe9.html"),
        (b"x\x80y.txt", "x\\x80y.txt"),
        (b"\xc0\xaf.txt", "\\xc0\\xaf.txt"),
        ("北朝鮮".encode("shift_jis") + b".html", "\\x96k\\x92\\xa9\\x91N.html"),
        ("北朝鮮.html".encode(), "北朝鮮.html"),  # valid UTF-8 stays as it is
    ],
)
def test_names_that_are_not_utf8_are_shown_escaped(raw, shown):
    name = os.fsdecode(raw)
    assert display_path(name) == shown
    display_path(name).encode("utf-8")  # Avro can write it


def test_matching_keeps_what_beam_would_drop_and_lists_special_files(tmp_path):
    (tmp_path / "a.html").write_text("a")
    os.symlink(tmp_path / "gone.html", tmp_path / "dangling.html")
    os.mkfifo(tmp_path / "pipe.html")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.html").write_text("b")
    names = [os.path.basename(m.path) for m in match_files(str(tmp_path / "*.html"))]
    assert names == ["a.html", "dangling.html", "pipe.html"]  # * does not cross folders
    deep = [os.path.basename(m.path) for m in match_files(str(tmp_path / "**.html"))]
    assert "b.html" in deep


def test_input_roots_are_the_real_folders_of_the_patterns(tmp_path):
    (tmp_path / "in").mkdir()
    os.symlink(tmp_path / "in", tmp_path / "alias")
    assert input_roots([f"{tmp_path}/alias/*.html"]) == (str(tmp_path / "in"),)
    named = tmp_path / "in" / "x.html"
    assert str(named) in input_roots([str(named)])


def test_special_files_are_skipped_and_counted_never_opened(tmp_path, monkeypatch):
    import pipeline.sources as sources

    seen = []
    monkeypatch.setattr(sources, "count", lambda name, value=1: seen.append(name))
    os.mkfifo(tmp_path / "pipe.html")  # opening it would block
    meta = FileMetadata(str(tmp_path / "pipe.html"), 0, 0)
    assert list(read_file(meta, 1000, (str(tmp_path),))) == []
    assert seen == ["files_skipped_special"]


LINES = b"".join(json.dumps({"text": f"line {n} " * 5}).encode() + b"\n" for n in range(8))
GZ = gzip.compress(LINES)


@pytest.mark.parametrize("cut", [3, 15, len(GZ) // 2, len(GZ) - 4])
def test_a_cut_jsonl_gz_keeps_its_lines_and_ends_with_bad_gzip(tmp_path, cut):
    data = GZ
    (tmp_path / "f.jsonl.gz").write_bytes(data[:cut])
    meta = FileMetadata(str(tmp_path / "f.jsonl.gz"), cut, 0)
    pages = list(read_file(meta, 10_000, (str(tmp_path),)))
    *good, last = pages
    assert last.failure[0] == "bad_gzip" and last.body == b""
    assert last.source.endswith(f":{len(good) + 1}")
    assert all(page.failure is None and page.body.startswith(b"{") for page in good)
