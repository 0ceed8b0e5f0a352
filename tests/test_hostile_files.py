"""Hostile files (not pages): odd names, damaged archives, special files, symlinks out of the inputs.

One batch run over a folder holding all of them next to the seeds: the run exits 0, the
seeds come out as without them, each hostile file ends as its dead letter (or is skipped
and counted), the books balance, and no record echoes a file that was not an input.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import zlib

import pytest

from pipeline.sources import display_path, read_file
from tests.hostile_pages import ARTICLE_EN, html
from tests.support import copy_seeds, read_records, run_newsbeam

SECRET = "SECRET-TOKEN-7f3a do not echo"
# Names that are not UTF-8 (Latin-1, Shift_JIS, a lone continuation byte, an overlong form).
BAD_NAMES = [b"caf\xe9.html", "北朝鮮".encode("shift_jis") + b".txt", b"x\x80y.html",
             b"\xc0\xafslash.txt"]
LINES = [json.dumps({"url": f"https://x.test/{n}", "html": html(f"<p>Line {n}. {ARTICLE_EN}</p>")})
         for n in range(6)]
JSONL = ("\n".join(LINES) + "\n").encode()
GZ = gzip.compress(JSONL)
# Cut points: inside the header, early in the deflate stream, mid-way, just before the trailer.
CUTS = [5, 40, len(GZ) // 2, len(GZ) - 4]


def _write_hostile(folder, outside) -> dict[str, str]:
    """Writes the hostile files; returns name -> expected outcome."""
    expected = {}
    for raw in BAD_NAMES:
        body = html(f"<p>A page whose name is not UTF-8 ({raw!r}).</p>{ARTICLE_EN}").encode()
        with open(os.path.join(os.fsencode(folder), raw), "wb") as handle:
            handle.write(body)
        expected[display_path(os.fsdecode(raw))] = "article"
    (folder / "not-gzip.jsonl.gz").write_bytes(JSONL)
    expected["not-gzip.jsonl.gz:1"] = "bad_gzip"
    for cut in CUTS:
        (folder / f"cut-{cut}.jsonl.gz").write_bytes(GZ[:cut])
    (folder / "cut-page.html.gz").write_bytes(gzip.compress(html(ARTICLE_EN).encode())[:300])
    expected["cut-page.html.gz"] = "bad_gzip"
    os.mkfifo(folder / "pipe.html")  # reading it would block forever
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.html"))
    (outside / "private.txt").write_text(f"{SECRET}\n" * 50)
    os.symlink(outside / "private.txt", folder / "link-out.txt")
    os.symlink("/etc/passwd", folder / "passwd.txt")
    os.symlink("/proc/self/environ", folder / "environ.txt")
    os.symlink(outside, folder / "dir-link")  # a folder: not a file, not followed
    os.symlink(folder / "nowhere.html", folder / "dangling.html")
    for name in ("link-out.txt", "passwd.txt", "environ.txt"):
        expected[name] = "outside_inputs"
    expected["dangling.html"] = "vanished"
    inside = folder / "sub"
    inside.mkdir()
    (inside / "story.html").write_text(html(f"<p>Inside story.</p>{ARTICLE_EN}"))
    os.symlink(inside / "story.html", folder / "link-in.html")  # inside the inputs: read
    expected["link-in.html"] = "article"
    return expected, server


@pytest.fixture(scope="module")
def hostile_files_run(tmp_path_factory):
    folder = copy_seeds(tmp_path_factory.mktemp("files-in"))
    outside = tmp_path_factory.mktemp("outside")
    expected, server = _write_hostile(folder, outside)
    output = tmp_path_factory.mktemp("files-out")
    try:
        summary = run_newsbeam([str(folder / "*")], output)
    finally:
        server.close()
    outcomes = {}
    for kind in ("articles", "copies"):
        for record in read_records(output, kind):
            outcomes[os.path.basename(record["source"])] = ("article", record)
    for record in read_records(output, "dead_letters"):
        outcomes[os.path.basename(record["source"])] = (record["reason"], record)
    return expected, outcomes, summary, output


def test_the_run_balances_and_the_seeds_are_unaffected(hostile_files_run):
    _, outcomes, summary, _ = hostile_files_run
    assert summary["accounted"] and summary["books"]["balanced"], summary["books"]
    assert summary["books"]["read"]["files_skipped_special"] == 2  # the FIFO and the socket
    seeds = [name for name in outcomes if name[:3].isdigit()]
    assert sorted(outcomes[name][0] for name in seeds) == ["article"] * 5


def test_each_hostile_file_has_its_outcome(hostile_files_run):
    expected, outcomes, _, _ = hostile_files_run
    for name, want in expected.items():
        assert name in outcomes, name
        got, record = outcomes[name]
        assert got == want, (name, got, record.get("error"))
        if want != "article":  # a page's own gzip is decode's; the file's, the source's
            stage = "decode" if name.endswith(".html.gz") else "read"
            assert record["stage"] == stage and record["error"], (name, record["stage"])


def test_names_that_are_not_utf8_are_kept_visibly(hostile_files_run):
    _, outcomes, _, _ = hostile_files_run
    assert "caf\\xe9.html" in outcomes and "x\\x80y.html" in outcomes


def test_a_damaged_jsonl_gz_keeps_the_lines_before_the_damage(hostile_files_run):
    _, outcomes, _, _ = hostile_files_run
    for cut in CUTS:
        name = f"cut-{cut}.jsonl.gz"
        lines = sorted((k for k in outcomes if k.startswith(f"{name}:")),
                       key=lambda k: int(k.rsplit(":", 1)[1]))
        assert lines, name
        *good, last = lines
        assert outcomes[last][0] == "bad_gzip", (last, outcomes[last][0])
        assert all(outcomes[k][0] == "article" for k in good), name
        # every complete line the cut left is a page
        whole = len(zlib.decompressobj(31).decompress(GZ[:cut]).split(b"\n")) - 1
        assert len(good) == whole, (name, len(good), whole)


def test_no_record_echoes_a_file_that_was_not_an_input(hostile_files_run):
    _, _, _, output = hostile_files_run
    blobs = [json.dumps(r, default=str) for kind in ("articles", "copies", "dead_letters")
             for r in read_records(output, kind)]
    text = "\n".join(blobs)
    assert SECRET not in text
    assert "root:x:0:0" not in text  # /etc/passwd
    assert "PATH=" not in text  # /proc/self/environ


def test_a_file_gone_between_listing_and_reading_is_a_dead_letter(tmp_path):
    from apache_beam.io.filesystem import FileMetadata

    (page,) = read_file(FileMetadata(str(tmp_path / "gone.html"), 10, 0), 1000,
                        (str(tmp_path),))
    assert page.failure[0] == "vanished" and page.body == b""
