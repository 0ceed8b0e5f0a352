"""Tests of syndication detection: pure functions and the batch composite."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

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
    bucket_pairs,
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
            date: str | None = "2025-06-03", agency: str | None = None,
            source_name: str | None = None, **kw) -> Article:
    return Article(
        id=id_, source=f"test/{source_name or id_}", kind="text", url=None, title=title, text=body,
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


CJK = json.loads((Path(__file__).parent / "fixtures" / "syndication_cjk.json").read_text("utf-8"))
# Pinned when the bigram reading was introduced: a change here changes every CJK band key.
PINNED_ZH = (44, 42, [21925619, 449018194, 694444482], "0:0691c0a0087352b1",
             "31:004de77b01166945")
# Site tails a republisher adds after a cut-down copy, per language.
CJK_TAILS = {"ja": "続きは会員登録をしてお読みいただけます。", "ko": "기사 전문은 홈페이지에서 볼 수 있습니다.",
             "zh": "阅读全文请访问本网站。"}


def cjk_story(lang: str, name: str, id_: str | None = None, keep: int | None = None,
              cut: float = 0.5) -> Article:
    """A story of the CJK fixture; with ``keep``, a copy cut after that many paragraphs and
    ``cut`` of the next, with the site's tail."""
    story = CJK[lang][name]
    paragraphs = story["paragraphs"]
    if keep is not None:
        nxt = paragraphs[keep]
        paragraphs = [*paragraphs[:keep], nxt[: int(len(nxt) * cut)], CJK_TAILS[lang]]
    return article(id_ or f"{lang}-{name}", text(paragraphs), title=story["title"],
                   date="2025-06-25")


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


def test_signature_values_are_pinned_for_unspaced_scripts():
    # Chinese, Japanese and Korean are read as character bigrams (3-shingles of them are
    # 4-character windows); these values pin that reading across workers and runs.
    story = CJK["zh"]["missile"]["paragraphs"][0]
    words = normalise_words(story)
    assert words[:4] == ["据韩", "韩国", "国联", "联合"]
    sh = shingles(words)
    keys = band_keys(minhash(sh))
    assert (len(words), sh.size, sh[:3].tolist()) == PINNED_ZH[:3]
    assert (keys[0], keys[-1]) == PINNED_ZH[3:]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("북한이 동해상으로", ["북한", "한이", "동해", "해상", "상으", "으로"]),
        ("北朝鮮は２５日", ["北朝", "朝鮮", "鮮は", "25", "日"]),  # full-width digits folded
        ("Ｎｏｒｔｈ Korea", ["north", "korea"]),
        ("café naïve İstanbul", ["café", "naïve", "i̇stanbul"]),
        ("हिन्दी समाचार", ["हिन्दी", "समाचार"]),  # vowel signs stay inside the word
        ("한 中 a", ["한", "中", "a"]),
    ],
)
def test_words_in_every_script(raw, expected):
    assert normalise_words(raw) == expected


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


@pytest.mark.parametrize("lang", ["ja", "ko", "zh"])
def test_different_stories_in_one_script_are_not_merged(lang):
    # Three stories of one desk (missiles, abductions, a summit), sharing a background
    # sentence, names and figures: before shingles covered every script, a Korean page
    # was only its e-mail address and digits, and such stories were merged.
    stories = [S(cjk_story(lang, name)) for name in ("missile", "abductions", "summit")]
    for a, b in itertools.combinations(stories, 2):
        assert not is_same_story(a, b), (a.id, b.id, compare(a, b))


@pytest.mark.parametrize("lang", ["ja", "ko", "zh"])
@pytest.mark.parametrize("name", ["missile", "abductions", "summit"])
@pytest.mark.parametrize("keep, cut", [(1, 0.3), (1, 0.8), (2, 0.5), (3, 0.9)])
def test_truncated_copies_in_one_script_are_found(lang, name, keep, cut):
    original = S(cjk_story(lang, name))
    copy = S(cjk_story(lang, name, id_="copy", keep=keep, cut=cut))
    if (keep, cut) != (1, 0.3):
        # An LSH candidate. (A copy of a third of the story, Jaccard ~0.3, is one with
        # probability ~0.95, not always: 32 bands of 2 rows.)
        assert set(original.bands) & set(copy.bands)
    assert is_same_story(copy, original), compare(copy, original)
    others = [S(cjk_story(lang, n)) for n in ("missile", "abductions", "summit") if n != name]
    assert not any(is_same_story(copy, other) for other in others)


def test_a_translation_is_not_a_copy():
    ja, zh = S(cjk_story("ja", "abductions")), S(cjk_story("zh", "abductions"))
    assert not is_same_story(ja, zh)


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


def test_batch_in_japanese_korean_and_chinese():
    items, expected_copies = [], set()
    for lang in ("ja", "ko", "zh"):
        for name in ("missile", "abductions", "summit"):
            items.append(cjk_story(lang, name))
        items.append(cjk_story(lang, "missile", id_=f"{lang}-missile-cut", keep=2))
        items.append(cjk_story(lang, "summit", id_=f"{lang}-summit-cut", keep=1, cut=0.8))
        expected_copies |= {(f"{lang}-missile-cut", f"{lang}-missile"),
                            (f"{lang}-summit-cut", f"{lang}-summit")}
    expected_articles = {a.id for a in items} - {c for c, _ in expected_copies}
    for order in (items, list(reversed(items))):
        with TestPipeline() as p:
            out = p | beam.Create(order, reshuffle=False) | DetectSyndication()
            assert_that(out[ARTICLES] | "Ids" >> beam.Map(lambda a: a.id),
                        equal_to(sorted(expected_articles)), label="articles")
            assert_that(out[COPIES] | "Links" >> beam.Map(
                lambda a: (a.id, a.syndicated_from.canonical_id)),
                equal_to(sorted(expected_copies)), label="copies")


@pytest.mark.parametrize("order", [0, 1, 2])
def test_batch_byte_identical_pages_are_one_article_and_copies(order):
    # Identical pages under different names share their id (it is the content's):
    # one article (the first source in order) and exact copies of it, in any order.
    same = [replace(ORIGINAL, source=f"test/{name}") for name in ("b.html", "a.html", "c.html")]
    empty = [article("blank", "", title=None, source_name=name) for name in ("x", "y")]
    items = [*same, *empty, INQUIRY, TRUNCATED]
    items = [items[i] for i in list(itertools.permutations(range(len(items))))[order * 997]]
    with TestPipeline() as p:
        out = p | beam.Create(items, reshuffle=False) | DetectSyndication()
        assert_that(out[ARTICLES] | "Ids" >> beam.Map(lambda a: (a.id, a.source)),
                    equal_to([("orig", "test/a.html"), ("blank", "test/x"),
                              ("inquiry", "test/inquiry")]), label="articles")
        assert_that(out[COPIES] | "Links" >> beam.Map(
            lambda a: (a.id, a.source, a.syndicated_from.canonical_id,
                       a.syndicated_from.similarity, a.syndicated_from.containment)),
            equal_to([("orig", "test/b.html", "orig", 1.0, 1.0),
                      ("orig", "test/c.html", "orig", 1.0, 1.0),
                      ("blank", "test/y", "blank", 1.0, 1.0),
                      ("trunc", "test/trunc", "orig", *_figures(TRUNCATED, ORIGINAL))]),
            label="copies")


def _figures(copy: Article, canonical: Article) -> tuple[float, float]:
    synd = dedup.syndication(S(copy), S(canonical))
    return synd.similarity, synd.containment


def _entries(*members: tuple[int, tuple, int]) -> bytes:
    """Packed band entries (band value, rank, id hash)."""
    return b"".join(dedup._ENTRY.pack(value, dedup._packed_rank(rank), key)
                    for value, rank, key in members)


def test_bucket_pairs_pair_each_member_with_the_better_ranked_ones():
    early, late, undated = (0, 10, 5, -100, "x"), (0, 11, 0, -900, "x"), (1, 0, 0, -50, "x")
    entries = _entries((7, late, 1), (9, early, 2), (7, undated, 3), (7, early, 4), (9, late, 2))
    # Bucket 7 in rank order: 4 (early), 1 (late), 3 (undated); bucket 9: one id twice.
    assert sorted(bucket_pairs(entries)) == [(1, 4), (3, 1), (3, 4)]
    assert list(bucket_pairs(b"")) == []


def test_bucket_pairs_stay_linear_in_a_crowded_bucket():
    n = 200
    entries = _entries(*[(1, (0, 10, 0, -i, "x"), i) for i in range(n)])
    pairs = list(bucket_pairs(entries))
    assert len(pairs) == sum(min(i, dedup.MAX_BUCKET_COMPARE) for i in range(n))
    # More words rank better: each member meets only the best-ranked (longest) ones.
    assert all(better >= n - dedup.MAX_BUCKET_COMPARE and better > worse
               for worse, better in pairs)


def test_packed_rank_keeps_the_rank_order():
    ranks = [(0, 5, -(2**40), -10, "a"), (0, 5, 0, -10, "a"), (0, 5, 0, -3, "a"),
             (0, 5, dedup._UNKNOWN_TIME, -500, "a"), (0, 6, 0, 0, "a"), (1, 0, 0, -7, "a")]
    assert sorted(ranks, key=dedup._packed_rank) == ranks
