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
from apache_beam.runners.runner import PipelineRunner

from pipeline.options import NewsbeamOptions
from pipeline.sources import is_local

DASK_RUNNER = "pipeline.dask_runner.DaskRunner"
LOCAL_RUNNER = "pipeline.runners.LocalBatchRunner"
# What the local batch runner stands for: Beam's DirectRunner, named or by default.
DIRECT_NAMES = {None, "", "direct", "directrunner", "switchingdirectrunner"}
SHORT_NAMES = {"dask": DASK_RUNNER, "daskrunner": DASK_RUNNER}
# Runners that execute in this process (or in subprocesses sharing its working directory).
IN_PROCESS = {None, "", "directrunner", "bundlebaseddirectrunner", "switchingdirectrunner",
              "fnapirunner", "prismrunner", "localbatchrunner"}


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


def local_batch_runner(runner: str | None) -> str | None:
    """The runner a batch run uses: the DirectRunner (named or by default) is the FnApiRunner
    it falls back to here (``LocalBatchRunner``); any other name is kept."""
    return LOCAL_RUNNER if (runner or "").rsplit(".", 1)[-1].lower() in DIRECT_NAMES else runner


class LocalBatchRunner(PipelineRunner):
    """Beam's DirectRunner for a batch pipeline without its attempt at the Prism runner.

    The DirectRunner first tries Prism, whose binary it downloads from GitHub: offline that
    fails (a fraction of a second, a worker pool started for nothing) and it falls back to
    the FnApiRunner; online it would run the pipeline on another runner than the tested one.
    This runs the FnApiRunner at once, given the pipeline options as the DirectRunner gives
    them (its workers read them). With multi-processing workers, each worker is forked from
    newsbeam's warm worker server when one was started (``pipeline/worker_fork.py``).
    """

    def run_pipeline(self, pipeline, options):
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle

        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
        provision = fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
        return _ForkedWorkersFnApiRunner(provision_info=provision).run_pipeline(pipeline, options)


def _forked_workers_runner_class():
    from apache_beam.portability import python_urns
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    from pipeline import worker_fork

    class ForkedWorkersFnApiRunner(fn_runner.FnApiRunner):
        """The FnApiRunner, its stock multi-processing worker command replaced by the
        forking one when newsbeam's worker server runs."""

        def run_via_runner_api(self, pipeline_proto, options):
            command = worker_fork.worker_command()
            stock = worker_fork.STOCK_COMMAND.encode()
            for env in pipeline_proto.components.environments.values():
                if command and env.urn == python_urns.SUBPROCESS_SDK and env.payload == stock:
                    env.payload = command.encode()
            return super().run_via_runner_api(pipeline_proto, options)

    return ForkedWorkersFnApiRunner


def _ForkedWorkersFnApiRunner(**kwargs):  # noqa: N802 - builds the class on first use
    return _forked_workers_runner_class()(**kwargs)
