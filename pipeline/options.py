"""newsbeam's pipeline options: one PipelineOptions subclass, every flag typed, defaulted and explained."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.decode import DEFAULT_MAX_PAGE_BYTES

DEFAULT_INPUT = "seeds/*"
DEFAULT_OUTPUT = "out"


class NewsbeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input",
            action="append",
            default=None,
            help="Glob of page files (HTML, .htm, .txt captures, optionally .gz, or .jsonl "
            f"lines); repeat for several. Default: {DEFAULT_INPUT!r}.",
        )
        parser.add_argument(
            "--output",
            default=DEFAULT_OUTPUT,
            help="Output folder (articles/, copies/, dead_letters/).",
        )
        parser.add_argument(
            "--topics",
            default=None,
            help="Taxonomy TOML file (topics, terms, exclusions, threshold). Default: the packaged one.",
        )
        parser.add_argument(
            "--publishers",
            default=None,
            help="Publisher defaults TOML (time zone, date order per publisher). Default: packaged.",
        )
        parser.add_argument(
            "--max_page_bytes",
            type=int,
            default=DEFAULT_MAX_PAGE_BYTES,
            help="Pages larger than this (after gunzip) become dead letters with reason too_large.",
        )
        parser.add_argument(
            "--extract_time_limit",
            type=float,
            default=5.0,
            help="CPU seconds extraction may spend on one page before it is dead-lettered "
            "(timeout); ten times that in wall time stops it too.",
        )
        parser.add_argument(
            "--reference_time",
            default=None,
            help="ISO 8601 instant used as 'now' for pages without a fetch time (no date after "
            "it is accepted) and as ingested_at. Default: when the run starts.",
        )
        parser.add_argument(
            "--dedup_ttl_days",
            type=float,
            default=7.0,
            help="Streaming: how long (event time) a story is remembered for matching copies.",
        )
        parser.add_argument(
            "--num_shards",
            type=int,
            default=0,
            help="Avro files per output folder in batch (0: let the runner decide).",
        )
        parser.add_argument(
            "--run_attempts",
            type=int,
            default=2,
            help="Batch: run the whole pipeline again when a run fails (e.g. a worker process "
            "died); output is only published when a run succeeds, so a retry adds no duplicates.",
        )
        parser.add_argument(
            "--watch",
            default=None,
            help="Streaming: glob of a folder to watch; each new page file is processed once.",
        )
        parser.add_argument(
            "--poll_interval",
            type=float,
            default=1.0,
            help="Streaming: seconds between looks at the watched folder.",
        )
        parser.add_argument(
            "--stable_seconds",
            type=float,
            default=1.0,
            help="Streaming: a file is read once its size has not changed for this long "
            "(files named *.part are never read: rename when complete).",
        )
        parser.add_argument(
            "--window_seconds",
            type=int,
            default=60,
            help="Streaming on runners with full semantics: output window length.",
        )
        parser.add_argument(
            "--pubsub_subscription",
            default=None,
            help="Streaming on Dataflow: Pub/Sub subscription of page messages "
            "(each message one JSON line of the batch input format).",
        )


class DaskAddressOptions(PipelineOptions):
    # Here, not in pipeline/dask_runner.py, so that --help and option checks know it
    # without importing Dask.
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--dask_address",
            default=None,
            help="With --runner=dask: the Dask scheduler, e.g. tcp://10.0.0.5:8786 (the same "
            "as Beam's --dask_client_address; without either, a local cluster is started).",
        )
