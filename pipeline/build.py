"""Wire the stages together: pages in, articles, copies and dead letters out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.options import NewsbeamOptions
from pipeline.progress import DONE, READ, CountProgress
from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS, WriteAvroFolder
from pipeline.sources import ReadPages
from transforms.datelines import FindDatelines
from transforms.dates import NormalizeDates
from transforms.decode import DecodePages
from transforms.dedup import DetectSyndication
from transforms.extract import ExtractArticles
from transforms.failures import DEAD_LETTERS as DEAD
from transforms.failures import MAIN
from transforms.output import ToRecords, pipeline_version
from transforms.topics import TagTopics

# Under the run's staging folder, beside the kinds' folders: accounting, the summary and
# publishing read only ``<kind>/*.avro``, and the folder goes with the staging folder.
CLAIMS = ".claims"


def claims_folder(output: str) -> str:
    """Where a batch run writing under ``output`` parks articles during syndication."""
    return FileSystems.join(output, CLAIMS)


@dataclass(frozen=True)
class Outputs:
    """The three record streams of a run, before they are written."""

    articles: beam.PCollection
    copies: beam.PCollection
    dead_letters: beam.PCollection
    # Each stage's dead letters before the Flatten (the local live runner runs a Flatten
    # of several inputs only once its source ends, which in streaming is never).
    dead_letter_parts: tuple[tuple[str, beam.PCollection], ...] = ()


def process(
    pages: beam.PCollection,
    opts: NewsbeamOptions,
    reference_time: datetime,
    streaming: bool = False,
    claims: str | None = None,
) -> Outputs:
    """Every stage from raw pages to articles, syndicated copies and dead letters.

    ``claims``: the folder where batch syndication parks articles (see DetectSyndication)."""
    decoded = pages | "Decode" >> DecodePages(opts.max_page_bytes)
    extracted = decoded[MAIN] | "Extract" >> ExtractArticles(opts.extract_time_limit)
    datelined = extracted[MAIN] | "Datelines" >> FindDatelines()
    dated = datelined[MAIN] | "Dates" >> NormalizeDates(reference_time, opts.publishers)
    tagged = dated[MAIN] | "Topics" >> TagTopics(opts.topics)
    # A page is done with its own stages once tagged or dead-lettered (the progress line).
    done = tagged[MAIN] | "Progress/done" >> CountProgress(DONE)
    stories = done | "Syndication" >> DetectSyndication(
        streaming=streaming, ttl_days=opts.dedup_ttl_days, claims=claims
    )
    parts = (
        ("decode", decoded[DEAD]),
        ("extract", extracted[DEAD]),
        ("datelines", datelined[DEAD]),
        ("dates", dated[DEAD]),
        ("topics", tagged[DEAD]),
    )
    dead = tuple(pcoll for _, pcoll in parts) | "AllDeadLetters" >> beam.Flatten()
    return Outputs(stories[ARTICLES], stories[COPIES], dead, parts)


def avro_records(
    outputs: Outputs, reference_time: datetime, split_dead_letters: bool = False
) -> dict[str, beam.PCollection]:
    """Each output as Avro dicts, stamped with the run's time and the producing versions.

    ``split_dead_letters``: each stage's dead letters apart (``dead_letters/<stage>``).
    """
    ingested_ms = int(reference_time.timestamp() * 1000)
    version = pipeline_version()
    streams = {ARTICLES: outputs.articles, COPIES: outputs.copies}
    if split_dead_letters:
        streams.update({f"{DEAD_LETTERS}/{stage}": p for stage, p in outputs.dead_letter_parts})
    else:
        streams[DEAD_LETTERS] = outputs.dead_letters
    return {
        name: pcoll
        | f"Records/{name}" >> ToRecords(name.split("/")[0], ingested_ms, version)
        for name, pcoll in streams.items()
    }


def build(
    pipeline: beam.Pipeline,
    opts: NewsbeamOptions,
    reference_time: datetime,
    inputs: list[str],
    output: str | None = None,
) -> beam.Pipeline:
    """The batch pipeline: read ``inputs`` globs, process, write Avro under ``output``
    (the run's staging folder; ``opts.output`` when not given). Syndication parks articles
    in ``claims_folder(output)``, which the caller removes (with the staging folder)."""
    output = output or opts.output
    pages = pipeline | "Read" >> ReadPages(inputs, opts.max_page_bytes)
    pages = pages | "Progress/read" >> CountProgress(READ)
    outputs = process(pages, opts, reference_time, claims=claims_folder(output))
    # Counted here, in batch: streaming on the local runner never runs this Flatten.
    outputs.dead_letters | "Progress/dead" >> CountProgress(DONE)
    for kind, records in avro_records(outputs, reference_time).items():
        records | f"Write/{kind}" >> WriteAvroFolder(output, kind, opts.num_shards)
    return pipeline
