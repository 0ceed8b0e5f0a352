"""Claim checks: values parked in files and read back by reference, on any Beam filesystem,
and the folder removed when the run is done with it (published, failed or not)."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

import pipeline.build as build_module
from pipeline.cli import run
from pipeline.publish import STAGING_PREFIX
from tests.support import copy_seeds
from tests.test_dedup import INQUIRY, ORIGINAL, TRUNCATED
from tests.test_output_folder import PREFIX, _argv, _DiskFullForArticles, remote  # noqa: F401
from transforms import claimcheck
from transforms.dedup import COPIES, DetectSyndication

VALUES = [b"first", b"", bytes(range(256)) * 40, b"last"]


def _park(folder: str, values: list[bytes]) -> list[claimcheck.Ref]:
    writer = claimcheck.Writer(folder)
    refs = [writer.put(value) for value in values]
    writer.close()
    return refs


def test_values_come_back_by_reference_in_any_order(tmp_path):
    refs = _park(str(tmp_path / "claims"), VALUES)
    more = _park(str(tmp_path / "claims"), [b"other file"])
    assert len({ref.name for ref in refs + more}) == 2  # a file per writer
    reader = claimcheck.Reader(str(tmp_path / "claims"), open_files=1)  # each switch reopens
    wanted = [*reversed(refs), *more, refs[0]]
    assert [reader.get(tuple(ref)) for ref in wanted] == [
        *reversed(VALUES), b"other file", VALUES[0]]
    reader.close()


def test_a_cut_file_fails_the_read_instead_of_handing_on_a_cut_value(tmp_path):
    refs = _park(str(tmp_path / "claims"), VALUES)
    with open(tmp_path / "claims" / refs[2].name, "r+b") as handle:
        handle.truncate(refs[2].offset + 10)
    reader = claimcheck.Reader(str(tmp_path / "claims"))
    assert reader.get(refs[1]) == b""
    with pytest.raises(OSError, match="read 10 of 10240 bytes"):
        reader.get(refs[2])
    reader.close()


def test_claims_on_a_remote_filesystem(remote, tmp_path):  # noqa: F811 - the fixture
    folder = f"{PREFIX}out/.claims"
    refs = _park(folder, VALUES)
    assert (remote / "out" / ".claims" / refs[0].name).is_file()
    reader = claimcheck.Reader(folder)
    assert [reader.get(ref) for ref in refs] == VALUES
    reader.close()
    assert claimcheck.remove_folder(folder) == 1
    assert not [p for p in remote.rglob("*") if p.is_file()]
    assert not any(p.name.startswith("fakeremote") for p in tmp_path.iterdir())  # nothing local


def test_removing_the_folder_takes_its_files_and_the_folder(tmp_path):
    folder = tmp_path / "claims"
    _park(str(folder), VALUES)
    _park(str(folder), [b"x"])
    assert claimcheck.remove_folder(str(folder)) == 2
    assert not folder.exists()
    assert claimcheck.remove_folder(str(folder)) == 0  # already gone: nothing to do


def _run_syndication(claims: str | None, temp: str) -> None:
    options = PipelineOptions(temp_location=temp)
    with TestPipeline(options=options) as p:
        out = (p | beam.Create([TRUNCATED, ORIGINAL, INQUIRY], reshuffle=False)
               | DetectSyndication(claims=claims))
        assert_that(out[COPIES] | beam.Map(lambda a: (a.id, a.syndicated_from.canonical_id)),
                    equal_to([(TRUNCATED.id, ORIGINAL.id)]))


def test_a_named_claim_folder_is_left_to_its_owner(tmp_path):
    _run_syndication(str(tmp_path / "mine"), str(tmp_path / "temp"))
    assert list((tmp_path / "mine").glob(f"*{claimcheck.SUFFIX}"))  # the articles were parked
    assert not (tmp_path / "temp").exists()


def test_a_temporary_claim_folder_is_removed_once_read(tmp_path):
    (tmp_path / "temp").mkdir()
    _run_syndication(None, str(tmp_path / "temp"))
    assert list((tmp_path / "temp").iterdir()) == []


@pytest.fixture
def parked(monkeypatch) -> list[str]:
    """The claim files a run writes (the local runner runs DoFns in this process)."""
    paths: list[str] = []
    writer = claimcheck.Writer.__init__

    def recording(self, folder: str) -> None:
        writer(self, folder)
        paths.append(self.path)

    monkeypatch.setattr(claimcheck.Writer, "__init__", recording)
    return paths


def test_a_run_parks_articles_in_its_staging_folder_and_publishes_without_them(tmp_path, parked):
    folder = copy_seeds(tmp_path / "in")
    output = tmp_path / "out"
    assert run(_argv(folder, output)) == 0
    assert parked and all(
        path.startswith(f"{output}/{STAGING_PREFIX}") and f"/{build_module.CLAIMS}/" in path
        for path in parked)
    assert not [p for p in output.rglob("*") if build_module.CLAIMS in p.parts]
    assert not list(output.glob(f"{STAGING_PREFIX}*"))


def test_a_failed_run_removes_its_parked_articles(tmp_path, parked, monkeypatch):
    folder = copy_seeds(tmp_path / "in")
    monkeypatch.setattr(build_module, "WriteAvroFolder", _DiskFullForArticles)
    assert run(_argv(folder, tmp_path / "out", "--run_attempts=1")) == 1
    assert parked  # written before the sink failed
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
