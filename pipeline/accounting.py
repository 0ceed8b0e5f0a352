"""The run's books: what the sources read, counted on their own, against what was written.

The read side is counted where pages come in (files matched before the run, files
read or skipped, JSON lines, pages the sources emitted); the written side is
counted twice: by the stage that hands records to the sinks (``<kind>_written``)
and by reading the Avro files back (their block headers' record counts). A sink
that loses records, a stage that drops a page, a file matched but never read: each
makes a check fail, and a run whose books do not balance says which and exits
non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable

import fastavro
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS, OUTPUTS, file_of
from pipeline.sources import (
    FILES_READ,
    FILES_REFUSED,
    FILES_SKIPPED_SPECIAL,
    JSON_LINES_READ,
    SOURCE_PAGES,
)

COUNTER_OF_KIND = {ARTICLES: "articles_written", COPIES: "copies_written",
                   DEAD_LETTERS: "dead_letters_written"}


def avro_files(output: str, kind: str) -> list[str]:
    try:
        return sorted(m.path for m in
                      FileSystems.match([FileSystems.join(output, kind, "*.avro")])[0].metadata_list)
    except BeamIOError:
        return []


def records_in(paths: Iterable[str]) -> int:
    """Records in Avro files, from their block headers (no record is decoded)."""
    total = 0
    for path in paths:
        with FileSystems.open(path) as handle:
            total += sum(block.num_records for block in fastavro.block_reader(handle))
    return total


def written_counts(output: str) -> dict[str, int]:
    """Records of each kind in ``output``'s Avro files, counted by reading the files."""
    return {kind: records_in(avro_files(output, kind)) for kind in OUTPUTS}


def _check(what: str, expected: int, got: int) -> dict:
    return {"check": what, "expected": expected, "got": got, "ok": expected == got}


def batch_books(counters: dict[str, int], files_matched: int, written: dict[str, int]) -> dict:
    """The books of a batch run: every check, and whether they all hold."""
    source_pages = counters.get(SOURCE_PAGES, 0)
    files_seen = sum(counters.get(name, 0)
                     for name in (FILES_READ, FILES_REFUSED, FILES_SKIPPED_SPECIAL))
    checks = [
        _check("files matched = files read + refused + skipped", files_matched, files_seen),
        _check("pages from the sources = pages decoded", source_pages,
               counters.get("pages_read", 0)),
        *(
            _check(f"{kind} handed to the sink = {kind} in the files",
                   counters.get(COUNTER_OF_KIND[kind], 0), written[kind])
            for kind in OUTPUTS
        ),
        _check("pages from the sources = records written (articles + copies + dead letters)",
               source_pages, sum(written.values())),
    ]
    return {
        "read": {
            "files_matched": files_matched,
            "files_read": counters.get(FILES_READ, 0),
            "files_refused": counters.get(FILES_REFUSED, 0),
            "files_skipped_special": counters.get(FILES_SKIPPED_SPECIAL, 0),
            "json_lines_read": counters.get(JSON_LINES_READ, 0),
            "pages": source_pages,
        },
        "written": dict(written),
        "checks": checks,
        "balanced": all(check["ok"] for check in checks),
    }


def streaming_books(ledger: dict[str, int], skipped_special: int,
                    written_by_file: dict[str, dict[str, int]]) -> dict:
    """The books of a streaming run: pages each file gave (the reader's ledger) against
    the records written for that file, per kind."""
    written = {kind: sum(kinds.get(kind, 0) for kinds in written_by_file.values())
               for kind in OUTPUTS}
    short = sorted(
        (name, pages, sum(written_by_file.get(name, {}).values()))
        for name, pages in ledger.items()
        if sum(written_by_file.get(name, {}).values()) != pages
    )
    unread = sorted(set(written_by_file) - set(ledger))
    pages = sum(ledger.values())
    checks = [
        _check("pages read = records written (articles + copies + dead letters)",
               pages, sum(sum(kinds.values()) for name, kinds in written_by_file.items()
                          if name in ledger)),
        _check("files whose records do not match their pages", 0, len(short)),
    ]
    books = {
        "read": {"files_read": len(ledger), "files_skipped_special": skipped_special,
                 "pages": pages},
        "written": written,
        "checks": checks,
        "balanced": all(check["ok"] for check in checks),
    }
    if short:
        books["unbalanced_files"] = [
            {"file": name, "pages": pages, "records": got} for name, pages, got in short[:20]
        ]
    if unread:
        books["written_by_earlier_runs"] = len(unread)
    return books


def written_by_file(output: str) -> dict[str, dict[str, int]]:
    """Records written under ``output`` per input file and kind (reads every record's source)."""
    tally: dict[str, dict[str, int]] = {}
    for kind in OUTPUTS:
        for path in avro_files(output, kind):
            with FileSystems.open(path) as handle:
                for record in fastavro.reader(handle):
                    per_kind = tally.setdefault(file_of(record["source"]), {})
                    per_kind[kind] = per_kind.get(kind, 0) + 1
    return tally


def describe(books: dict) -> list[str]:
    """The failed checks, one line each, for the summary printout."""
    return [f"{c['check']}: expected {c['expected']}, got {c['got']}"
            for c in books["checks"] if not c["ok"]]
