"""The run's output folder: on other filesystems (gs://, ...), complete or absent, one run at a time.

``FakeRemote`` is a Beam filesystem with its own scheme, stored in a temporary folder:
what newsbeam does to an output folder goes through Beam's FileSystems, so it works
on gs:// as it does here, and nothing lands on the local disk under a name like "gs:"."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

import pipeline.build as build_module
from pipeline.cli import clear_previous_output, remove_beam_temporaries, run, write_summary
from pipeline.publish import LOCK_FILE, STAGING_PREFIX
from pipeline.sinks import WriteAvroFolder
from tests.support import REFERENCE_TIME, copy_seeds, read_records
from transforms.dates import load_publishers
from transforms.topics import load_taxonomy

SCHEME = "fakeremote"
PREFIX = f"{SCHEME}://"


class FakeRemote(LocalFileSystem):
    """``fakeremote://a/b`` is ``<root>/a/b``; listings give paths back in that form."""

    root = ""

    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def _local(self, path: str) -> str:
        return os.path.join(self.root, path[len(PREFIX):]) if path.startswith(PREFIX) else path

    def _remote(self, path: str) -> str:
        return PREFIX + os.path.relpath(path, self.root)

    def _list(self, dir_or_prefix):
        for meta in super()._list(self._local(dir_or_prefix)):
            yield FileMetadata(self._remote(meta.path), meta.size_in_bytes,
                               meta.last_updated_in_seconds)

    def exists(self, path):
        return super().exists(self._local(path))

    def create(self, path, *args, **kwargs):
        return super().create(self._local(path), *args, **kwargs)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def delete(self, paths):
        return super().delete([self._local(p) for p in paths])


@pytest.fixture
def remote(tmp_path, monkeypatch):
    monkeypatch.setattr(FakeRemote, "root", str(tmp_path / "bucket"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "bucket"


def put(root: Path, relative: str, data: bytes = b"x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_the_summary_is_written_to_the_remote_folder(remote, tmp_path):
    write_summary(f"{PREFIX}out", {"pages_read": 3})
    assert json.loads((remote / "out" / "summary.json").read_text()) == {"pages_read": 3}
    assert not any(p.name.startswith(SCHEME) for p in tmp_path.iterdir())  # nothing local


def test_an_earlier_run_is_cleared_from_the_remote_folder(remote):
    put(remote, "out/articles/part-00000-of-00001.avro")
    put(remote, "out/dead_letters/part-00000-of-00001.avro")
    put(remote, "out/summary.json")
    put(remote, "out/copies/beam-temp-part-123/0f3a")
    put(remote, "out/copies/beam-temp-part-123/77b2")
    kept = put(remote, "out/articles/notes.txt")
    assert clear_previous_output(f"{PREFIX}out") == 4
    left = sorted(str(p.relative_to(remote)) for p in remote.rglob("*") if p.is_file())
    assert left == [str(kept.relative_to(remote))]


def test_beam_temporaries_alone_are_removed_after_a_failed_attempt(remote):
    put(remote, "out/articles/beam-temp-part-9/a")
    kept = put(remote, "out/articles/part-00000-of-00001.avro")
    assert remove_beam_temporaries(f"{PREFIX}out") == 1
    assert [p for p in remote.rglob("*") if p.is_file()] == [kept]


def test_taxonomy_and_publisher_tables_can_be_remote(remote):
    root = Path(__file__).resolve().parent.parent / "transforms" / "data"
    put(remote, "conf/topics.toml", (root / "topics.toml").read_bytes())
    put(remote, "conf/publishers.toml", (root / "publishers.toml").read_bytes())
    remote_taxonomy = load_taxonomy(f"{PREFIX}conf/topics.toml")
    assert remote_taxonomy.source == f"{PREFIX}conf/topics.toml"
    assert replace(remote_taxonomy, source="") == replace(load_taxonomy(), source="")
    assert load_publishers(f"{PREFIX}conf/publishers.toml") == load_publishers()


# ---------------------------------------------------------------- complete or absent, one run at a time



def _argv(folder: Path, output: Path, *extra: str) -> list[str]:
    return [f"--input={folder}/*", f"--output={output}", f"--reference_time={REFERENCE_TIME}",
            *extra]


def _final_files(output: Path) -> list[Path]:
    """What a consumer sees: files outside the staging folder and the lock."""
    return [p for p in output.rglob("*") if p.is_file()
            and not any(part.startswith(STAGING_PREFIX) for part in p.parts)
            and p.name != LOCK_FILE]


def _lock(output: Path, pid: int) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    path = output / LOCK_FILE
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                "started": "2026-11-23T11:00:00+00:00", "token": "other"}))
    return path


def test_a_second_run_into_an_output_in_use_is_refused(tmp_path, capsys):
    folder = copy_seeds(tmp_path / "in")
    lock = _lock(tmp_path / "out", os.getpid())  # a live process holds it
    assert run(_argv(folder, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "in use by another newsbeam run" in err and f"pid {os.getpid()}" in err
    assert lock.exists() and not _final_files(tmp_path / "out")


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    folder = copy_seeds(tmp_path / "in")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    _lock(tmp_path / "out", int(gone.stdout))  # its process has ended
    assert run(_argv(folder, tmp_path / "out")) == 0
    assert not (tmp_path / "out" / LOCK_FILE).exists()
    assert len(read_records(tmp_path / "out", "articles")) == 4


class _DiskFullForArticles(WriteAvroFolder):
    """Writing articles fails as on a full disk; the other kinds are written."""

    def __init__(self, output_dir, kind, num_shards=0):
        super().__init__(output_dir, kind, num_shards)
        self._kind = kind

    def expand(self, records):
        if self._kind == "articles":
            def full(record):
                raise OSError(errno.ENOSPC, "No space left on device")
            records = records | "DiskFull" >> beam.Map(full)
        return super().expand(records)


class _DroppingSink(WriteAvroFolder):
    """A sink that loses one record (seed 001's) without a word."""

    def expand(self, records):
        kept = records | "Lose" >> beam.Filter(lambda r: "/001_" not in r["source"])
        return super().expand(kept)


def test_a_failed_run_leaves_no_final_named_file(tmp_path, monkeypatch):
    folder = copy_seeds(tmp_path / "in")
    monkeypatch.setattr(build_module, "WriteAvroFolder", _DiskFullForArticles)
    assert run(_argv(folder, tmp_path / "out", "--run_attempts=1")) == 1
    assert _final_files(tmp_path / "out") == []  # dead letters and copies were not published
    assert not list((tmp_path / "out").glob(f"{STAGING_PREFIX}*"))
    assert not (tmp_path / "out" / LOCK_FILE).exists()


def test_the_books_catch_a_sink_that_drops_records(tmp_path, monkeypatch, capsys):
    folder = copy_seeds(tmp_path / "in")
    monkeypatch.setattr(build_module, "WriteAvroFolder", _DroppingSink)
    assert run(_argv(folder, tmp_path / "out")) != 0
    captured = capsys.readouterr()
    assert "books do not balance" in captured.err and "NOT published" in captured.err
    assert "articles handed to the sink = articles in the files: expected 4, got 3" in captured.err
    assert _final_files(tmp_path / "out") == []
    (staged,) = (tmp_path / "out").glob(f"{STAGING_PREFIX}*")
    summary = json.loads((staged / "summary.json").read_text())
    assert summary["accounted"] is False and summary["books"]["written"]["articles"] == 3


def test_a_killed_run_leaves_no_final_named_file_and_the_next_run_cleans_up(tmp_path):
    folder = copy_seeds(tmp_path / "in")
    output = tmp_path / "out"
    command = [sys.executable, "-m", "pipeline.cli", "run", *_argv(folder, output)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if list(output.glob(f"{STAGING_PREFIX}*")):
            break
        time.sleep(0.02)  # polling interval of the check
    process.kill()
    process.wait()
    if process.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    assert _final_files(output) == []
    assert run(_argv(folder, output)) == 0  # stale lock and staging folder are cleared
    assert not list(output.glob(f"{STAGING_PREFIX}*")) and not (output / LOCK_FILE).exists()
    assert len(read_records(output, "articles")) == 4
