"""A run's summary: counts from Beam's counters, stage times, and a profile of what was written.

The profile (date range, languages, date certainty, dead letters by stage) is read back from
the written Avro files, so a batch run and a streaming run describe their output the same way.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from pipeline.accounting import avro_files, describe
from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS, OUTPUTS
from pipeline.sources import is_local
from transforms.failures import METRICS_NAMESPACE
from transforms.output import WRITTEN_TOPIC_PREFIX
from transforms.records import (
    STAGE_DATELINES,
    STAGE_DATES,
    STAGE_DECODE,
    STAGE_DEDUP,
    STAGE_EXTRACT,
    STAGE_READ,
    STAGE_TOPICS,
    STAGE_WRITE,
)

LOG = logging.getLogger("newsbeam")
SUMMARY_FILE = "summary.json"
# The pipeline's top-level step labels (pipeline/build.py) and the stage each belongs to.
STEP_STAGES = {
    "Read": STAGE_READ,
    "Decode": STAGE_DECODE,
    "Extract": STAGE_EXTRACT,
    "Datelines": STAGE_DATELINES,
    "Dates": STAGE_DATES,
    "Topics": STAGE_TOPICS,
    "Syndication": STAGE_DEDUP,
    "Records": STAGE_WRITE,
    "Write": STAGE_WRITE,
}
# The per-page stages in order: each passes on what it did not dead-letter.
PAGE_STAGES = (STAGE_DECODE, STAGE_EXTRACT, STAGE_DATELINES, STAGE_DATES, STAGE_TOPICS)
TIME_METRIC = "ptransform_execution_time:total_msecs"


# ---------------------------------------------------------------- from the runner


def counters(result) -> dict[str, int]:
    """newsbeam's counters of a finished run, summed over steps."""
    totals: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    for metric in query["counters"]:
        value = metric.committed if metric.committed is not None else metric.attempted
        totals[metric.key.metric.name] = totals.get(metric.key.metric.name, 0) + int(value or 0)
    return totals


def stage_seconds(result) -> dict[str, float]:
    """Processing seconds per stage, from the runner's execution-time metrics where it has them.

    Beam's local runner samples each step's execution time; Dataflow shows them in its own
    console and does not return them here, so a stage may be missing.
    """
    try:
        query = result.monitoring_metrics().query()
    except (AttributeError, NotImplementedError, RuntimeError):
        return {}
    seconds: dict[str, float] = {}
    for metric in query.get("counters", []):
        if TIME_METRIC not in str(metric.key.metric.name) or not metric.key.step:
            continue
        stage = STEP_STAGES.get(metric.key.step.split("/", 1)[0])
        if stage is None:
            continue
        value = metric.committed if metric.committed is not None else metric.attempted
        seconds[stage] = seconds.get(stage, 0.0) + (value or 0) / 1000
    return {stage: round(s, 2) for stage, s in seconds.items()}


# ---------------------------------------------------------------- from the output


def read_output(output: str, kind: str) -> Iterator[dict]:
    """Every record of one output folder (articles, copies, dead_letters), on any filesystem."""
    for path in avro_files(output, kind):
        with FileSystems.open(path) as handle:
            yield from fastavro.reader(handle)


def profile(output: str) -> dict[str, Any]:
    """What was written: date range, languages and date certainty of the stories (articles and
    copies), and dead letters by stage."""
    days: list[str] = []
    undated = 0
    languages: Counter[str] = Counter()
    certainty: Counter[str] = Counter()
    for kind in (ARTICLES, COPIES):
        for record in read_output(output, kind):
            languages[record.get("language") or "unknown"] += 1
            published = record.get("published")
            if published:
                days.append(published["date"])
                certainty[published["certainty"]] += 1
            else:
                undated += 1
                certainty["UNDATED"] += 1
    by_stage = Counter(record["stage"] for record in read_output(output, DEAD_LETTERS))
    return {
        "published_range": {
            "first": min(days) if days else None,
            "last": max(days) if days else None,
            "undated": undated,
        },
        "languages": _by_count(languages),
        "date_certainty": _by_count(certainty),
        "dead_letters_by_stage": _by_count(by_stage),
    }


def _by_count(counts: Counter[str] | dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def stage_table(
    pages_read: int,
    dead_by_stage: dict[str, int],
    copies: int,
    seconds: dict[str, float],
) -> list[dict[str, Any]]:
    """Per stage: pages in, pages passed on, dead letters, and seconds where the runner said."""
    rows = []
    flowing = pages_read
    for stage in PAGE_STAGES:
        dead = dead_by_stage.get(stage, 0)
        rows.append({"stage": stage, "in": flowing, "out": flowing - dead, "dead_letters": dead,
                     "seconds": seconds.get(stage)})
        flowing -= dead
    rows.append({"stage": STAGE_DEDUP, "in": flowing, "out": flowing - copies,
                 "dead_letters": dead_by_stage.get(STAGE_DEDUP, 0), "copies": copies,
                 "seconds": seconds.get(STAGE_DEDUP)})
    rows.append({"stage": STAGE_WRITE, "in": pages_read, "out": pages_read, "dead_letters": 0,
                 "seconds": seconds.get(STAGE_WRITE)})
    if seconds.get(STAGE_READ) is not None:
        rows.insert(0, {"stage": STAGE_READ, "in": pages_read, "out": pages_read,
                        "dead_letters": 0, "seconds": seconds[STAGE_READ]})
    return rows


# ---------------------------------------------------------------- the summary


def summarize(totals: dict[str, int], seconds: float, inputs: list[str], output: str) -> dict:
    """The run's summary: pages in, records out, dead letters by reason, articles per topic."""
    pages = totals.get("pages_read", 0)
    articles = totals.get("articles_written", 0)
    copies = totals.get("copies_written", 0)
    dead = totals.get("dead_letters_written", 0)
    return {
        "inputs": inputs,
        "output": output,
        "pages_read": pages,
        "articles_written": articles,
        "syndicated_copies": copies,
        "dead_letters": dead,
        "dead_letters_by_reason": dict(
            sorted(
                (name.removeprefix("dropped_"), n)
                for name, n in totals.items()
                if name.startswith("dropped_") and n
            )
        ),
        "articles_per_topic": _by_count(
            {
                name.removeprefix(WRITTEN_TOPIC_PREFIX): n
                for name, n in totals.items()
                if name.startswith(WRITTEN_TOPIC_PREFIX) and n
            }
        ),
        "accounted": pages == articles + copies + dead,
        "seconds": round(seconds, 2),
    }


def complete(summary: dict, output: str, seconds_by_stage: dict[str, float] | None = None) -> dict:
    """The summary with the profile of what was written and the per-stage table added."""
    written = profile(output)
    summary = {**summary, **written}
    summary["stages"] = stage_table(
        summary["pages_read"], written["dead_letters_by_stage"], summary["syndicated_copies"],
        seconds_by_stage or {},
    )
    return summary


def write_summary(output: str, summary: dict) -> None:
    """The run's summary as ``output/summary.json`` (on any Beam filesystem)."""
    if is_local(output):
        os.makedirs(output, exist_ok=True)
    text = json.dumps(summary, indent=2) + "\n"
    with FileSystems.create(FileSystems.join(output, SUMMARY_FILE), "application/json") as out:
        out.write(text.encode("utf-8"))


def read_summary(output: str) -> dict | None:
    """``output/summary.json`` of a run, or None when there is none."""
    path = FileSystems.join(output, SUMMARY_FILE)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def _counts(items: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {n}" for name, n in items) or "none"


def summary_lines(summary: dict) -> list[str]:
    """The summary as the lines the command prints."""
    lines = [
        f"newsbeam: {summary['pages_read']} pages read -> {summary['articles_written']} articles, "
        f"{summary['syndicated_copies']} syndicated copies, {summary['dead_letters']} dead letters "
        f"in {summary['seconds']} s"
    ]
    stages = summary.get("stages")
    if stages:
        lines.append("  stage          in     out    dead   seconds")
        for row in stages:
            secs = "" if row.get("seconds") is None else f"{row['seconds']:9.2f}"
            extra = f"  (+{row['copies']} copies)" if row.get("copies") else ""
            lines.append(f"  {row['stage']:<11}{row['in']:>6}  {row['out']:>6}  "
                         f"{row['dead_letters']:>6} {secs}{extra}")
    dated = summary.get("published_range")
    if dated:
        span = (f"{dated['first']} to {dated['last']}" if dated["first"] else "no dated story")
        lines.append(f"  published: {span} ({dated['undated']} undated)")
    if "languages" in summary:
        lines.append(f"  languages: {_counts(summary['languages'].items())}")
    if "date_certainty" in summary:
        lines.append(f"  date certainty: {_counts(summary['date_certainty'].items())}")
    lines.append(f"  articles per topic: {_counts(summary['articles_per_topic'].items())}")
    lines.append(f"  dead letters by reason: {_counts(summary['dead_letters_by_reason'].items())}")
    lines.append(
        f"  output: {summary['output']}/{{articles,copies,dead_letters}}/*.avro, summary.json"
        f" (newsbeam report {summary['output']} draws it)"
    )
    return lines


def print_summary(summary: dict, stream: TextIO | None = None) -> None:
    """Print the summary on stdout; a broken count is also said on stderr."""
    stream = stream or sys.stdout
    for line in summary_lines(summary):
        print(line, file=stream)
    if not summary["accounted"]:
        print("newsbeam: WARNING: the books do not balance:", file=sys.stderr)
        for line in describe(summary["books"]) if "books" in summary else []:
            print(f"    {line}", file=sys.stderr)


__all__ = [
    "OUTPUTS", "SUMMARY_FILE", "complete", "counters", "print_summary", "profile",
    "read_output", "read_summary", "stage_seconds", "stage_table", "summarize", "summary_lines",
    "write_summary",
]
