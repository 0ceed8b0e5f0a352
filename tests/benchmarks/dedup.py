"""Same-story accuracy of DetectSyndication on labelled pairs (neardup_pairs.jsonl)."""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter, defaultdict

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from tests.benchmarks.split import part
from transforms.dedup import ARTICLES, COPIES, DetectSyndication
from transforms.records import DAY, TIME_NO_ZONE, Article, Published

_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%B %d, %Y", "%b %d, %Y")


def published_of(raw: str | None) -> Published | None:
    """A Published from a dev item's date text (no zone is given, so no instant)."""
    if not raw:
        return None
    for fmt in _FORMATS:
        try:
            when = dt.datetime.strptime(raw.strip(), fmt)
        except ValueError:
            continue
        has_time = "%H" in fmt
        return Published(
            date=when.date().isoformat(),
            time=when.strftime("%H:%M") if has_time else None,
            utc_offset=None,
            instant_ms=None,
            certainty=TIME_NO_ZONE if has_time else DAY,
            evidence="dev:date",
        )
    return None


def article_of(side: dict) -> Article:
    title, text, date = side.get("title") or None, side.get("text") or "", side.get("date")
    digest = hashlib.sha1(json.dumps([title, text, date]).encode()).hexdigest()[:16]
    return Article(
        id=digest, source=f"{side.get('source_repo')}:{side.get('path')}:{side.get('ref')}",
        kind="text", url=None, title=title, text=text, published=published_of(date),
    )


def _event_seconds(a: Article) -> float:
    """Event time for streaming: the publication day (undated items at a fixed origin)."""
    if a.published is None:
        return 1_000_000_000.0
    day = dt.datetime.fromisoformat(a.published.date).replace(tzinfo=dt.UTC)
    return day.timestamp() + (60 * int(a.published.time[:2]) + int(a.published.time[3:]) if
                              a.published.time else 0) * 60


def run_syndication(timed: list[tuple[Article, float]], options: PipelineOptions):
    """DetectSyndication over (article, event seconds) in the given order: the (id, canonical
    id) of every article and the finished pipeline's result (for its metrics)."""
    with tempfile.TemporaryDirectory() as tmp:
        p = beam.Pipeline(options=options)
        out = (
            p
            | beam.Create(timed, reshuffle=False)
            | beam.Map(lambda x: beam.window.TimestampedValue(x[0], x[1]))
            | DetectSyndication(streaming=options.view_as(StandardOptions).streaming)
        )
        (
            (out[ARTICLES] | "A" >> beam.Map(lambda x: [x.id, x.id]),
             out[COPIES] | "C" >> beam.Map(lambda x: [x.id, x.syndicated_from.canonical_id]))
            | beam.Flatten()
            | beam.Map(json.dumps)
            | beam.io.WriteToText(os.path.join(tmp, "out"))
        )
        result = p.run()
        result.wait_until_finish()
        pairs = [tuple(json.loads(line)) for path in glob.glob(os.path.join(tmp, "out*"))
                 for line in open(path, encoding="utf-8")]
    return pairs, result


def canonical_of(articles: list[Article], runner: str = "DirectRunner",
                 streaming: bool = False) -> list[tuple[str, str]]:
    """(id, canonical id) of every article after DetectSyndication."""
    options = PipelineOptions([], runner=runner)
    options.view_as(StandardOptions).streaming = streaming
    # Streaming takes them in event-time order (then id), as a feed would bring them.
    ordered = sorted(articles, key=lambda x: (_event_seconds(x), x.id))
    return run_syndication([(a, _event_seconds(a)) for a in ordered], options)[0]


def run(pairs_path: str, runner: str = "DirectRunner", streaming: bool = False) -> dict:
    rows = [json.loads(line) for line in open(pairs_path, encoding="utf-8") if line.strip()]
    articles: dict[str, Article] = {}
    sides = []
    for row in rows:
        a, b = article_of(row["a"]), article_of(row["b"])
        articles.setdefault(a.id, a)
        articles.setdefault(b.id, b)
        sides.append((row, a.id, b.id))

    canonical = dict(canonical_of(list(articles.values()), runner, streaming))
    if len(canonical) != len(articles):
        raise SystemExit(f"lost articles: {len(articles)} in, {len(canonical)} out")

    counts: dict[str, Counter] = defaultdict(Counter)
    for row, a, b in sides:
        if row["same_story"] is None:
            continue
        tally_pair(counts, row, canonical[a] == canonical[b])
    return counts


def tally_pair(counts: dict[str, Counter], row: dict, same: bool) -> str:
    """Count one labelled pair's outcome under its relation, its part and ALL; print it when
    wrong."""
    outcome = {(True, True): "tp", (True, False): "fn", (False, True): "fp",
               (False, False): "tn"}[(bool(row["same_story"]), same)]
    counts[row["relation"]][outcome] += 1
    counts["ALL"][outcome] += 1
    counts[f"ALL, {part(row['id'])} part"][outcome] += 1  # tests/benchmarks/split.py
    if outcome in ("fn", "fp"):
        ta, tb = (_short(row[s].get("title")) for s in "ab")
        print(f"  {outcome} {row['id']} {row['relation']}: {ta!r} / {tb!r}")
    return outcome


def _short(title: str | None) -> str:
    return re.sub(r"\s+", " ", title or "")[:40]


def _fmt(x: float) -> str:
    return "  -  " if x != x else f"{x:.3f}"


def figures(c: Counter) -> tuple[float, float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")
    f = 2 * p * r / (p + r) if p + r else float("nan")
    return p, r, f


def main() -> None:
    logging.basicConfig(level=logging.WARNING, force=True)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--streaming", action="store_true",
                    help="run the streaming path (event time = publication day)")
    args = ap.parse_args()
    print_table(run(args.pairs, streaming=args.streaming))


def print_table(counts: dict[str, Counter]) -> None:
    """n, tp, fp, fn, tn and P/R/F1 per relation, then the tune and held parts, ALL last."""
    head = " ".join(f"{h:>3s}" for h in ("n", "tp", "fp", "fn", "tn"))
    print(f"{'relation':36s} {head}  P      R      F1")
    for rel in sorted(counts, key=lambda r: (r.startswith("ALL"), r == "ALL", r)):
        c = counts[rel]
        p, r, f = figures(c)
        n = sum(c.values())
        cells = " ".join(f"{v:3d}" for v in (n, c["tp"], c["fp"], c["fn"], c["tn"]))
        print(f"{rel:36s} {cells}  {_fmt(p)}  {_fmt(r)}  {_fmt(f)}")


if __name__ == "__main__":
    main()
