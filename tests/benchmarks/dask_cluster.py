"""newsbeam on two Dask workers against the DirectRunner with two workers, on the same pages.

    .venv/bin/python -m tests.benchmarks.dask_cluster [--pages 2000] [--source DIR]

Pages: the HTML pages of ``--source`` (default ``../shared/dev/extraction``, else synthetic
stories from tests/corpus.py), made unique and repeated to ``--pages`` files exactly as the
throughput benchmark does. One run of each, in this order:
  (d) ``newsbeam run --direct_num_workers=2 --direct_running_mode=multi_processing``;
  (k) ``newsbeam run --runner=dask`` against a local cluster of a scheduler and two
      one-thread workers, each its own process (started before timing: a cluster is
      long-lived), 127.0.0.1 only.
Wall time includes each command's start-up; CPU time is the command's own plus, for (k),
what the scheduler and worker processes used during the run. Both outputs are compared
record by record (minus source paths and times). Prints one JSON object; ``ratio`` is
(k) wall / (d) wall, ``cpu_ratio`` the same for CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import psutil

from tests.benchmarks.throughput import (
    DEFAULT_SOURCE,
    MULTI,
    make_corpus,
    newsbeam_command,
    run_newsbeam,
    source_pages,
)
from tests.corpus import write_corpus
from tests.test_dask_runner import local_cluster
from tests.test_portable_runner import comparable


def cluster_cpu(pids: tuple[int, ...]) -> float:
    """CPU seconds used so far by the cluster's processes and their children (the workers)."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for each in [process, *process.children(recursive=True)]:
                times = each.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsbeam-dask-bench-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "pages"
        corpus.mkdir()
        if args.source.is_dir():
            make_corpus(source_pages(args.source), args.pages, corpus)
            origin = str(args.source)
        else:
            write_corpus(corpus, args.pages, seed=2000)
            origin = "tests/corpus.py (synthetic)"
        inputs = str(corpus / "*")
        direct = run_newsbeam(inputs, tmp / "out-direct", MULTI)
        (tmp / "cluster").mkdir()
        with local_cluster(tmp / "cluster", workers=2) as cluster:
            before = cluster_cpu(cluster.pids)
            dask = run_newsbeam(inputs, tmp / "out-dask",
                                ["--runner=dask", f"--dask_address={cluster.address}"])
            dask["cluster_cpu"] = cluster_cpu(cluster.pids) - before
        same = comparable(tmp / "out-direct") == comparable(tmp / "out-dask")
        report = {
            "pages": args.pages,
            "source": origin,
            "direct_2_workers": {"seconds": direct["seconds"], "cpu": direct["cpu"],
                                 "summary": direct["summary"]},
            "dask_2_workers": {"seconds": dask["seconds"],
                               "cpu": round(dask["cpu"] + dask["cluster_cpu"], 2),
                               "summary": dask["summary"]},
            "ratio": round(dask["seconds"] / direct["seconds"], 2),
            "cpu_ratio": round((dask["cpu"] + dask["cluster_cpu"]) / direct["cpu"], 2),
            "same_records": same,
            "commands": {
                "direct": " ".join(newsbeam_command(inputs, tmp / "out-direct", MULTI)),
                "dask": "newsbeam run --runner=dask --dask_address=tcp://127.0.0.1:PORT",
            },
        }
    print(json.dumps(report, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
