"""Runner choice and the checks a run must pass whatever runs it.

``--runner=dask`` names newsbeam's DaskRunner adapter (``pipeline/dask_runner.py``), with
``--dask_address=tcp://HOST:8786`` (or Beam's ``--dask_client_address``). On a runner whose
workers are other processes or machines, relative paths would be resolved in the workers'
working directories, so local paths are made absolute here, on the client.

The books (``unbalanced``): a run is only reported as a success when what was read balances
with what is on disk. Pages read are counted where they enter the pipeline (the
``pages_read`` counter); what was written is counted from the output files themselves, after
the run, per kind. A runner that drops a sink, or output emitted in ``finish_bundle``, or
computes only one branch of the graph, writes fewer records than it read: the books do not
balance and the run fails. A runner that reports no metrics cannot be accounted for at all,
which is also a failure rather than an exit 0 with zeros in the summary.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import NewsbeamOptions
from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS

DASK_RUNNER = "pipeline.dask_runner.DaskRunner"
SHORT_NAMES = {"dask": DASK_RUNNER, "daskrunner": DASK_RUNNER}
# Runners that execute in this process (or in subprocesses sharing its working directory).
IN_PROCESS = {None, "", "directrunner", "bundlebaseddirectrunner", "switchingdirectrunner",
              "fnapirunner", "prismrunner"}
# Counter of records written per kind, as ToRecords counts them.
WRITTEN_COUNTERS = {
    ARTICLES: "articles_written",
    COPIES: "copies_written",
    DEAD_LETTERS: "dead_letters_written",
}


class RunnerUnavailable(RuntimeError):
    """The chosen runner cannot be used here (a missing extra), with what to install."""


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) is None


def _absolute(path: str | None) -> str | None:
    return os.path.abspath(path) if path and _is_local(path) else path


def prepare_runner(options: PipelineOptions) -> str:
    """Resolve a short runner name and, for a runner outside this process, make local paths
    absolute; returns the runner's name."""
    standard = options.view_as(StandardOptions)
    name = SHORT_NAMES.get((standard.runner or "").lower(), standard.runner)
    standard.runner = name
    if name == DASK_RUNNER and importlib.util.find_spec("distributed") is None:
        raise RunnerUnavailable(
            "--runner=dask needs Dask: pip install 'newsbeam[dask]' (here and on the workers)"
        )
    if (name or "").rsplit(".", 1)[-1].lower() not in IN_PROCESS:
        opts = options.view_as(NewsbeamOptions)
        opts.input = [_absolute(p) for p in opts.input] if opts.input else opts.input
        opts.output = _absolute(opts.output)
        opts.topics = _absolute(opts.topics)
        opts.publishers = _absolute(opts.publishers)
    return name


def count_written(output: str) -> dict[str, int]:
    """Records in ``output/<kind>/*.avro`` per kind, counted from the files' block headers."""
    written = {}
    for kind in WRITTEN_COUNTERS:
        total = 0
        if _is_local(output):
            paths = sorted(glob.glob(os.path.join(output, kind, "*.avro")))
        else:
            pattern = FileSystems.join(output, kind, "*.avro")
            paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        for path in paths:
            with FileSystems.open(path) as handle:
                total += sum(block.num_records for block in fastavro.block_reader(handle))
        written[kind] = total
    return written


def unbalanced(totals: dict[str, int], written: dict[str, int]) -> list[str]:
    """Why the run's books do not balance (empty when they do).

    ``totals`` are the run's counters; ``written`` what ``count_written`` found on disk.
    """
    problems = []
    for kind, counter in WRITTEN_COUNTERS.items():
        if totals.get(counter, 0) != written.get(kind, 0):
            problems.append(
                f"{kind}: {totals.get(counter, 0)} records produced, {written.get(kind, 0)} "
                "in the output files"
            )
    read = totals.get("pages_read", 0)
    if read != sum(written.values()):
        problems.append(
            f"{read} pages read, {sum(written.values())} records written "
            "(articles + copies + dead letters)"
        )
    return problems
