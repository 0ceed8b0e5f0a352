"""Benchmark the topic tagger on a labelled JSON Lines file: per-topic P/R/F1 and confusion."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tests.benchmarks.split import HELD, TUNE, part
from transforms.topics import Taxonomy, load_taxonomy, score_topics

DEFAULT_TOPICS = ("abductions", "summitry", "missiles")

# A tagger takes (title, text) and returns the topic names it gives the item.
Tagger = Callable[[str, str], Iterable[str]]


def import_tagger(spec: str) -> Tagger:
    """``package.module:function``, a function (title, text) -> topic names."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


# The baseline: one keyword regex per topic, on title and text.
KEYWORDS = {
    "abductions": re.compile(r"(?i)\b(?:abduct|kidnap)"),
    "summitry": re.compile(r"(?i)\b(?:summit|talks\b|dialogue\b)"),
    "missiles": re.compile(r"(?i)\b(?:missile|nuclear|icbm)"),
}


def keyword_tagger(title: str, text: str) -> set[str]:
    """The keyword baseline: a topic whenever its regex occurs anywhere."""
    return {t for t, rx in KEYWORDS.items() if rx.search(f"{title}\n{text}")}


def by_part(items: Sequence[dict], predictions: Sequence[set[str]],
            topics: Sequence[str] = DEFAULT_TOPICS) -> dict[str, tuple[dict[str, Confusion], float]]:
    """``tally`` on the tune part, the held part and all items (tests/benchmarks/split.py)."""
    out = {}
    for name in (TUNE, HELD, "all"):
        keep = [i for i, it in enumerate(items) if name == "all" or part(it["id"]) == name]
        out[name] = tally([items[i] for i in keep], [predictions[i] for i in keep], topics)
    return out


def part_lines(label: str, parts: dict[str, tuple[dict[str, Confusion], float]]) -> list[str]:
    lines = []
    for name, (conf, micro) in parts.items():
        per = " ".join(f"{t} P {c.precision:.3f} R {c.recall:.3f}" for t, c in conf.items())
        n = sum(c.tp + c.fn + c.fp + c.tn for c in conf.values()) // max(len(conf), 1)
        lines.append(f"{label:<8} {name:<4} items {n:3d} micro-F1 {micro:.3f}  {per}")
    return lines


def rules_tagger(taxonomy: Taxonomy) -> Tagger:
    """The default tagger: ``score_topics`` on title and text (no summary in the dev items)."""

    def tag(title: str, text: str) -> set[str]:
        hits, _ = score_topics(taxonomy, title, None, text)
        return {h.topic for h in hits}

    return tag


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(items: Sequence[dict], tagger: Tagger,
             topics: Sequence[str] = DEFAULT_TOPICS) -> tuple[dict[str, Confusion], float, float]:
    """Confusion per topic, micro-F1 over all item-topic decisions, and seconds per item."""
    started = time.perf_counter()
    predictions = [set(tagger(it.get("title") or "", it.get("text") or "")) for it in items]
    per_item = (time.perf_counter() - started) / max(len(items), 1)
    conf, micro = tally(items, predictions, topics)
    return conf, micro, per_item


def tally(items: Sequence[dict], predictions: Sequence[set[str]],
          topics: Sequence[str] = DEFAULT_TOPICS) -> tuple[dict[str, Confusion], float]:
    """Confusion per topic and micro-F1 of given predictions (one set of topics per item)."""
    conf = {t: Confusion() for t in topics}
    for i, (item, got) in enumerate(zip(items, predictions, strict=True)):
        gold = set(item.get("labels") or ())
        name = (item.get("title") or item.get("text") or "")[:70].replace("\n", " ")
        amb = " (ambiguous)" if item.get("ambiguous") else ""
        for t in topics:
            c = conf[t]
            if t in gold and t in got:
                c.tp += 1
            elif t in got:
                c.fp += 1
                c.wrong.append(f"FP #{i}{amb}: {name}")
            elif t in gold:
                c.fn += 1
                c.wrong.append(f"FN #{i}{amb}: {name}")
            else:
                c.tn += 1
    tp = sum(c.tp for c in conf.values())
    fp = sum(c.fp for c in conf.values())
    fn = sum(c.fn for c in conf.values())
    micro = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return conf, micro


def report(conf: dict[str, Confusion], micro: float, per_item: float, n: int) -> str:
    lines = [f"{'topic':<12} {'P':>6} {'R':>6} {'F1':>6}   {'TP':>3} {'FP':>3} {'FN':>3} {'TN':>3}"]
    for t, c in conf.items():
        lines.append(f"{t:<12} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f}   "
                     f"{c.tp:3d} {c.fp:3d} {c.fn:3d} {c.tn:3d}")
    lines.append(f"micro-F1 {micro:.3f} over {n} items; {per_item * 1e6:.0f} us per item")
    for t, c in conf.items():
        if c.wrong:
            lines.append(f"\n{t}: misclassified")
            lines.extend(f"  {w}" for w in c.wrong)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="labelled JSON Lines: title, text, labels")
    ap.add_argument("--topics", default=None, help="taxonomy TOML (default: the packaged one)")
    ap.add_argument("--labels", default=",".join(DEFAULT_TOPICS),
                    help="comma-separated topics to score (default: %(default)s)")
    ap.add_argument("--tagger", default=None,
                    help="module:function (title, text) -> topic names, instead of the rules "
                         "(e.g. the full pipeline run on one item)")
    ap.add_argument("--repeat", type=int, default=1, help="time this many passes over the data")
    args = ap.parse_args(argv)
    with open(args.data, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    if args.tagger:
        tagger = import_tagger(args.tagger)
    else:
        tagger = rules_tagger(load_taxonomy(args.topics))
    topics = [t for t in args.labels.split(",") if t]
    conf, micro, per_item = evaluate(items, tagger, topics)
    for _ in range(args.repeat - 1):
        per_item = min(per_item, evaluate(items, tagger, topics)[2])
    print(report(conf, micro, per_item, len(items)))
    if all("id" in it for it in items):
        predictions = [set(tagger(it.get("title") or "", it.get("text") or "")) for it in items]
        baseline = [keyword_tagger(it.get("title") or "", it.get("text") or "") for it in items]
        print("\n".join(part_lines("tagger", by_part(items, predictions, topics))))
        print("\n".join(part_lines("keywords", by_part(items, baseline, topics))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
