"""Scale benchmark: DetectSyndication on N synthetic articles with known copies (DirectRunner)."""

from __future__ import annotations

import argparse
import logging
import pickle
import resource
import time

import numpy as np
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from tests.benchmarks.dedup import run_syndication
from transforms import dedup
from transforms.records import DAY, Article, Published

ORIGINAL_WORDS = (150, 450)  # length range of an original story, in words
COPY_SHARE = 0.20  # re-prefixed, lightly edited copies
TRUNCATED_SHARE = 0.10  # copies cut to 30-70% and given a site's tail
ARTICLES_PER_DAY = 2_000  # event-time rate: sets how many articles the streaming TTL holds
SEED = 7


def _vocabulary(rng: np.random.Generator, size: int = 30_000) -> np.ndarray:
    syllables = np.array(["ka", "lo", "mi", "ren", "sa", "tor", "vu", "del", "an", "ex", "ri",
                          "po", "sti", "gal", "mun", "ve", "zo", "har", "qui", "bel"])
    parts = rng.integers(0, len(syllables), size=(size, 3))
    lengths = rng.integers(1, 4, size=size)
    return np.array(["".join(syllables[p[:n]]) for p, n in zip(parts, lengths, strict=True)])


def generate(n: int, seed: int = SEED) -> tuple[list[tuple[Article, int]], dict[str, str]]:
    """(article, event time in s) pairs and the truth: copy id -> original id."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary(rng)
    # Zipf-like word frequencies, as in real text: common words shared by all stories.
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    n_copies = int(n * COPY_SHARE)
    n_truncated = int(n * TRUNCATED_SHARE)
    n_originals = n - n_copies - n_truncated
    originals: list[tuple[Article, int, list[str]]] = []
    out: list[tuple[Article, int]] = []
    truth: dict[str, str] = {}
    t0 = 1_750_000_000
    for i in range(n_originals):
        words = list(vocab[rng.choice(len(vocab), size=rng.integers(*ORIGINAL_WORDS), p=weights)])
        when = t0 + int(i * 86_400 * (n / n_originals) / ARTICLES_PER_DAY)
        day = time.strftime("%Y-%m-%d", time.gmtime(when))
        a = Article(id=f"o{i:07d}", source="synthetic", kind="text", url=None,
                    title=" ".join(words[:6]), text=" ".join(words), agency="Reuters",
                    published=Published(day, None, None, None, DAY, "synthetic"))
        originals.append((a, when, words))
        out.append((a, when))
    for j in range(n_copies + n_truncated):
        src, when, words = originals[int(rng.integers(len(originals)))]
        words = list(words)
        if j < n_copies:
            # Light edits: a new first line, a few words changed.
            for pos in rng.integers(0, len(words), size=max(1, len(words) // 50)):
                words[pos] = str(vocab[rng.integers(len(vocab))])
            text = "SEOUL (Reuters) - " + " ".join(words)
        else:
            cut = int(len(words) * rng.uniform(0.3, 0.7))
            text = " ".join(words[:cut]) + " Read more on example.com"
        delay = int(rng.integers(0, 2 * 86_400))  # copies follow within two days
        day = time.strftime("%Y-%m-%d", time.gmtime(when + delay))
        cid = f"c{j:07d}"
        out.append((Article(id=cid, source="synthetic", kind="text", url=None, title=src.title,
                            text=text, published=Published(day, None, None, None, DAY, "s")),
                    when + delay))
        truth[cid] = src.id
    return out, truth


def run(n: int, streaming: bool) -> None:
    items, truth = generate(n)
    options = PipelineOptions([], runner="DirectRunner")
    options.view_as(StandardOptions).streaming = streaming
    start = time.perf_counter()
    # CPU time as well as wall time: the machine may be shared.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    pairs, result = run_syndication(sorted(items, key=lambda x: x[1]), options)
    canonical = dict(pairs)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    peak_mb = usage.ru_maxrss / 1024

    root = {k: v for k, v in canonical.items()}
    story = {a.id: truth.get(a.id, a.id) for a, _ in items}
    predicted = {k for k, v in root.items() if v != k}
    correct = {k for k in predicted if story[k] == story[root[k]]}
    true_copies = set(truth)
    # A copy counts as found when it ends in its original's story.
    found = {k for k in true_copies if story[root[k]] == story[k]}
    print(f"mode={'streaming' if streaming else 'batch'} N={n} lost={len(items) - len(canonical)}")
    print(f"time_s={elapsed:.1f} ms_per_article={1000 * elapsed / n:.3f} "
          f"cpu_ms_per_article={1000 * cpu / n:.3f} peak_rss_mb={peak_mb:.0f}")
    print(f"copies_true={len(true_copies)} predicted={len(predicted)} "
          f"precision={len(correct) / max(1, len(predicted)):.4f} "
          f"recall={len(found) / max(1, len(true_copies)):.4f}")
    trunc = {k for k in true_copies if int(k[1:]) >= int(n * COPY_SHARE)}
    print(f"truncated_recall={len(trunc & found) / max(1, len(trunc)):.4f}")
    if streaming:
        dists = result.metrics().query(
            MetricsFilter().with_name("syndication_state_entries"))["distributions"]
        if dists:
            d = dists[0].committed
            print(f"state_entries_measured: max={d.max} mean={d.mean:.0f} (canonicals in state, "
                  f"seen after each article)")
        entry = _entry_bytes(items[0][0])
        held = int(ARTICLES_PER_DAY * (1 - COPY_SHARE - TRUNCATED_SHARE)
                   * (7 + dedup.SWEEP_DAYS + 1))
        print(f"state_bound: canonicals within TTL+sweep ~{held} entries x ~{entry} B "
              f"= ~{held * entry / 2**20:.0f} MiB (independent of N)")


def _entry_bytes(a: Article) -> int:
    s = dedup.summarise(a)
    entry = dedup._Entry(s.id, 0, 0, s.agency, s.day, s.rank, s.shingles.tobytes(),
                         tuple(sorted(s.title_words)), s.bands)
    return len(pickle.dumps(("entry", entry)))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, force=True)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--streaming", action="store_true")
    args = ap.parse_args()
    run(args.n, args.streaming)


if __name__ == "__main__":
    main()
