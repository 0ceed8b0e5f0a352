"""Score main-text extraction on a dev folder (HTML or text captures) with the dev scorer."""

from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura

from transforms.boilerplate import clean_capture
from transforms.extract import extract_html
from transforms.records import StageError

DEFAULT_SCORER = "/work/shared/dev/score_extraction.py"

PageFn = Callable[[str, str | None], str]


def ours_html(doc: str, url: str | None = None) -> str:
    return extract_html(doc, url).text


def ours_text(doc: str, url: str | None = None) -> str:
    return clean_capture(doc).text


# Bare trafilatura as issue 15 compares with it: precision mode, no comments, no dedup cache.
BARE_OPTIONS = {"favor_precision": True, "include_comments": False, "deduplicate": False}


def bare_trafilatura(doc: str | bytes, url: str | None = None) -> str:
    return trafilatura.extract(doc, url=url, **BARE_OPTIONS) or ""


def bare_metadata(doc: str | bytes, url: str | None = None) -> tuple[str | None, str | None]:
    """Title and author as trafilatura's own metadata pass finds them."""
    found = trafilatura.bare_extraction(doc, url=url, with_metadata=True, **BARE_OPTIONS)
    return (found.title, found.author) if found is not None else (None, None)


def load_fn(spec: str) -> PageFn:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def load_scorer(path: str):
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(fn: PageFn, docs: list[str], urls: list[str | None]) -> tuple[list[str | None], float]:
    preds: list[str | None] = []
    spent = 0.0
    for doc, url in zip(docs, urls, strict=True):
        start = time.perf_counter()
        try:
            preds.append(fn(doc, url))
        except StageError:
            preds.append(None)
        spent += time.perf_counter() - start
    return preds, spent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="folder with manifest.jsonl")
    ap.add_argument("--mode", choices=("html", "text"), default="html")
    ap.add_argument("--scorer", default=DEFAULT_SCORER, help="path to score_extraction.py")
    ap.add_argument("--fn", help="module:function(doc, url) -> text; default ours for --mode")
    ap.add_argument("--baseline", action="store_true", help="also score bare trafilatura")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes (best is reported)")
    args = ap.parse_args(argv)

    scorer = load_scorer(args.scorer)
    data = Path(args.data)
    pages = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()
             if line.strip()]
    key = "html" if args.mode == "html" else "text"
    docs = [
        gzip.decompress((data / pg[key]).read_bytes()).decode("utf-8") if args.mode == "html"
        else (data / pg[key]).read_text(encoding="utf-8")
        for pg in pages
    ]
    truths = [(data / pg["truth"]).read_text(encoding="utf-8") for pg in pages]
    urls: list[str | None] = [None] * len(pages)

    fns: dict[str, PageFn] = {
        "ours": load_fn(args.fn) if args.fn else (ours_html if args.mode == "html" else ours_text)
    }
    if args.baseline:
        fns["bare_trafilatura"] = bare_trafilatura
    for name, fn in fns.items():
        fn(docs[0], urls[0])  # warm-up: imports and caches outside the timing
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            preds, spent = run(fn, docs, urls)
            best = min(best, spent)
        counts = [scorer.page_counts(t, p) for t, p in zip(truths, preds, strict=True)]
        f1, prec, rec = scorer.summarise(counts)
        print(f"{name:18s} mode {args.mode}  F1 {f1:.3f} precision {prec:.3f} recall {rec:.3f} "
              f"pages {len(pages)} ms_per_page {1000 * best / len(pages):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
