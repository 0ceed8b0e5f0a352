"""Benchmark: day and dateline accuracy on a folder of pages, and the dates stage's cost.

    python -m tests.benchmarks.dates --data ../shared/dev/dates [--datelines FILE]
    python -m tests.benchmarks.dates --profile ../shared/dev/extraction ../shared/dev/dates

``--data`` scores the stage's pure function on a dev folder (no pipeline; the
pipeline's figure is ``tests.benchmarks.pipeline_quality dates``). ``--profile``
runs the throughput benchmark's per-stage profile (tests/benchmarks/throughput.py:
every stage's pure function, one process, CPU time) on the pages of the folders
and prints the dates stage's share of per-page time, which path decided each
page's date (the first word of its evidence) and what htmldate and dateparser
cost: calls, CPU-ms a call, share of the dates stage.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from transforms.datelines import find_dateline
from transforms.dates import find_published, load_publishers
from transforms.extract import extract_html
from transforms.records import KIND_HTML, Article, StageError

# Target figures from the issue.
TARGET_DAY_ACCURACY = 0.95
TARGET_DATELINE_BOTH = 0.95
TARGET_SHARE = 0.15
_PUBLISHERS = load_publishers()


def _norm(value: str | None, agency: bool = False) -> str | None:
    """The dev scorer's normalisation of a place or agency."""
    if not value:
        return None
    value = re.sub(r"\s+", " ", value.lower()).replace(" ,", ",")
    if agency:
        value = value.replace("(", "").replace(")", "")
    return value.strip(" -\u2013\u2014:,") or None


def _article(page_id: str, html: str, url: str | None) -> Article:
    return Article(id=page_id, source=page_id, kind=KIND_HTML, url=url, title=None, text="",
                   document=html)


def published_day(html: str, url: str | None = None) -> str | None:
    """The dev scorer's interface (score_dates.py --module tests.benchmarks.dates:published_day)."""
    got = find_published(_article("page", html, url), datetime.now(UTC), _PUBLISHERS)
    return got.date if got else None


def dateline_fields(text: str) -> dict:
    """The dev datelines interface: {"location": ..., "agency": ...}."""
    dateline, agency, _ = find_dateline(text)
    return {"location": dateline.place if dateline else None, "agency": agency}


def bench_days(folder: Path, reference: datetime, verbose: bool) -> dict:
    publishers = load_publishers()
    pages = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()
             if line.strip()]
    counts = {"dated": 0, "no_url": 0, "with_url": 0}
    spent = {"extract": 0.0, "dates": 0.0, "datelines": 0.0}
    for page in pages:
        raw = gzip.decompress((folder / page["html"]).read_bytes())
        html = raw.decode(page.get("encoding") or "utf-8", "replace")
        start = time.perf_counter()
        try:  # our extraction stage, as in the pipeline (the dates stage reuses its parse)
            text = extract_html(html).text
        except StageError:
            text = ""
        spent["extract"] += time.perf_counter() - start
        start = time.perf_counter()
        find_dateline(text)
        spent["datelines"] += time.perf_counter() - start
        start = time.perf_counter()
        got = find_published(_article(page["id"], html, None), reference, publishers)
        spent["dates"] += time.perf_counter() - start
        want = page.get("expected_date")
        if not want:
            continue
        counts["dated"] += 1
        day = got.date if got else None
        counts["no_url"] += day == want
        with_url = find_published(_article(page["id"], html, page["url"]), reference,
                                  publishers)
        counts["with_url"] += bool(with_url and with_url.date == want)
        if verbose and day != want:
            print(f"  day {page['id']}: want {want} got {got}", file=sys.stderr)
    return {"counts": counts, "spent": spent, "pages": len(pages)}


def dateline_hits(item: dict, place: str | None, agency: str | None) -> tuple[bool, bool]:
    """Whether a found place and agency match a dev item, after the dev normalisation."""
    return (_norm(place) == _norm(item["expected_location"]),
            _norm(agency, True) == _norm(item["expected_agency"], True))


def bench_datelines(path: Path, verbose: bool) -> dict:
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    place = agency = both = 0
    for item in items:
        dateline, found_agency, _ = find_dateline(item["text"])
        got_place = dateline.place if dateline else None
        ok_place, ok_agency = dateline_hits(item, got_place, found_agency)
        place += ok_place
        agency += ok_agency
        both += ok_place and ok_agency
        if verbose and not (ok_place and ok_agency):
            print(f"  dateline {item['id']}: want {item['expected_location']!r}/"
                  f"{item['expected_agency']!r} got {got_place!r}/{found_agency!r}",
                  file=sys.stderr)
    n = len(items) or 1
    return {"items": len(items), "place": place / n, "agency": agency / n, "both": both / n}


def _cpu_timed(spent: dict[str, list[float]], name: str, fn: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent.setdefault(name, []).append(time.process_time() - started)
    return wrapper


def profile(folders: list[Path]) -> int:
    """The throughput profile on the folders' pages, with the dates stage's paths counted."""
    import transforms.dates as dates_stage
    from tests.benchmarks import throughput
    from transforms.dates import parsing

    paths = sorted(p for folder in folders for p in folder.iterdir()
                   if p.name.endswith((".html", ".html.gz", ".htm")))
    calls: dict[str, list[float]] = {}
    decided: Counter = Counter()
    apply_dates = dates_stage.apply_dates

    def counted(article, *args, **kwargs):
        dated = apply_dates(article, *args, **kwargs)
        how = dated.published.evidence.split(" ", 1)[0] if dated.published else "none"
        decided[how.split(":", 1)[0]] += 1
        return dated

    patches = [(dates_stage, "apply_dates", counted),
               (dates_stage, "htmldate_reading",
                _cpu_timed(calls, "htmldate", dates_stage.htmldate_reading)),
               (parsing, "_dateparser_reading",
                _cpu_timed(calls, "dateparser", parsing._dateparser_reading))]
    # dateparser's first call in a process builds its zone and language tables, and
    # htmldate's first extensive search its own (each about a second, once per worker):
    # start-up, like the imports the profile's warm-up page pays.
    parsing.parse_words("26 March 2024", "en", False)
    from transforms.html_tree import page_tree

    warm = page_tree("<html><body><p>Nothing here is dated, only words.</p></body></html>")
    dates_stage.htmldate_reading(warm, datetime.now(UTC))
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, value in patches:
        setattr(module, name, value)
    try:
        spent = throughput.stage_profile(paths)
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
    spent.pop(throughput.INNER, 0.0)
    total = sum(spent.values())
    n = len(paths) - 1  # the first page is the warm-up
    dates_cpu = spent.get("dates", 0.0)
    print(f"per-stage profile on {n} pages of {', '.join(str(f) for f in folders)} "
          f"(CPU time, one process): {1000 * total / n:.1f} ms/page")
    for name, value in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:24s} {1000 * value / n:7.2f} ms/page {100 * value / total:5.1f} %")
    decided_total = sum(decided.values()) or 1
    print("dates decided by (first word of the evidence): " + ", ".join(
        f"{k} {v / decided_total:.1%}" for k, v in decided.most_common()))
    for name in ("htmldate", "dateparser"):
        times = calls.get(name, [])
        if times:
            print(f"  {name}: {len(times)} calls ({len(times) / n:.2f} a page), "
                  f"{1000 * sum(times) / len(times):.2f} CPU-ms a call, "
                  f"{100 * sum(times) / max(dates_cpu, 1e-9):.0f} % of the dates stage")
        else:
            print(f"  {name}: no calls")
    share = dates_cpu / total if total else 0.0
    print(f"dates stage share of per-page time {share:.3f} (target <= {TARGET_SHARE})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, help="folder with manifest.jsonl and <id>.html.gz")
    ap.add_argument("--datelines", type=Path, help="JSON Lines of openings with expected fields")
    ap.add_argument("--reference", help="ISO reference time (default: now, the run's time)")
    ap.add_argument("--profile", type=Path, nargs="+",
                    help="folders of pages for the per-stage profile and the dates share")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the misses on stderr")
    args = ap.parse_args(argv)
    if args.profile:
        return profile(args.profile)
    reference = (datetime.fromisoformat(args.reference) if args.reference
                 else datetime.now(UTC))
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    if args.data:
        result = bench_days(args.data, reference, args.verbose)
        c, s = result["counts"], result["spent"]
        dated = c["dated"] or 1
        ours = s["dates"] + s["datelines"]
        share = ours / (ours + s["extract"]) if ours + s["extract"] else 0.0
        n = result["pages"] or 1
        print(f"day accuracy (URL held back) {c['no_url'] / dated:.3f} "
              f"({c['no_url']}/{c['dated']}; target {TARGET_DAY_ACCURACY})")
        print(f"day accuracy (with URL)      {c['with_url'] / dated:.3f} "
              f"({c['with_url']}/{c['dated']})")
        print(f"per page ms: extraction stage {1000 * s['extract'] / n:.2f}, "
              f"dates {1000 * s['dates'] / n:.2f}, datelines {1000 * s['datelines'] / n:.3f}")
        print(f"dates+datelines share of page time {share:.3f} (target < {TARGET_SHARE})")
    if args.datelines:
        d = bench_datelines(args.datelines, args.verbose)
        print(f"datelines {d['items']}: place {d['place']:.3f} agency {d['agency']:.3f} "
              f"both {d['both']:.3f} (target {TARGET_DATELINE_BOTH})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
