"""Tests of syndication detection: pure functions and the batch composite."""

from __future__ import annotations

import itertools
from dataclasses import replace

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms import dedup
from transforms.dedup import (
    ARTICLES,
    COPIES,
    DetectSyndication,
    band_keys,
    compare,
    is_same_story,
    minhash,
    normalise_words,
    rank_key,
    shingles,
    summarise,
)
from transforms.records import DAY, TIME_WITH_ZONE, Article, Published

# Invented news-like paragraphs (not taken from any real article).
FERRY = [
    "The island ferry operator Marlow Lines suspended all crossings to Kestrel Island on "
    "Tuesday after inspectors found cracks in the hull of its largest vessel, stranding "
    "hundreds of commuters on the mainland during the busiest week of the harvest season.",
    "\u201cWe will not put a single passenger on a boat we cannot vouch for,\u201d chief "
    "executive Dana Orsk told reporters at the harbour office, adding that a replacement "
    "vessel had been chartered from a northern shipyard and could arrive within ten days.",
    "The regional transport board said it would run two extra bus services a day to the "
    "southern causeway, although the detour adds almost three hours to a journey that "
    "normally takes forty minutes by sea.",
    "Fishermen on the island said the suspension had left them unable to send their catch "
    "to the wholesale market in Port Ainsley, where prices for cod and haddock rose sharply "
    "on Tuesday afternoon as supplies thinned.",
    "Marlow Lines, which carries roughly two thousand passengers a day in the summer, was "
    "fined last year after a steering failure forced one of its boats to turn back in "
    "heavy fog with ninety people on board.",
    "The company said refunds would be paid automatically to anyone holding a ticket for a "
    "cancelled crossing, and that season pass holders would receive a month of free travel "
    "once the service resumes.",
]
# A later, different story on the same thread: new reporting plus two of the
# background paragraphs above.
FERRY_INQUIRY = [
    "Kestrel Island's council voted on Thursday to open a public inquiry into the safety "
    "record of Marlow Lines, citing a string of breakdowns and complaints from residents "
    "about cancelled crossings over the past three winters.",
    "Council leader Ibrahim Tolle said the inquiry would hear evidence from crew members, "
    "passengers and the maritime inspectorate, and would report before the start of next "
    "year's tourist season with recommendations on the ferry contract.",
    "Opposition councillors said the inquiry did not go far enough and called for the "
    "contract to be put out to tender again, arguing that the island had depended on a "
    "single operator for too long.",
    FERRY[4],
    FERRY[3],
]
# Substantial new reporting added to the whole of FERRY a day later.
FERRY_UPDATE_EXTRA = [
    "By Wednesday evening the harbour authority had impounded a second Marlow Lines vessel "
    "after divers reported corrosion on its propeller shaft, leaving the company without a "
    "single boat able to sail before the end of the month.",
    "Emergency planners opened a reception centre in the island's school gymnasium for "
    "travellers who could not reach their homes, and the regional health service flew two "
    "dialysis patients to the mainland by helicopter.",
    "The transport minister, Leontine Varga, said she had ordered a review of every ferry "
    "licence in the region and would meet the chief executive on Friday to demand a "
    "written recovery plan with dates for each vessel.",
    "Local traders estimated that the island had lost the equivalent of a week's tourist "
    "income, and the chamber of commerce asked the government for an emergency grant to "
    "cover wages at hotels and restaurants that had closed.",
    "Union representatives for the ferry crews said their members had raised concerns about "
    "maintenance schedules in a letter to the company in the spring and had never received "
    "a reply, a claim the company denied on Wednesday.",
    "A spokesperson for the inspectorate said the cracks found on Tuesday were at least "
    "several months old and should have been spotted at the vessel's last annual survey, "
    "which was carried out by a contractor chosen by the company.",
    "The harbour master said the two impounded boats would be lifted out of the water next "
    "week for a full structural survey that could take until the middle of next month.",
]
SHORT_A = (
    "Shares in the bicycle maker Velotrak fell 12 percent on Monday after the company cut its "
    "annual sales forecast, blaming a wet spring in its main European markets."
)
SHORT_A_EDIT = (
    "Shares in bicycle maker Velotrak fell 12 percent on Monday after it cut its annual sales "
    "forecast, blaming a wet spring in its main European markets and weak orders."
)
STOCK_LINE = (
    "Our newsroom brings you the latest technology headlines every weekday, with analysis from "
    "our editors and the stories that matter to IT managers across the region."
)


def text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def published(date: str, instant_ms: int | None = None) -> Published:
    if instant_ms is None:
        return Published(date, None, None, None, DAY, "test")
    return Published(date, "09:00", "+00:00", instant_ms, TIME_WITH_ZONE, "test")


def article(id_: str, body: str, title: str | None = "Ferry crossings to Kestrel Island halted",
            date: str | None = "2025-06-03", agency: str | None = None, **kw) -> Article:
    return Article(
        id=id_, source=f"test/{id_}", kind="text", url=None, title=title, text=body,
        agency=agency, published=published(date) if date else None, **kw,
    )


ORIGINAL = article("orig", text(FERRY), agency="Reuters")
TRUNCATED = article("trunc", text(FERRY[:3]) + "\n\nRead more on islandnews.example",
                    date="2025-06-04")
REPREFIXED = article(
    "prefixed", "Reuters - " + text(FERRY).replace("\u201c", '"').replace("\u201d", '"'),
    title="Kestrel Island ferry crossings suspended", date="2025-06-03")
INQUIRY = article("inquiry", text(FERRY_INQUIRY), title="Council opens inquiry into Marlow Lines",
                  date="2025-06-05")
UPDATE = article("update", text(FERRY + FERRY_UPDATE_EXTRA),
                 title="Second Marlow Lines ferry impounded", date="2025-06-04")
RESAVE = article("resave", text(FERRY), agency="Reuters")
UNRELATED = article("velotrak", SHORT_A, title="Velotrak shares fall on forecast cut")


def S(a: Article):  # noqa: N802 - short name for a summary in parametrised cases
    return summarise(a)


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    "raw, expected_start",
    [
        ("SEOUL (Reuters) - North Korea said", ["north", "korea", "said"]),
        ("Reuters - North Korea said", ["north", "korea", "said"]),
        ("SEOUL \u2014 North Korea said", ["north", "korea", "said"]),
        ("MANHATTAN, Kan. -- Paul threw", ["paul", "threw"]),
        ("Japan\u2019s \u201cpolicy\u201d", ["japan", "policy"]),
        ("Japan #39;s policy", ["japan", "policy"]),
        ("The U.S. economy", ["the", "u", "s", "economy"]),  # not a dateline
    ],
)
def test_normalise_words_folds_datelines_and_quotes(raw, expected_start):
    assert normalise_words(raw)[: len(expected_start)] == expected_start


def test_shingles_are_stable_and_order_sensitive():
    a = shingles(["north", "korea", "rules", "out"])
    assert a.dtype == np.uint32 and a.size == 2
    assert np.array_equal(a, shingles(["north", "korea", "rules", "out"]))
    assert not np.array_equal(a, shingles(["korea", "north", "rules", "out"]))
    assert shingles(["one"]).size == 1 and shingles([]).size == 0


def test_band_keys_are_deterministic_and_one_per_band():
    keys = band_keys(minhash(shingles(normalise_words(text(FERRY)))))
    assert len(keys) == dedup.BANDS
    assert keys == band_keys(minhash(shingles(normalise_words(text(FERRY)))))
    assert band_keys(minhash(shingles([]))) == ()


def test_signature_values_are_pinned():
    # Band keys are compared across workers and runs: a faster implementation must
    # give the very same values (these were computed before any optimisation).
    words = normalise_words(text(FERRY))
    sh = shingles(words)
    keys = band_keys(minhash(sh))
    assert (len(words), sh.size, sh[:3].tolist()) == (223, 221, [10183401, 71177534, 79522504])
    assert keys[:2] == ("0:005d3160000f855b", "1:01c2e37f012650f0")
    assert keys[-1] == "31:01d8cc0800142277"


@pytest.mark.parametrize(
    "body",
    [
        text(FERRY),
        "Japan&#39;s “café” <b>naïve</b> quot;U.S.quot; `x´ İstanbul ß",
        "SEOUL (Reuters) - North Korea\u2019s #39;s test \\ of a missile\ud800",
        "éé 中文 words",
        "one",
        "",
    ],
)
def test_summary_is_the_shingles_of_the_normalised_words(body):
    s = summarise(article("x", body))
    words = normalise_words(body)
    assert np.array_equal(s.shingles, shingles(words)) and s.shingles.dtype == np.uint32
    assert s.bands == band_keys(minhash(shingles(words)))
    assert s.rank == rank_key(article("x", body))


def test_truncated_copy_collides_in_some_band():
    # The point of narrow bands: a copy cut to half shares a band key.
    assert set(S(ORIGINAL).bands) & set(S(TRUNCATED).bands)


@pytest.mark.parametrize(
    "a, b, same",
    [
        pytest.param(ORIGINAL, TRUNCATED, True, id="truncated-copy"),
        pytest.param(ORIGINAL, REPREFIXED, True, id="re-prefixed-copy"),
        pytest.param(ORIGINAL, RESAVE, True, id="exact-resave"),
        pytest.param(ORIGINAL, INQUIRY, False, id="different-story-shared-background"),
        pytest.param(ORIGINAL, UPDATE, False, id="update-with-substantial-new-reporting"),
        pytest.param(ORIGINAL, UNRELATED, False, id="unrelated"),
        pytest.param(
            article("s1", SHORT_A, title="Velotrak cuts forecast"),
            article("s2", SHORT_A_EDIT, title="Velotrak shares slide"),
            True, id="short-lightly-edited"),
        pytest.param(
            article("b1", STOCK_LINE, title="Antivirus makers race to patch image flaw"),
            article("b2", STOCK_LINE, title="Chip shortage delays laptop launches"),
            False, id="short-stock-paragraph-unrelated-headlines"),
        pytest.param(
            article("old", text(FERRY), date="2025-05-30"),
            article("new", text(FERRY[:5] + FERRY_UPDATE_EXTRA[3:4]), date="2025-06-03"),
            True, id="close-dates-edited"),
        pytest.param(
            article("old", text(FERRY), date="2019-01-10"),
            article("new", text(FERRY[:5] + FERRY_UPDATE_EXTRA[3:4]), date="2025-06-03"),
            False, id="far-apart-dates-edited"),
        pytest.param(
            article("old", text(FERRY), date="2019-01-10"),
            article("new", text(FERRY), date="2025-06-03"),
            True, id="far-apart-dates-verbatim"),
    ],
)
def test_is_same_story(a, b, same):
    assert is_same_story(S(a), S(b)) is same
    assert is_same_story(S(b), S(a)) is same


def test_compare_measures_containment_of_the_smaller():
    sim, cont = compare(S(ORIGINAL), S(TRUNCATED))
    assert cont > 0.9 and sim < 0.6
    assert compare(S(ORIGINAL), S(RESAVE)) == (1.0, 1.0)
    assert compare(S(ORIGINAL), summarise(article("empty", ""))) == (0.0, 0.0)


def test_update_published_first_is_not_split_off():
    # The longer text published first is the original; the shorter later one a cut-down copy.
    first = replace(UPDATE, id="long-first", published=published("2025-06-02"))
    assert is_same_story(S(first), S(ORIGINAL))


def test_rank_key_earliest_then_longest_then_id():
    early = article("z", "short text here", date="2025-06-01")
    late_long = article("a", text(FERRY), date="2025-06-02")
    assert rank_key(early) < rank_key(late_long)
    assert rank_key(ORIGINAL) < rank_key(article("x", text(FERRY[:2])))  # same day, longer wins
    assert rank_key(ORIGINAL) < rank_key(replace(ORIGINAL, id="orig2"))  # then the id
    timed = replace(ORIGINAL, id="timed", published=published("2025-06-03", 1748941200000))
    assert rank_key(timed) < rank_key(ORIGINAL)  # a stated time beats day-only on that day
    assert rank_key(ORIGINAL) < rank_key(article("undated", text(FERRY), date=None))


# --------------------------------------------------------------------------- batch

SET = [ORIGINAL, TRUNCATED, REPREFIXED, INQUIRY, UPDATE, UNRELATED]
EXPECTED_COPIES = {
    ("trunc", "orig", "Reuters"),
    ("prefixed", "orig", "Reuters"),
}
EXPECTED_ARTICLES = {"orig", "inquiry", "update", "velotrak"}


def _copy_view(a: Article):
    return (a.id, a.syndicated_from.canonical_id, a.agency)


def _run_batch(items: list[Article]):
    with TestPipeline() as p:
        out = p | beam.Create(items, reshuffle=False) | DetectSyndication()
        assert_that(out[ARTICLES] | "ArticleIds" >> beam.Map(lambda a: (a.id, a.syndicated_from)),
                    equal_to([(i, None) for i in EXPECTED_ARTICLES]), label="articles")
        assert_that(out[COPIES] | "CopyView" >> beam.Map(_copy_view),
                    equal_to(sorted(EXPECTED_COPIES)), label="copies")


@pytest.mark.parametrize("order", [0, 1, 2])
def test_batch_same_result_whatever_the_order(order):
    perms = list(itertools.permutations(range(len(SET))))
    items = [SET[i] for i in perms[order * 311 % len(perms)]]
    if order == 2:
        items = list(reversed(SET))
    _run_batch(items)


def test_batch_copy_figures_and_counter():
    p = TestPipeline()
    out = p | beam.Create([TRUNCATED, ORIGINAL, INQUIRY]) | DetectSyndication()

    def check(copies):
        (copy,) = copies
        s = copy.syndicated_from
        assert (copy.id, s.canonical_id, copy.agency) == ("trunc", "orig", "Reuters")
        assert s.containment > 0.9 and 0.3 < s.similarity < 0.7

    assert_that(out[COPIES], check, label="figures")
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(
        beam.metrics.MetricsFilter().with_name("syndicated_copies"))["counters"]
    assert sum(c.committed for c in counters) == 1


def test_batch_chain_of_updates_resolves_to_one_canonical():
    # v1 <- v2 <- v3: each version edits the previous; v3 need not match v1 directly.
    v1 = article("v1", text(FERRY), date="2025-06-03")
    v2 = article("v2", text(FERRY[:5] + [FERRY_UPDATE_EXTRA[0]]), date="2025-06-04")
    v3 = article("v3", text(FERRY[1:5] + FERRY_UPDATE_EXTRA[:2]), date="2025-06-05")
    with TestPipeline() as p:
        out = p | beam.Create([v3, v1, v2]) | DetectSyndication()
        assert_that(out[ARTICLES] | "Ids" >> beam.Map(lambda a: a.id), equal_to(["v1"]),
                    label="one canonical")
        copies = out[COPIES] | "View" >> beam.Map(lambda a: (a.id, a.syndicated_from.canonical_id))
        assert_that(copies, equal_to([("v2", "v1"), ("v3", "v1")]), label="copies")


def test_transform_rejects_bad_ttl():
    with pytest.raises(ValueError):
        DetectSyndication(streaming=True, ttl_days=0)
