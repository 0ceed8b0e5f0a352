"""Runner choice and the checks a run must pass whatever runs it.

``--runner=dask`` names newsbeam's DaskRunner adapter (``pipeline/dask_runner.py``), with
``--dask_address=tcp://HOST:8786`` (or Beam's ``--dask_client_address``). On a runner whose
workers are other processes or machines, relative paths would be resolved in the workers'
working directories, so local paths are made absolute here, on the client.

Whatever the runner, a run is reported as a success only when its books balance
(``pipeline/accounting.py``: what was read against what is in the output files, counted from
the files): a runner that drops a sink, loses output emitted in ``finish_bundle`` or computes
one branch of the graph only writes fewer records than it read, and the run fails. A runner
that reports no metrics cannot be accounted for at all, which is a failure too (``cli``).
"""

from __future__ import annotations

import importlib.util
import os

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.options import NewsbeamOptions
from pipeline.sources import is_local

DASK_RUNNER = "pipeline.dask_runner.DaskRunner"
SHORT_NAMES = {"dask": DASK_RUNNER, "daskrunner": DASK_RUNNER}
# Runners that execute in this process (or in subprocesses sharing its working directory).
IN_PROCESS = {None, "", "directrunner", "bundlebaseddirectrunner", "switchingdirectrunner",
              "fnapirunner", "prismrunner"}


class RunnerUnavailable(RuntimeError):
    """The chosen runner cannot be used here (a missing extra), with what to install."""


def absolute(path: str | None) -> str | None:
    """A local path made absolute (on the client); other filesystems' paths as they are."""
    return os.path.abspath(path) if path and is_local(path) else path


def runs_in_process(runner: str | None) -> bool:
    """Whether ``runner`` runs in this process (or subprocesses sharing its directory)."""
    return (runner or "").rsplit(".", 1)[-1].lower() in IN_PROCESS


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
    if not runs_in_process(name):
        opts = options.view_as(NewsbeamOptions)
        opts.input = [absolute(p) for p in opts.input] if opts.input else opts.input
        opts.output = absolute(opts.output)
        opts.topics = absolute(opts.topics)
        opts.publishers = absolute(opts.publishers)
    return name
