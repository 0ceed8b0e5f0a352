"""Quality benchmarks measured through the real pipeline: dev pages in, Avro fields out.

    python -m tests.benchmarks.pipeline_quality SET --data PATH [--workers 2] [-v]

SET is one of extraction-html, extraction-text, dates, datelines, topics,
syndication; PATH is the dev folder (extraction/, dates/) or file
(datelines.jsonl, topics.jsonl, neardup_pairs.jsonl) of /work/shared/dev.

Each set writes its dev items as input pages into a temporary folder (the dev
data is third-party: it is never written into the repository), runs
``newsbeam run`` in this process (``pipeline.cli.run``) with a fixed reference
time, reads the ``articles``, ``copies`` and ``dead_letters`` Avro back, maps
every record to its dev item by ``source`` and scores the record's fields with
the scoring code of the per-stage benchmarks (``tests/benchmarks/*.py``). A page
that ends as a dead letter counts as an empty answer (no text, no date, no
dateline, no topics, its own story), and the dead letters are counted by stage
and reason. The last line printed is the set's summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.dates import TARGET_DAY_ACCURACY, dateline_hits
from tests.benchmarks.dedup import figures, print_table, published_of, tally_pair
from tests.benchmarks.extraction import DEFAULT_SCORER, load_scorer
from tests.benchmarks.split import HELD, PARTS, part
from tests.benchmarks.topics import (
    DEFAULT_TOPICS,
    by_part,
    keyword_tagger,
    part_lines,
    report,
    tally,
)
from tests.support import read_records

REFERENCE_TIME = "2026-11-23T12:00:00+00:00"
SETS = ("extraction-html", "extraction-text", "dates", "datelines", "topics", "syndication")

# Targets from the issues.
TARGET_EXTRACTION_F1 = {"html": 0.975, "text": 0.90}
TARGET_TOPICS_MICRO_F1 = 0.88  # issue 16
TARGET_TOPIC_PR = 0.82
TARGET_DATELINE_PLACE = 0.95  # and agency, each (issue 16)
TARGET_SYNDICATION_P = 0.95
TARGET_SYNDICATION_R = 0.90


@dataclass
class Outcome:
    """One pipeline run: records (articles and copies) and dead letters by item key."""

    records: dict[str, dict]
    dead: dict[str, dict]
    summary: dict
    seconds: float
    pages: int

    def dead_line(self) -> str:
        reasons = Counter(f"{d['stage']}/{d['reason']}" for d in self.dead.values())
        detail = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) or "none"
        return f"dead letters {len(self.dead)} of {self.pages} pages ({detail})"

    def timing_line(self) -> str:
        return (f"pipeline run {self.seconds:.1f} s for {self.pages} pages "
                f"({self.pages / self.seconds:.1f} pages/s, run start-up included)")


def file_key(source: str) -> str:
    """The dev id in a page file's name: ``/tmp/x/pages/<id>.html.gz`` -> ``<id>``."""
    return Path(source).name.split(".", 1)[0]


def line_key(source: str) -> str:
    """The line number of a JSON Lines page: ``/tmp/x/pages.jsonl:7`` -> ``7``."""
    return source.rsplit(":", 1)[1]


def run_pipeline(inputs: list[str], output: Path, key_of: Callable[[str], str],
                 expected: Sequence[str], workers: int) -> Outcome:
    """Run newsbeam on ``inputs``; every expected key must come back exactly once."""
    from pipeline.cli import run

    argv = [f"--input={pattern}" for pattern in inputs]
    argv += [f"--output={output}", f"--reference_time={REFERENCE_TIME}"]
    if workers > 1:
        argv += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    started = time.perf_counter()
    if run(argv) != 0:
        raise SystemExit("newsbeam run failed")
    seconds = time.perf_counter() - started
    records: dict[str, dict] = {}
    dead: dict[str, dict] = {}
    for kind, into in (("articles", records), ("copies", records), ("dead_letters", dead)):
        for record in read_records(output, kind):
            key = key_of(record["source"])
            if key in records or key in dead:
                raise SystemExit(f"page {key} came out twice")
            into[key] = record
    missing = set(expected) - records.keys() - dead.keys()
    if missing:
        raise SystemExit(f"{len(missing)} pages never came out, e.g. {sorted(missing)[:3]}")
    summary = json.loads((output / "summary.json").read_text())
    return Outcome(records, dead, summary, seconds, len(expected))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def headed_text(title: str | None, text: str | None) -> str:
    """A text page as the dev interfaces give it: title, a blank line, the text."""
    title, text = (title or "").strip(), (text or "").strip()
    return "\n\n".join(part for part in (title, text) if part) + "\n"


# ---------------------------------------------------------------------------
# The sets
# ---------------------------------------------------------------------------
def bench_extraction(mode: str, data: Path, tmp: Path, args) -> str:
    scorer = load_scorer(args.scorer)
    pages = read_jsonl(data / "manifest.jsonl")
    folder = tmp / "pages"
    folder.mkdir()
    for page in pages:
        name = page["html"] if mode == "html" else page["text"]
        shutil.copyfile(data / name, folder / name)  # <id>.html.gz or <id>.txt
    out = run_pipeline([str(folder / "*")], tmp / "out", file_key,
                       [p["id"] for p in pages], args.workers)
    counts, worst = [], []
    for page in pages:
        truth = (data / page["truth"]).read_text(encoding="utf-8")
        record = out.records.get(page["id"])
        pred = record["text"] if record else None
        c = scorer.page_counts(truth, pred)
        counts.append(c)
        worst.append((scorer.page_recall(*c), scorer.page_precision(*c), page["id"]))
    if args.verbose:
        for rec, prec, pid in sorted(worst)[:10]:
            why = f" dead: {out.dead[pid]['reason']}" if pid in out.dead else ""
            print(f"  {pid[:16]} recall {rec:.3f} precision {prec:.3f}{why}")
    f1, prec, rec = scorer.summarise(counts)
    print(out.dead_line())
    print(out.timing_line())
    return (f"extraction-{mode} through the pipeline: F1 {f1:.3f} precision {prec:.3f} "
            f"recall {rec:.3f} pages {len(pages)} dead {len(out.dead)} "
            f"(target F1 >= {TARGET_EXTRACTION_F1[mode]}) {out.seconds:.1f} s")


def bench_dates(data: Path, tmp: Path, args) -> str:
    pages = read_jsonl(data / "manifest.jsonl")
    folder = tmp / "pages"
    folder.mkdir()
    for page in pages:  # the file carries no URL: the URL is held back
        shutil.copyfile(data / page["html"], folder / f"{page['id']}.html.gz")
    out = run_pipeline([str(folder / "*")], tmp / "out", file_key,
                       [p["id"] for p in pages], args.workers)
    right = wrong = none = 0
    certainty: dict[str, Counter] = defaultdict(Counter)
    for page in pages:
        record = out.records.get(page["id"])
        published = record.get("published") if record else None
        day = published["date"] if published else None
        level = published["certainty"] if published else ("dead" if record is None else "none")
        want = page.get("expected_date")
        if not want:
            print(f"  undated page {page['id']}: got {day} ({level}), not scored")
            continue
        if day == want:
            right += 1
            certainty["right"][level] += 1
        elif day:
            wrong += 1
            certainty["wrong"][level] += 1
        else:
            none += 1
            certainty["none"][level] += 1
        if args.verbose and day != want:
            print(f"  {page['id']}: want {want} got {day} ({level})")
    dated = right + wrong + none
    dead_dated = certainty["none"]["dead"]
    print(f"day accuracy over the dated pages that became articles: "
          f"{right / max(dated - dead_dated, 1):.3f} ({right}/{dated - dead_dated}); "
          f"{dead_dated} dated pages are dead letters")
    for outcome in ("right", "wrong", "none"):
        levels = ", ".join(f"{k} {n}" for k, n in sorted(certainty[outcome].items())) or "-"
        print(f"  {outcome:5s}: {levels}")
    prec = right / (right + wrong) if right + wrong else 0.0
    rec = right / (right + none) if right + none else 0.0
    print(out.dead_line())
    print(out.timing_line())
    return (f"dates through the pipeline (URL held back): day accuracy {right / dated:.3f} "
            f"({right}/{dated}) precision {prec:.3f} recall {rec:.3f} wrong {wrong} "
            f"no answer {none} dead {len(out.dead)} (target >= {TARGET_DAY_ACCURACY}) "
            f"{out.seconds:.1f} s")


# The datelines baseline: two plain regexes, a capitals place before a credit or a dash at
# the start, and the first parenthesised capitalised credit in the opening.
BASELINE_PLACE = re.compile(r"^\s*([A-Z][A-Z.'/-]*(?: [A-Z][A-Z.'/-]*)*(?:, [A-Z][\w.]*(?: [A-Z][\w.]*)*)?)(?:\s*\(|\s+-|\s*--|\s*[\u2013\u2014:])")
BASELINE_AGENCY = re.compile(r"\(\s*([A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*)*)\s*\)")


def baseline_dateline(text: str) -> tuple[str | None, str | None]:
    place = BASELINE_PLACE.match(text)
    agency = BASELINE_AGENCY.search(text[:60])
    return (place.group(1) if place else None), (agency.group(1) if agency else None)


def bench_datelines(data: Path, tmp: Path, args) -> str:
    items = read_jsonl(data)
    folder = tmp / "pages"
    folder.mkdir()
    for item in items:
        (folder / f"{item['id']}.txt").write_text(item["text"] + "\n", encoding="utf-8")
    out = run_pipeline([str(folder / "*.txt")], tmp / "out", file_key,
                       [it["id"] for it in items], args.workers)
    # Per part ("tune", "held", "all"): items, place, agency, both, baseline place, agency.
    tallies = {name: Counter() for name in (*PARTS, "all")}
    plain_agency = plain_both = 0  # the record's `agency` field alone
    used: Counter = Counter()
    dead_hits = 0
    for item in items:
        record = out.records.get(item["id"])
        dateline = record.get("dateline") if record else None
        got_place = dateline["place"] if dateline else None
        if dateline:
            got_agency = dateline["agency"]
            used["dateline.agency"] += 1
        else:
            got_agency = record.get("agency") if record else None
            used["agency (no dateline)" if record else "dead letter"] += 1
        ok_place, ok_agency = dateline_hits(item, got_place, got_agency)
        base_place, base_agency = dateline_hits(item, *baseline_dateline(item["text"]))
        for name in (part(item["id"]), "all"):
            t = tallies[name]
            t["n"] += 1
            t["place"] += ok_place
            t["agency"] += ok_agency
            t["both"] += ok_place and ok_agency
            t["base_place"] += base_place
            t["base_agency"] += base_agency
            t["base_both"] += base_place and base_agency
        field_agency = record.get("agency") if record else None
        ok_field = dateline_hits(item, got_place, field_agency)[1]
        plain_agency += ok_field
        plain_both += ok_place and ok_field
        if record is None and ok_place and ok_agency:
            dead_hits += 1  # a dead letter is right only when the item has no dateline
        if args.verbose and not (ok_place and ok_agency):
            why = f" dead: {out.dead[item['id']]['reason']}" if record is None else ""
            print(f"  {item['id']} ({part(item['id'])}): want {item['expected_location']!r}/"
                  f"{item['expected_agency']!r} got {got_place!r}/{got_agency!r}{why}")
    n = len(items) or 1
    print(f"agency read from: {', '.join(f'{k} {v}' for k, v in sorted(used.items()))}")
    print(f"with the record's `agency` field instead: agency {plain_agency / n:.3f} "
          f"both {plain_both / n:.3f}")
    print(f"dead-lettered items scored right anyway (no dateline expected): {dead_hits}")
    print(f"{'part':<5} {'items':>5}  {'place':>6} {'agency':>6} {'both':>6}   "
          f"baseline {'place':>6} {'agency':>6} {'both':>6}")
    for name, t in tallies.items():
        k = t["n"] or 1
        print(f"{name:<5} {t['n']:5d}  {t['place'] / k:6.3f} {t['agency'] / k:6.3f} "
              f"{t['both'] / k:6.3f}   baseline {t['base_place'] / k:6.3f} "
              f"{t['base_agency'] / k:6.3f} {t['base_both'] / k:6.3f}")
    print(out.dead_line())
    print(out.timing_line())
    held, a = tallies[HELD], tallies["all"]
    h = held["n"] or 1
    return (f"datelines through the pipeline: place {a['place'] / n:.3f} agency "
            f"{a['agency'] / n:.3f} both {a['both'] / n:.3f} ({a['both']}/{len(items)}); "
            f"held {held['n']}: place {held['place'] / h:.3f} agency {held['agency'] / h:.3f}; "
            f"baseline place {a['base_place'] / n:.3f} agency {a['base_agency'] / n:.3f}; "
            f"dead {len(out.dead)} (target place, agency >= {TARGET_DATELINE_PLACE}) "
            f"{out.seconds:.1f} s")


def bench_topics(data: Path, tmp: Path, args) -> str:
    items = read_jsonl(data)
    folder = tmp / "pages"
    folder.mkdir()
    keys = [f"t{i:03d}" for i in range(len(items))]
    for key, item in zip(keys, items, strict=True):
        (folder / f"{key}.txt").write_text(headed_text(item.get("title"), item.get("text")),
                                           encoding="utf-8")
    out = run_pipeline([str(folder / "*.txt")], tmp / "out", file_key, keys, args.workers)
    predictions = []
    for key in keys:
        record = out.records.get(key)
        predictions.append(set(record["topics"]) if record else set())
    topics = list(DEFAULT_TOPICS)
    conf, micro = tally(items, predictions, topics)
    print(report(conf, micro, out.seconds / len(items), len(items)))
    parts = by_part(items, predictions, topics)
    baseline = [keyword_tagger(it.get("title") or "", it.get("text") or "") for it in items]
    print("\n".join(part_lines("pipeline", parts)))
    print("\n".join(part_lines("keywords", by_part(items, baseline, topics))))
    dead_labelled = sum(bool(items[keys.index(k)].get("labels")) for k in out.dead)
    headline_only_dead = sum(not (items[keys.index(k)].get("text") or "").strip()
                             for k in out.dead)
    print(f"dead-lettered items: {len(out.dead)} ({dead_labelled} with labels, "
          f"{headline_only_dead} headline-only); counted as no tags")
    print(out.dead_line())
    print(out.timing_line())
    low = [t for t, c in conf.items()
           if c.precision < TARGET_TOPIC_PR or c.recall < TARGET_TOPIC_PR]
    per_topic = " ".join(f"{t} P {c.precision:.3f} R {c.recall:.3f}" for t, c in conf.items())
    held_micro = parts[HELD][1]
    base_micro = by_part(items, baseline, topics)["all"][1]
    return (f"topics through the pipeline: micro-F1 {micro:.3f} {per_topic} items {len(items)}; "
            f"held micro-F1 {held_micro:.3f}; keywords micro-F1 {base_micro:.3f}; "
            f"dead {len(out.dead)} (target micro-F1 >= {TARGET_TOPICS_MICRO_F1}, P,R >= "
            f"{TARGET_TOPIC_PR}; below: {','.join(low) or 'none'}) {out.seconds:.1f} s")


def _fetched_at(date: str | None) -> str | None:
    """The dev side's date as a crawler's fetched_at (no zone is given: read as UTC)."""
    published = published_of(date)
    if published is None:
        return None
    return f"{published.date}T{published.time or '00:00'}:00+00:00"


def bench_syndication(data: Path, tmp: Path, args) -> str:
    rows = read_jsonl(data)
    pages: list[dict] = []
    line_of: dict[str, str] = {}  # the side's (title, text, date) -> its JSON line number
    sides = []
    for row in rows:
        keys = []
        for s in "ab":
            side = row[s]
            ident = json.dumps([side.get("title"), side.get("text"), side.get("date")])
            if ident not in line_of:
                page = {"text": headed_text(side.get("title"), side.get("text"))}
                fetched = _fetched_at(side.get("date"))
                if fetched:
                    page["fetched_at"] = fetched
                pages.append(page)
                line_of[ident] = str(len(pages))
            keys.append(line_of[ident])
        sides.append((row, *keys))
    write_jsonl(tmp / "pages.jsonl", pages)
    out = run_pipeline([str(tmp / "pages.jsonl")], tmp / "out", line_key,
                       [str(i) for i in range(1, len(pages) + 1)], args.workers)
    id_of = {k: r["id"] for k, r in out.records.items()}
    canonical_of = {k: (r["syndicated_from"]["canonical_id"] if r.get("syndicated_from")
                        else r["id"]) for k, r in out.records.items()}
    counts: dict[str, Counter] = defaultdict(Counter)
    dead_pairs = 0
    for row, a, b in sides:
        if row["same_story"] is None:
            continue
        if a in out.dead or b in out.dead:
            dead_pairs += 1
            same = False  # a dead letter is in no story
        else:
            same = (canonical_of[a] == id_of[b] or canonical_of[b] == id_of[a]
                    or canonical_of[a] == canonical_of[b])
        tally_pair(counts, row, same)
    print_table(counts)
    p, r, f = figures(counts["ALL"])
    print(f"pages {len(pages)} (distinct sides); labelled pairs with a dead-lettered side: "
          f"{dead_pairs}")
    print(out.dead_line())
    print(out.timing_line())
    return (f"syndication through the pipeline: precision {p:.3f} recall {r:.3f} F1 {f:.3f} "
            f"pairs {sum(counts['ALL'].values())} dead {len(out.dead)} (target P >= "
            f"{TARGET_SYNDICATION_P}, R >= {TARGET_SYNDICATION_R}) {out.seconds:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=SETS)
    ap.add_argument("--data", required=True, type=Path, help="the set's dev folder or file")
    ap.add_argument("--workers", type=int, default=1,
                    help="DirectRunner workers; >1 runs multi_processing (default 1, in-process)")
    ap.add_argument("--scorer", default=DEFAULT_SCORER, help="path to score_extraction.py")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (pages, Avro)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, force=True)
    tmp = Path(tempfile.mkdtemp(prefix="newsbeam-bench-"))
    try:
        if args.set.startswith("extraction-"):
            line = bench_extraction(args.set.removeprefix("extraction-"), args.data, tmp, args)
        else:
            line = {"dates": bench_dates, "datelines": bench_datelines, "topics": bench_topics,
                    "syndication": bench_syndication}[args.set](args.data, tmp, args)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
