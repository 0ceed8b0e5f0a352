"""The run's output folder on a filesystem other than the local disk (gs://, s3://, ...).

``FakeRemote`` is a Beam filesystem with its own scheme, stored in a temporary folder:
what newsbeam does to an output folder goes through Beam's FileSystems, so it works
on gs:// as it does here, and nothing lands on the local disk under a name like "gs:"."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

from pipeline.cli import clear_previous_output, remove_beam_temporaries, write_summary
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
