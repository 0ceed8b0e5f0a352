"""``newsbeam run --streaming --watch``: pages dropped into a folder come out as Avro while it runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
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


def test_watch_a_folder_and_stop_cleanly(tmp_path):
    inbox, output = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "late.txt.part").write_text("still being written")  # never read
    command = [
        sys.executable, "-m", "pipeline.cli", "run", "--streaming", f"--watch={inbox}/*",
        f"--output={output}", "--poll_interval=0.2", "--stable_seconds=0",
        f"--reference_time={REFERENCE_TIME}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tmp_path)
    try:
        seeds = sorted(SEEDS.glob("*.txt"))
        drop(seeds[0], inbox)  # the complete Reuters story first: it becomes the canonical
        wait_for(lambda: len(read_records(output, "articles")) == 1, process, "the first article")
        for page in seeds[1:]:
            drop(page, inbox)
        wait_for(lambda: len(read_records(output, "articles")) == 4
                 and len(read_records(output, "copies")) == 1, process, "all seeds")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert "5 pages read -> 4 articles, 1 syndicated copies, 0 dead letters" in stdout
    assert (output / "summary.json").exists()
    leftovers = [p for p in output.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert not leftovers
    copies = read_records(output, "copies")
    assert os.path.basename(copies[0]["source"]).startswith("002")
