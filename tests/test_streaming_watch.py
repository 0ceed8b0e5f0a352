"""``newsbeam run --streaming --watch``: pages dropped into a folder come out as Avro while it runs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support import REFERENCE_TIME, SEEDS, read_records

DEADLINE_SECONDS = 120


def drop(page: Path, folder: Path) -> None:
    """Write as ``name.part`` and rename: the watcher never reads a half-written file."""
    partial = folder / f"{page.name}.part"
    shutil.copy(page, partial)
    os.replace(partial, folder / page.name)


def wait_for(predicate, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        assert process.poll() is None, f"newsbeam exited early while waiting for {what}"
        time.sleep(0.2)  # polling interval of the check, not a wait for an outcome
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def watching(inbox: Path, output: Path, cwd: Path) -> Iterator[subprocess.Popen]:
    """``newsbeam run --streaming`` on ``inbox``, polling fast, as a child process; killed
    on the way out if the test did not stop it."""
    command = [
        sys.executable, "-m", "pipeline.cli", "run", "--streaming", f"--watch={inbox}/*",
        f"--output={output}", "--poll_interval=0.2", "--stable_seconds=0",
        f"--reference_time={REFERENCE_TIME}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_watch_a_folder_and_stop_cleanly(tmp_path):
    inbox, output = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "late.txt.part").write_text("still being written")  # never read
    with watching(inbox, output, tmp_path) as process:
        seeds = sorted(SEEDS.glob("*.txt"))
        drop(seeds[0], inbox)  # the complete Reuters story first: it becomes the canonical
        wait_for(lambda: len(read_records(output, "articles")) == 1, process, "the first article")
        for page in seeds[1:]:
            drop(page, inbox)
        wait_for(lambda: len(read_records(output, "articles")) == 4
                 and len(read_records(output, "copies")) == 1, process, "all seeds")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]
    assert "5 pages read -> 4 articles, 1 syndicated copies, 0 dead letters" in stdout
    assert (output / "summary.json").exists()
    # No temporary file, stop file or lock is left; the reader's ledger (.ledger/) stays.
    leftovers = [p for p in output.rglob("*") if ".ledger" not in p.parts
                 and (p.name.startswith(".") or p.suffix == ".tmp")]
    assert not leftovers
    copies = read_records(output, "copies")
    assert os.path.basename(copies[0]["source"]).startswith("002")


def _dead_letters(output: Path) -> dict[str, str]:
    return {os.path.basename(r["source"]): r["reason"] for r in read_records(output, "dead_letters")}


def test_hostile_files_in_a_watched_folder_become_dead_letters_and_the_stream_goes_on(tmp_path):
    inbox, output, outside = tmp_path / "inbox", tmp_path / "out", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "private.txt").write_text("SECRET-7f3a\n" * 20)
    expected = {
        "image.html": "binary",
        "broken.jsonl:1": "bad_json",
        "empty.txt": "empty",
        "not-gzip.jsonl.gz:1": "bad_gzip",
        "dangling.html": "vanished",
        "link-out.txt": "outside_inputs",
    }
    with watching(inbox, output, tmp_path) as process:
        (inbox / "image.html").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(3000))
        (inbox / "broken.jsonl").write_bytes(b"{not json\n")
        (inbox / "empty.txt").write_bytes(b"")
        (inbox / "not-gzip.jsonl.gz").write_bytes(b'{"text": "plain, not gzip"}\n')
        os.symlink(inbox / "nowhere.html", inbox / "dangling.html")
        os.symlink(outside / "private.txt", inbox / "link-out.txt")
        os.mkfifo(inbox / "pipe.txt")  # never opened: skipped and counted
        with open(os.path.join(os.fsencode(inbox), b"caf\xe9.txt"), "wb") as handle:
            handle.write(next(SEEDS.glob("000_*.txt")).read_bytes())
        wait_for(lambda: _dead_letters(output) == expected, process, "every dead letter")
        wait_for(lambda: len(read_records(output, "articles")) == 1, process, "the article")
        drop(sorted(SEEDS.glob("*.txt"))[1], inbox)  # the stream still takes new pages
        wait_for(lambda: len(read_records(output, "articles"))
                 + len(read_records(output, "copies")) == 2, process, "a later page")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["accounted"] and summary["books"]["balanced"], summary["books"]
    assert summary["books"]["read"]["files_skipped_special"] == 1
    assert summary["books"]["read"]["pages"] == len(expected) + 2
    assert any(r["source"].endswith("caf\\xe9.txt")
               for r in read_records(output, "articles") + read_records(output, "copies"))
    everything = json.dumps([read_records(output, k) for k in ("articles", "copies",
                                                                "dead_letters")], default=str)
    assert "SECRET-7f3a" not in everything
