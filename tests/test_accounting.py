"""The books: checks that hold when nothing is lost, and that fail, saying where, when something is."""

from __future__ import annotations

import json
import os

import fastavro

import schemas
from pipeline.accounting import batch_books, describe, written_counts
from pipeline.streaming import LEDGER_FOLDER, books

COUNTERS = {"files_read": 3, "files_refused": 1, "files_skipped_special": 1,
            "json_lines_read": 4, "source_pages": 7, "pages_read": 7,
            "articles_written": 4, "copies_written": 1, "dead_letters_written": 2}
WRITTEN = {"articles": 4, "copies": 1, "dead_letters": 2}


def test_balanced_books():
    result = batch_books(COUNTERS, files_matched=5, written=WRITTEN)
    assert result["balanced"] and describe(result) == []
    assert result["read"]["json_lines_read"] == 4


def test_a_record_lost_by_a_sink_unbalances_the_books():
    result = batch_books(COUNTERS, files_matched=5, written={**WRITTEN, "copies": 0})
    assert not result["balanced"]
    assert describe(result) == [
        "copies handed to the sink = copies in the files: expected 1, got 0",
        "pages from the sources = records written (articles + copies + dead letters): "
        "expected 7, got 6",
    ]


def test_a_page_lost_between_stages_or_a_file_never_read_unbalances_the_books():
    lost_stage = batch_books({**COUNTERS, "articles_written": 3}, 5,
                             {**WRITTEN, "articles": 3})
    assert not lost_stage["balanced"]
    unread = batch_books(COUNTERS, files_matched=6, written=WRITTEN)
    assert describe(unread) == ["files matched = files read + refused + skipped: expected 6, got 5"]


def _avro(path, schema_name: str, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, schemas.parsed(schema_name), records)


def _letter(source: str) -> dict:
    return {"source": source, "stage": "decode", "reason": "empty", "error": "e", "excerpt": "",
            "size_bytes": 0, "ingested_at": None, "pipeline_version": None}


def _ledger(output, entries: list[dict]) -> None:
    folder = output / LEDGER_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for n, entry in enumerate(entries):
        (folder / f"{n}.json").write_text(json.dumps(entry))


def test_streaming_books_compare_each_file_with_its_records(tmp_path):
    _ledger(tmp_path, [{"file": "/in/a.jsonl", "pages": 3, "special": False},
                       {"file": "/in/b.txt", "pages": 1, "special": False},
                       {"file": "/in/pipe", "pages": 0, "special": True}])
    _avro(tmp_path / "dead_letters" / "part-1.avro", schemas.DEAD_LETTER,
          [_letter("/in/a.jsonl:1"), _letter("/in/a.jsonl:2"), _letter("/in/a.jsonl:3"),
           _letter("/in/b.txt")])
    result = books(str(tmp_path))
    assert result["balanced"], result
    assert result["read"] == {"files_read": 2, "files_skipped_special": 1, "pages": 4}
    assert written_counts(str(tmp_path)) == {"articles": 0, "copies": 0, "dead_letters": 4}


def test_streaming_books_name_the_file_whose_records_are_missing(tmp_path):
    _ledger(tmp_path, [{"file": "/in/a.jsonl", "pages": 3, "special": False}])
    _avro(tmp_path / "dead_letters" / "part-1.avro", schemas.DEAD_LETTER,
          [_letter("/in/a.jsonl:1"), _letter("/in/a.jsonl:3")])
    result = books(str(tmp_path))
    assert not result["balanced"]
    assert result["unbalanced_files"] == [{"file": "/in/a.jsonl", "pages": 3, "records": 2}]
    assert os.path.isdir(tmp_path / LEDGER_FOLDER)
