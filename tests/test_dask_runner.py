"""newsbeam on a real Dask cluster: a scheduler and two workers, each its own process.

The cluster binds 127.0.0.1 on free ports and runs from its own working directory, so the
workers can only find what newsbeam ships as package data, and a relative path that reached
them would point elsewhere. ``newsbeam run --runner=dask`` must write exactly what the
DirectRunner writes, on the seeds plus about 200 pages made here (syndicated copies and
hostile pages among them), with the extraction shared by both workers and run once per page.
The evidence for that comes from the workers themselves (a Dask worker plugin that records
what each worker's extraction tasks produced), not from Beam's metrics.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.corpus import html_page, story, write_corpus
from tests.hostile_pages import hostile_pages
from tests.support import REFERENCE_TIME, SEEDS
from tests.test_portable_runner import comparable, free_port, service_env, start, stop, tail

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

START_SECONDS = 60.0
RUN_SECONDS = 180.0
SYNTHETIC_PAGES = 160
COPIES = 12
MAX_PAGE_BYTES = 1_000_000
EXTRACT_STEP = "beam:Extract/"
PLUGIN = "newsbeam-extraction-record"
SUMMARY_KEYS = ("pages_read", "articles_written", "syndicated_copies", "dead_letters",
                "dead_letters_by_reason", "articles_per_topic", "accounted")


@dataclass(frozen=True)
class Cluster:
    address: str
    workdir: Path
    pids: tuple[int, ...]  # scheduler first; each a process group (nanny and its worker)


class ClusterDidNotStart(RuntimeError):
    pass


def _wait_ready(address: str, workers: int, processes: list, workdir: Path) -> None:
    """Block until the scheduler answers and ``workers`` workers have joined it."""
    try:
        with distributed.Client(address, timeout=START_SECONDS) as client:
            client.wait_for_workers(workers, timeout=START_SECONDS)
    except (OSError, TimeoutError) as exc:
        logs = "\n".join(f"{p.name}:\n{tail(p)}" for p in sorted(workdir.glob("*.log")))
        states = [process.poll() for process in processes]
        raise ClusterDidNotStart(f"{exc}; exit codes {states}:\n{logs}") from exc


@contextlib.contextmanager
def local_cluster(workdir: Path, workers: int = 2) -> Iterator[Cluster]:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread each), all on
    127.0.0.1 on a free port, run from ``workdir``; stopped on exit."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # --no-dashboard alone still opens an HTTP port on 0.0.0.0: pin it to loopback too.
    quiet = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    commands = [("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), *quiet])]
    for n in range(1, workers + 1):
        commands.append((f"worker{n}", ["distributed.cli.dask_worker", address, "--nworkers",
                                        "1", "--nthreads", "1", "--host", "127.0.0.1", *quiet]))
    processes = []
    try:
        for name, args in commands:
            processes.append(start(name, args, workdir))
        _wait_ready(address, workers, processes, workdir)
        yield Cluster(address, workdir, tuple(p.pid for p in processes))
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    try:
        with local_cluster(tmp_path_factory.mktemp("dask-cwd")) as running:
            yield running
    except ClusterDidNotStart as exc:
        pytest.fail(f"Dask cluster did not start: {exc}")


def _extraction_recorder():
    """A worker plugin recording the sources each worker's extraction bundles produced.

    Made inside a function so that it is pickled by value: the workers cannot import tests/.
    """
    import re

    from distributed import WorkerPlugin

    extract_bundle = re.compile(re.escape(EXTRACT_STEP) + r".*\(_Guarded\)-[0-9a-f]+$")

    class ExtractionRecord(WorkerPlugin):
        name = PLUGIN

        def setup(self, worker) -> None:
            self.worker = worker
            self.bundles: list[list[str]] = []

        def transition(self, key, start, finish, **kwargs) -> None:
            name = key[0] if isinstance(key, tuple) else key
            # executing -> memory: computed here ("flight" -> "memory" is a copy fetched
            # from the worker that computed it, and does not count).
            if (start, finish) != ("executing", "memory") or not extract_bundle.match(str(name)):
                return
            pairs = self.worker.data.get(key) if key in self.worker.data else None
            sources = []
            for _, value in pairs or []:
                element = getattr(value, "value", None)  # a WindowedValue, else metrics
                if hasattr(element, "source"):
                    sources.append(element.source)
            self.bundles.append(sources)

        def take(self) -> list[list[str]]:
            bundles, self.bundles = self.bundles, []
            return bundles

    return ExtractionRecord()


def _extracted_by_worker(client) -> dict[str, list[str]]:
    taken = client.run(lambda dask_worker: dask_worker.plugins[PLUGIN].take())
    return {worker: [s for bundle in bundles for s in bundle] for worker, bundles in taken.items()}


def newsbeam(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.cli", "run", f"--reference_time={REFERENCE_TIME}",
               *args]
    try:
        return subprocess.run(command, cwd=workdir, env=service_env(), capture_output=True,
                              text=True, timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"newsbeam run {' '.join(args)} did not finish in {RUN_SECONDS} s:\n"
                    f"{exc.stderr or ''}")


def newsbeam_ok(workdir: Path, output: str, *args: str) -> dict:
    done = newsbeam(workdir, f"--output={output}", *args)
    assert done.returncode == 0, f"newsbeam run {' '.join(args)} failed:\n{done.stderr[-4000:]}"
    return json.loads((workdir / output / "summary.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    """The seeds, synthetic stories, cut-down copies of some of them, and hostile pages."""
    folder = tmp_path_factory.mktemp("dask-pages")
    for path in SEEDS.iterdir():
        if path.is_file() and not path.name.endswith(".md"):
            shutil.copy(path, folder / path.name)
    write_corpus(folder, SYNTHETIC_PAGES, seed=18)
    import random

    rng = random.Random(18)
    for n in range(COPIES):
        title, paragraphs = story(rng, paragraphs=8)
        (folder / f"story{n:03d}.html").write_text(html_page(title, paragraphs, day=3))
        # A republished copy: the same story cut by two paragraphs, another day and site.
        (folder / f"story{n:03d}-copy.html").write_text(html_page(title, paragraphs[:6], day=4))
    for name, (data, _) in hostile_pages(huge_bytes=MAX_PAGE_BYTES + 1000).items():
        (folder / f"hostile-{name}").write_bytes(data)
    return folder


@pytest.mark.slow
def test_dask_cluster_writes_what_the_direct_runner_writes(cluster, pages, tmp_path):
    workdir = tmp_path
    common = [f"--input={pages / '*'}", f"--max_page_bytes={MAX_PAGE_BYTES}"]
    started = time.monotonic()
    direct = newsbeam_ok(workdir, "out-direct", "--runner=DirectRunner", *common)
    direct_seconds = time.monotonic() - started

    with distributed.Client(cluster.address, timeout=START_SECONDS) as client:
        client.register_plugin(_extraction_recorder())
        started = time.monotonic()
        # A relative --output: the client makes it absolute, the workers run elsewhere.
        on_dask = newsbeam_ok(workdir, "out-dask", "--runner=dask",
                              f"--dask_address={cluster.address}", *common)
        dask_seconds = time.monotonic() - started
        extracted = _extracted_by_worker(client)
    print(f"DirectRunner {direct_seconds:.1f} s, Dask (2 workers) {dask_seconds:.1f} s")

    expected = comparable(workdir / "out-direct")
    assert expected["articles"] and expected["copies"] and expected["dead_letters"]
    assert comparable(workdir / "out-dask") == expected
    for key in SUMMARY_KEYS:
        assert on_dask[key] == direct[key], key
    assert not list(cluster.workdir.glob("out-dask*")), "a relative path reached the workers"

    # Each page that reached extraction was extracted exactly once, and both workers did some.
    decode_dead = sum(1 for r in _dead_letters(workdir / "out-direct") if r["stage"] == "decode")
    sources = Counter(s for worker_sources in extracted.values() for s in worker_sources)
    assert len(extracted) == 2
    assert all(extracted.values()), {w: len(s) for w, s in extracted.items()}
    assert max(sources.values()) == 1, [s for s, n in sources.items() if n > 1][:5]
    assert sum(sources.values()) == direct["pages_read"] - decode_dead


def _dead_letters(output: Path) -> list[dict]:
    from tests.support import read_records

    return read_records(output, "dead_letters")


@pytest.mark.slow
def test_beams_own_dask_runner_is_refused_not_reported_as_success(cluster, tmp_path):
    """Beam's DaskRunner has no metrics and computes one leaf: the run must not exit 0."""
    done = newsbeam(tmp_path, f"--input={SEEDS / '*'}", f"--output={tmp_path / 'out'}",
                    "--runner=apache_beam.runners.dask.dask_runner.DaskRunner",
                    f"--dask_client_address={cluster.address}", "--run_attempts=1")
    assert done.returncode != 0
    assert "newsbeam:" in done.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.slow
def test_runner_semantics_on_the_cluster(cluster, tmp_path):
    """What the adapter fixes, each on a small pipeline: tagged outputs, every sink computed,
    finish_bundle output kept, a side input's upstream run once, keys grouped across workers
    (whose string hashes differ), windows kept by GroupByKey, and counters reported."""
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms.window import FixedWindows, TimestampedValue

    from pipeline.dask_runner import DaskRunner

    side_effects = tmp_path / "side-effects"
    side_effects.mkdir()

    class Split(beam.DoFn):
        def process(self, x):
            Metrics.counter("test", "split").inc()
            yield x if x % 2 == 0 else beam.pvalue.TaggedOutput("odd", x)

    class SumInFinishBundle(beam.DoFn):
        def start_bundle(self):
            self.total = 0

        def process(self, x):
            self.total += x

        def finish_bundle(self):
            from apache_beam.transforms.window import GlobalWindow
            from apache_beam.utils.windowed_value import WindowedValue

            yield WindowedValue(self.total, 0, [GlobalWindow()])

    def noted(x):
        import os
        import uuid

        (side_effects / f"{x}-{os.getpid()}-{uuid.uuid4().hex}").touch()
        return x

    def write(pcoll, name):
        return pcoll | f"Write{name}" >> beam.io.WriteToText(str(tmp_path / name))

    options = PipelineOptions([f"--dask_address={cluster.address}", "--dask_npartitions=6"])
    pipeline = beam.Pipeline(runner=DaskRunner(), options=options)
    numbers = pipeline | beam.Create(list(range(40)))
    parts = numbers | beam.ParDo(Split()).with_outputs("odd", main="even")
    total = numbers | "Noted" >> beam.Map(noted) | beam.CombineGlobally(sum)
    write(parts.odd, "odd")
    write(parts.even | beam.Map(lambda x, t: f"{x}/{t}", beam.pvalue.AsSingleton(total)), "even")
    write(numbers | beam.ParDo(SumInFinishBundle()) | "Sum" >> beam.CombineGlobally(sum), "sum")
    keyed = numbers | beam.Map(lambda x: (f"key-{x % 7}", x)) | "ByKey" >> beam.GroupByKey()
    write(keyed | beam.MapTuple(lambda k, vs: f"{k}:{sorted(vs)}"), "keys")
    windowed = (
        numbers
        | beam.Map(lambda x: TimestampedValue(("w", x), x))
        | beam.WindowInto(FixedWindows(10))
        | "ByWindow" >> beam.GroupByKey()
    )
    write(windowed | beam.MapTuple(lambda k, vs: str(sorted(vs))), "windows")
    result = pipeline.run()
    result.wait_until_finish()

    def lines(name: str) -> list[str]:
        return sorted(
            line for path in tmp_path.glob(f"{name}-*") for line in path.read_text().splitlines()
        )

    assert lines("odd") == sorted(str(x) for x in range(1, 40, 2))
    assert lines("even") == sorted(f"{x}/780" for x in range(0, 40, 2))
    assert lines("sum") == ["780"]
    assert lines("keys") == sorted(f"key-{k}:{list(range(k, 40, 7))}" for k in range(7))
    assert lines("windows") == sorted(str(list(range(s, s + 10))) for s in range(0, 40, 10))
    assert len(list(side_effects.iterdir())) == 40  # the side input's upstream ran once
    counters = result.metrics().query(MetricsFilter().with_name("split"))["counters"]
    assert sum(c.committed for c in counters) == 40


# ---------------------------------------------------------------------------
# Without a cluster
# ---------------------------------------------------------------------------
def _translate(build) -> None:
    import apache_beam as beam
    from apache_beam.runners.dask.overrides import dask_overrides

    from pipeline.dask_runner import _Translator

    pipeline = beam.Pipeline()
    build(pipeline)
    pipeline.replace_all(dask_overrides())
    pipeline.visit(_Translator("run", 2, 2))


def test_what_the_adapter_cannot_run_is_refused_at_submission():
    import apache_beam as beam
    from apache_beam.coders import VarIntCoder
    from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

    class Stateful(beam.DoFn):
        SEEN = ReadModifyWriteStateSpec("seen", VarIntCoder())

        def process(self, element, seen=beam.DoFn.StateParam(SEEN)):
            yield element

    def stateful(p):
        return (p | beam.Create([("a", 1)]).with_output_types(tuple[str, int])
                | "Remember" >> beam.ParDo(Stateful()))

    with pytest.raises(NotImplementedError, match="Remember: stateful"):
        _translate(stateful)

    def unbounded(p):
        from apache_beam.transforms.periodicsequence import PeriodicImpulse

        return p | PeriodicImpulse(fire_interval=1)

    with pytest.raises(NotImplementedError, match="batch pipelines only|splittable"):
        _translate(unbounded)


def test_short_runner_name_and_absolute_paths_for_remote_workers(monkeypatch, tmp_path):
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from pipeline.options import NewsbeamOptions
    from pipeline.runners import DASK_RUNNER, prepare_runner

    monkeypatch.chdir(tmp_path)
    remote = PipelineOptions(["--runner=dask", "--input=pages/*", "--output=out",
                              "--input=gs://bucket/feed/*"])
    assert prepare_runner(remote) == DASK_RUNNER
    opts = remote.view_as(NewsbeamOptions)
    assert opts.input == [str(tmp_path / "pages/*"), "gs://bucket/feed/*"]
    assert opts.output == str(tmp_path / "out")
    assert remote.view_as(StandardOptions).runner == DASK_RUNNER

    local = PipelineOptions(["--runner=DirectRunner", "--input=pages/*", "--output=out"])
    prepare_runner(local)
    assert local.view_as(NewsbeamOptions).output == "out"  # same process, same directory


def test_a_run_whose_sink_drops_a_record_fails(monkeypatch, tmp_path, capsys):
    """End to end on the DirectRunner: a sink losing the articles makes the run exit 1."""
    import apache_beam as beam

    from pipeline import sinks
    from pipeline.cli import run

    original = sinks.WriteAvroFolder.expand

    def lossy(self, records):
        if "articles" in self._prefix:
            records = records | beam.Filter(lambda record: False)
        return original(self, records)

    monkeypatch.setattr(sinks.WriteAvroFolder, "expand", lossy)
    code = run([f"--input={SEEDS / '*'}", f"--output={tmp_path / 'out'}",
                f"--reference_time={REFERENCE_TIME}"])
    assert code == 1
    assert "books do not balance" in capsys.readouterr().err
