"""Tests of topic tagging: taxonomy loading, scoring rules, seeds, and the Beam composite."""

from __future__ import annotations

import dataclasses
import math
from importlib import resources
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.benchmarks.topics import evaluate
from transforms.failures import DEAD_LETTERS, MAIN, METRICS_NAMESPACE
from transforms.records import KIND_TEXT, Article
from transforms.topics import (
    TagTopics,
    TaxonomyError,
    _found_phrases,
    _later_words,
    _Reader,
    _Vocab,
    load_taxonomy,
    score_topics,
    tag_article,
)

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
FILLER = "The weather in the capital was mild and markets were calm on the day."


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def topics_of(tax, title, text, summary=None):
    hits, scores = score_topics(tax, title, summary, text)
    return {h.topic for h in hits}, scores, hits


# ---------------------------------------------------------------- shortcuts that must not change results


@pytest.mark.parametrize(
    "phrase, text",
    [
        ("abduct*", "the abducted girl"),
        ("abduct*", "mabducted"),  # not at a word start
        ("abduct*", "mabduct and abduction"),  # the second occurrence counts
        ("n korea*", "n. korea and n.korean"),
        ("u.s.", "the us and the u.s."),
        ("six party talks", "six-party talks"),
        ("re:\\bkim\\b", "kim jong un"),
        ("talks", "talkshow"),
    ],
)
def test_found_is_whether_there_are_spans(phrase, text):
    p = _Reader("test").phrase(phrase, 1.0, "test")
    assert p.found(text) == bool(p.spans(text))


@pytest.mark.parametrize(
    "prefix, present",
    [
        ("abduct", True),
        ("abductions", True),
        ("abductionsx", False),
        ("zz", False),
        ("a", True),
        ("korea", True),
        ("kor", True),
        ("b", False),
    ],
)
def test_vocab_finds_words_by_prefix(prefix, present):
    assert _Vocab("korea abductions; abductee.").has_prefix(prefix) is present


def test_anchored_phrases_hold_every_phrase_once(tax):
    texts = [p.text for _, _, group in tax.anchored_phrases for p in group]
    assert len(texts) == len(set(texts))
    every = set()
    for t in tax.topics:
        every |= {p.text for p in (*t.terms, *t.exclusions, *t.context)}
        every |= {p.text for r in t.rules for p in (*r.terms, *r.near)}
    assert set(texts) == every


def _anchor_found(tax, whole: str) -> set[str]:
    """The phrases each phrase's own pattern finds, among those its first word lets through."""
    vocab = _Vocab(whole)
    return {
        p.text
        for anchor, prefix, group in tax.anchored_phrases
        for p in group
        if vocab.may_match(anchor, prefix) and p.found(whole)
    }


@pytest.mark.parametrize(
    "whole",
    [
        "tokyo said the abductee issue and n. korea's missile launch at the summit",
        "japanese citizens abducted by nkorea agents; abduction-victims; nuclear-tests",
        "abducted by n.korea in the korean peninsula; forcibly drafted workers",
        "by the north korean agents of pyongyang's declaration",
    ],
)
def test_found_phrases_are_those_each_phrase_finds(tax, whole):
    # Looking up a phrase's later words first must never drop a phrase that its
    # first word (the anchor) lets through and its pattern finds.
    expected = _anchor_found(tax, whole)
    assert _found_phrases(tax, whole) == expected
    assert "by n korea*" in expected or "nkorea" not in whole


_TAXONOMY_WORDS = sorted(
    {w for p in load_taxonomy().later_words for w in p.replace("*", "").replace("-", " ").split()}
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_TAXONOMY_WORDS),
            st.sampled_from(["", "s", "ed", "x"]),
            st.sampled_from([" ", "-", ". ", ".", "\n", "'s ", ", ", ""]),
        ),
        max_size=12,
    )
)
def test_later_words_never_drop_a_phrase_found(parts):
    tax = load_taxonomy()
    whole = "".join(w + end + sep for w, end, sep in parts)
    expected = _anchor_found(tax, whole)
    assert _found_phrases(tax, whole) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("abduction issue", (("issue", False),)),
        ("abduction case*", (("case", True),)),
        ("by n korea*", (("n", True),)),  # "by nkorea": an initial may run into the next word
        ("n korea*", ()),
        ("u.s. forces", (("forces", False),)),
        ("the u.s.", ()),
        ("six-party talks", (("party", False), ("talks", False))),
        ("re:by north", ()),
    ],
)
def test_later_words_are_whole_words_of_any_match(text, words):
    assert _later_words(text) == words


# ---------------------------------------------------------------- the packaged taxonomy


def test_packaged_taxonomy_has_the_desk_topics(tax):
    assert {t.name for t in tax.topics} == {"abductions", "summitry", "missiles"}
    assert 0.0 < tax.threshold < 1.0
    assert tax.title_weight > tax.lead_weight > tax.body_start_weight > tax.body_end_weight


# ---------------------------------------------------------------- seeds

# Title as the page writes it, the first body paragraph, and where the body stops
# (boilerplate after it); the capture cleaner proper is another stage's job.
SEEDS = {
    "000": ("North Korea rules out any meetings with Japan", "SEOUL (Reuters)", "(Reporting by"),
    "001": ("N. Korea refuses all contact, including summit, with Japan",
            "North Korea will refuse", None),
    "002": ("North Korea rules out any meetings with Japan", "SEOUL —", "Kim Yo"),
    "003": ("North Korea Says Japan’s PM Offered to Meet Kim Soon", "A summit meeting between",
            "ALSO READ"),
    "004": ("North Korea willing to talk to Japan at 'any time'",
            "North Korea leader Kim Jong-Un has agreed", None),
}


def seed_article(key: str) -> tuple[str, str]:
    title, first, stop = SEEDS[key]
    path = next(SEEDS_DIR.glob(f"{key}_*.txt"))
    paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    start = next(i for i, p in enumerate(paras) if p.startswith(first))
    body = []
    for p in paras[start:]:
        if stop and p.startswith(stop):
            break
        if not p.startswith("[[nid:"):
            body.append(p)
    return title, "\n\n".join(body)


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_seed_is_summitry_and_abductions_with_missiles_weaker(tax, key):
    title, text = seed_article(key)
    tagged, scores, _ = topics_of(tax, title, text)
    assert {"summitry", "abductions"} <= tagged
    assert scores["missiles"] < scores["summitry"]
    assert scores["missiles"] < scores["abductions"]


# ---------------------------------------------------------------- meaning, not words


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    [
        # Wartime Japan's abduction of Koreans is not the abductions topic.
        ("KCNA slams Japan over wartime crimes",
         "North Korea said imperial Japan was guilty of the abduction of Koreans for forced "
         "labour during the war and must apologise.", "abductions"),
        ("North Korea denounces Japan's past",
         "Pyongyang said the Japanese imperialists were forcibly drafting and abducting the "
         "Korean people in the last century.", "abductions"),
        # Fukushima water is not the missiles topic.
        ("North Korea condemns Japan's discharge of Fukushima nuclear-polluted water",
         "North Korea's foreign ministry condemned Japan for releasing nuclear-polluted water "
         "from the Fukushima plant into the sea.", "missiles"),
        # "launched" a campaign is not a launch.
        ("North Korea launched a campaign to boost rice output",
         "North Korea launched a campaign to raise rice production in the countryside.",
         "missiles"),
        # Another country's nuclear arms are not North Korea's programme.
        ("U.S. nuclear commander speaks on command authority",
         "The top American nuclear commander said he would refuse an illegal order to use "
         "nuclear weapons, speaking at a security forum in Canada.", "missiles"),
        # A deserter's story is not about abductions unless it says so.
        ("U.S. Army deserter welcomed in Japan",
         "Villagers on a remote Japanese island welcomed a U.S. Army deserter who had lived "
         "in North Korea, arriving with his Japanese wife and their two daughters.",
         "abductions"),
        # South Korean abductees are not the desk's (Japanese) abductions topic.
        ("Seoul raises issue of South Korean abductees", "", "abductions"),
    ],
)
def test_words_alone_do_not_make_a_topic(tax, title, text, topic):
    tagged, scores, _ = topics_of(tax, title, text)
    assert topic not in tagged
    assert scores[topic] < tax.threshold


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    [
        ("North Korea fires ballistic missile into sea off Japan", "", "missiles"),
        ("Families of Japanese abducted by North Korea meet minister",
         "Relatives of Japanese citizens abducted by North Korean agents in the 1970s urged "
         "Tokyo to bring the abductees home.", "abductions"),
        ("Japan and North Korea hold talks in Beijing",
         "Officials of Japan and North Korea held talks in Beijing, the first dialogue in "
         "years.", "summitry"),
        ("North Korea says it will not hold a summit with Japan",
         "North Korea rejected any dialogue with Japan.", "summitry"),
    ],
)
def test_subject_is_tagged(tax, title, text, topic):
    tagged, scores, _ = topics_of(tax, title, text)
    assert topic in tagged
    assert 0.0 <= scores[topic] <= 1.0


def test_exclusion_is_recorded_as_a_reason(tax):
    title = "North Korea fires missile"
    text = "Japan also launched a campaign on water safety after Fukushima."
    _, _, hits = topics_of(tax, title, text)
    (hit,) = [h for h in hits if h.topic == "missiles"]
    assert any("cancelled by exclusion" in r for r in hit.reasons)


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("North Korea shows new missiles at parade", "North Korea shows no missiles at parade"),
        ("Report on North Korea's nuclear test site",
         "Report on North Korea's non-nuclear test site"),
    ],
)
def test_negation_weakens_a_match(tax, plain, negated):
    _, plain_scores, _ = topics_of(tax, plain, "")
    _, negated_scores, _ = topics_of(tax, negated, "")
    assert negated_scores["missiles"] < plain_scores["missiles"]


WORDS = ["North", "Korea", "missile", "summit", "abductees", "Japanese", "no", "talks",
         "launched", "campaign", "Fukushima", "nuclear", "the", ".", "\n\n", "Pyongyang"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=60), st.lists(st.sampled_from(WORDS), max_size=8))
def test_scores_are_bounded_and_hits_follow_the_threshold(words, title_words):
    tax = load_taxonomy()
    title, text = " ".join(title_words), " ".join(words)
    hits, scores = score_topics(tax, title, None, text)
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert {h.topic for h in hits} == {t for t, s in scores.items() if s >= tax.threshold}
    assert score_topics(tax, title, None, text) == (hits, scores)


# ---------------------------------------------------------------- position weighting


def _long_text(sentence: str, where: str) -> str:
    paras = [f"{FILLER} Officials in Seoul spoke to reporters about North Korea."] * 8
    if where == "lead":
        paras.insert(0, sentence)
    else:
        paras.append(sentence)
    return "\n\n".join(paras)


def test_title_and_lead_count_more_than_the_last_paragraph(tax):
    sentence = "North Korea fired a ballistic missile."
    _, in_title, _ = topics_of(tax, sentence, _long_text(FILLER, "end"))
    _, in_lead, _ = topics_of(tax, "Officials meet", _long_text(sentence, "lead"))
    _, at_end, _ = topics_of(tax, "Officials meet", _long_text(sentence, "end"))
    assert in_title["missiles"] > in_lead["missiles"] > at_end["missiles"]
    assert at_end["missiles"] < tax.threshold <= in_lead["missiles"]


def test_repeating_a_word_saturates(tax):
    _, once, _ = topics_of(tax, "", "North Korea tested a missile.")
    _, many, _ = topics_of(tax, "", " ".join(["North Korea tested a missile."] * 20))
    assert many["missiles"] < 1.0
    assert many["missiles"] - once["missiles"] < 0.6


# ---------------------------------------------------------------- reasons and records


def test_hits_record_terms_rules_and_places(tax):
    hits, scores = score_topics(
        tax,
        "North Korea test-fires ICBM",
        None,
        "Pyongyang said the launch of the intercontinental ballistic missile was a success.",
    )
    (hit,) = [h for h in hits if h.topic == "missiles"]
    assert hit.score == scores["missiles"]
    assert hit.reasons[0].startswith("score ")
    joined = " | ".join(hit.reasons)
    assert "'icbm*'" in joined and "title" in joined
    assert "'missile*'" in joined and "lead" in joined
    assert list(hits) == sorted(hits, key=lambda h: -h.score)


def test_tag_article_sets_topics_and_sorted_scores(tax):
    article = Article(id="a1", source="s", kind=KIND_TEXT, url=None,
                      title="Japan and North Korea hold summit talks",
                      text="They met in Pyongyang.")
    tagged = tag_article(article, tax)
    assert article.topics == () and article.topic_scores == ()
    assert [h.topic for h in tagged.topics] == ["summitry"]
    assert [name for name, _ in tagged.topic_scores] == ["abductions", "missiles", "summitry"]
    assert all(0.0 <= s <= 1.0 for _, s in tagged.topic_scores)
    assert dataclasses.replace(tagged, topics=(), topic_scores=()) == article


def test_summary_counts_as_lead(tax):
    fired = "North Korea fired a missile."
    _, without, _ = topics_of(tax, "", "Markets were calm.\n\n" * 3 + fired)
    _, with_summary, _ = topics_of(tax, "", "Markets were calm.", summary=fired)
    assert with_summary["missiles"] > without["missiles"]


# ---------------------------------------------------------------- editable taxonomy

SANCTIONS = """
[topics.sanctions]
description = "Sanctions on North Korea: UN resolutions, bills, enforcement."
context = ["north korea*", "pyongyang", "dprk"]
context_scope = "article"
off_context_weight = 0.0
terms = { "sanction*" = 1.5, "asset freeze*" = 1.5, "export ban*" = 1.0 }
exclusions = ["sanctioned the event"]

[[topics.sanctions.rules]]
name = "security council resolution"
terms = ["resolution*"]
near = ["security council"]
window = 4
weight = 1.5
"""


def test_desk_adds_a_topic_with_its_own_file(tmp_path):
    packaged = resources.files("transforms").joinpath("data", "topics.toml").read_text("utf-8")
    path = tmp_path / "desk.toml"
    path.write_text(packaged + SANCTIONS, encoding="utf-8")
    tax = load_taxonomy(str(path))
    assert "sanctions" in {t.name for t in tax.topics}
    hits, scores = score_topics(
        tax, "U.N. Security Council votes new sanctions on North Korea", None,
        "The Security Council adopted a resolution imposing an export ban and asset freezes.")
    assert "sanctions" in {h.topic for h in hits}
    assert set(scores) == {"abductions", "missiles", "summitry", "sanctions"}
    # Without North Korea in the article the desk's context rule keeps the tag off.
    _, scores = score_topics(tax, "EU extends sanctions on steel imports", None, "")
    assert scores["sanctions"] == 0.0


def test_tag_topics_uses_a_desk_file(tmp_path):
    packaged = resources.files("transforms").joinpath("data", "topics.toml").read_text("utf-8")
    path = tmp_path / "desk.toml"
    path.write_text(packaged + SANCTIONS, encoding="utf-8")
    article = Article(id="a1", source="s", kind=KIND_TEXT, url=None,
                      title="New sanctions on North Korea", text="")
    with test_pipeline.TestPipeline() as p:
        out = (p | beam.Create([article]) | TagTopics(str(path)))
        names = out[MAIN] | beam.Map(lambda a: tuple(h.topic for h in a.topics))
        assert_that(names, equal_to([("sanctions",)]), label="main")
        assert_that(out[DEAD_LETTERS], equal_to([]), label="dead")


GOOD_TOPIC = '[topics.x]\nterms = { "word" = 1.0 }\n'


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("threshold = 0.5\n[topics.x\n", "not valid TOML"),
        (GOOD_TOPIC, "missing required key 'threshold'"),
        ("threshold = 2\n" + GOOD_TOPIC, "'threshold' = 2"),
        ("threshold = 'high'\n" + GOOD_TOPIC, "'threshold' must be a number"),
        ("threshold = 0.5\n", "at least one topic"),
        ("threshold = 0.5\nthreshhold = 0.4\n" + GOOD_TOPIC, "unknown key(s) ['threshhold']"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"word\" = -1 }\n", "topics.x.terms"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"word\" = 1 }\ncontext_scope = \"page\"\n",
         "'context_scope' must be 'sentence' or 'article'"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"word\" = 1 }\nexclusions = \"fukushima\"\n",
         "'exclusions' must be a list"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"re:(\" = 1 }\n", "bad phrase 're:('"),
        ("threshold = 0.5\n[topics.X]\nterms = { \"word\" = 1 }\n", "topics.X"),
        ("threshold = 0.5\n[topics.x]\ndescription = \"empty\"\n", "needs 'terms' or 'rules'"),
        ("threshold = 0.5\n[topics.x]\n[[topics.x.rules]]\nterms = [\"a\"]\nweight = 1\n",
         "a rule needs 'terms' and 'near'"),
        # Unknown keys inside every table are named, with the table (issue 17).
        ("threshold = 0.5\n[topics.x]\n[[topics.x.rules]]\nterms = [\"a\"]\nnear = [\"b\"]\n"
         "weight = 1\nwindows = 3\n", "topics.x.rules[0]: unknown key(s) ['windows']"),
        ("threshold = 0.5\n[negation]\ncue = [\"no\"]\n" + GOOD_TOPIC,
         "negation: unknown key(s) ['cue']"),
        ("threshold = 0.5\n[positions]\nheadline = 3\n" + GOOD_TOPIC,
         "positions: unknown key(s) ['headline']"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"word\" = 1 }\nbody_only = 0.5\n",
         "topics.x: unknown key(s) ['body_only']"),
        ("threshold = 0.5\n[topics.x]\nterms = { \"word\" = 1 }\nbody_only_weight = 2\n",
         "'body_only_weight' = 2"),
        ("threshold = 0.5\n[topics.x]\ndescription = 3\nterms = { \"word\" = 1 }\n",
         "'description' must be a string"),
        ("extends = \"mine\"\n", "extends: only \"packaged\""),
        ("extends = \"packaged\"\n[topics.missiles]\ncontext_scope = \"page\"\n",
         "topics.missiles: 'context_scope'"),
    ],
)
def test_malformed_taxonomy_names_the_problem(tmp_path, content, needle):
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(str(path))
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_a_desk_file_extends_the_packaged_taxonomy(tmp_path):
    path = tmp_path / "desk.toml"
    path.write_text('extends = "packaged"\nthreshold = 0.6\n' + SANCTIONS
                    + '[topics.missiles]\nterms = { "hwasong*" = 2.0 }\n'
                    + 'exclusions = ["space tourism"]\n', encoding="utf-8")
    tax = load_taxonomy(str(path))
    packaged = load_taxonomy()
    by_name = {t.name: t for t in tax.topics}
    assert set(by_name) == {"abductions", "missiles", "summitry", "sanctions"}
    assert tax.threshold == 0.6
    missiles = {t.name: t for t in packaged.topics}["missiles"]
    # Terms merge phrase by phrase; lists and rules are appended to.
    assert {p.text for p in by_name["missiles"].terms} == (
        {p.text for p in missiles.terms} | {"hwasong*"})
    assert [p.text for p in by_name["missiles"].exclusions] == (
        [p.text for p in missiles.exclusions] + ["space tourism"])
    assert by_name["missiles"].rules == missiles.rules
    assert by_name["abductions"] == {t.name: t for t in packaged.topics}["abductions"]


def test_missing_taxonomy_file_is_a_clear_error(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(str(tmp_path / "nope.toml"))


def test_bad_taxonomy_fails_when_the_pipeline_is_built(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("threshold = 0.5\n", encoding="utf-8")
    with pytest.raises(TaxonomyError):
        TagTopics(str(path))


# ---------------------------------------------------------------- the composite


def test_tag_topics_tags_and_counts():
    articles = [
        Article(id="m", source="m", kind=KIND_TEXT, url=None,
                title="North Korea fires ballistic missile", text="Pyongyang fired a missile."),
        Article(id="n", source="n", kind=KIND_TEXT, url=None,
                title="Rice harvest up", text="Farmers reported a good year."),
    ]
    p = test_pipeline.TestPipeline()
    out = p | beam.Create(articles) | TagTopics()
    pairs = out[MAIN] | beam.Map(lambda a: (a.id, tuple(h.topic for h in a.topics)))
    assert_that(pairs, equal_to([("m", ("missiles",)), ("n", ())]), label="main")
    assert_that(out[DEAD_LETTERS], equal_to([]), label="dead")
    result = p.run()
    result.wait_until_finish()
    counters = result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name("topic_missiles")
    )["counters"]
    assert sum(c.committed for c in counters) == 1


# ---------------------------------------------------------------- the benchmark's arithmetic


def test_benchmark_counts_confusion_and_micro_f1():
    items = [
        {"title": "a", "text": "", "labels": ["missiles"]},
        {"title": "b", "text": "", "labels": []},
        {"title": "c", "text": "", "labels": ["summitry"]},
    ]
    answers = {"a": {"missiles"}, "b": {"missiles"}, "c": set()}
    conf, micro, _ = evaluate(items, lambda title, text: answers[title], ["missiles", "summitry"])
    assert (conf["missiles"].tp, conf["missiles"].fp, conf["missiles"].fn) == (1, 1, 0)
    assert (conf["summitry"].tp, conf["summitry"].fn, conf["summitry"].tn) == (0, 1, 2)
    assert micro == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))


# ---------------------------------------------------------------- reasons a desk can check


def _amount(reason: str) -> float:
    return float(reason.rsplit(": ", 1)[1])


STORIES = [
    ("North Korea fires ballistic missile into sea off Japan",
     "North Korea fired a ballistic missile on Monday, Japan's defence ministry said. "
     "The launch was the third this month. Leaders of Japan and South Korea held talks."),
    ("Families of abductees meet Japan's prime minister",
     "Relatives of Japanese citizens abducted by North Korea in the 1970s met the prime "
     "minister. They urged a summit with Pyongyang on the abduction issue. The North has "
     "tested missiles this year, and its nuclear programme worries Tokyo."),
    ("Senators agree on new sanctions bill",
     "Senators agreed on a sanctions bill on Wednesday. The bill targets banks. "
     "North Korea has tested an intercontinental ballistic missile and a nuclear device, "
     "and its missile programme is advancing, officials said."),
]


@pytest.mark.parametrize(("title", "text"), STORIES[:2])
def test_reasons_add_up_to_the_score(tax, title, text):
    hits, _ = score_topics(tax, title, None, text)
    assert hits
    for hit in hits:
        head, *parts = hit.reasons
        evidence = float(head.split("evidence ")[1].split(" ")[0])
        assert sum(_amount(r) for r in parts) == pytest.approx(evidence, abs=1e-6)
        assert hit.score == pytest.approx(1 - math.exp(-evidence / tax.scale), abs=1e-4)
        # Nothing a tag says speaks against it.
        assert not any("passing" in r or "weaker than" in r for r in hit.reasons)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=60), st.lists(st.sampled_from(WORDS), max_size=8))
def test_no_tag_carries_a_reason_against_it(words, title_words):
    tax = load_taxonomy()
    hits, scores = score_topics(tax, " ".join(title_words), None, " ".join(words))
    for hit in hits:
        head, *parts = hit.reasons
        evidence = float(head.split("evidence ")[1].split(" ")[0])
        assert sum(_amount(r) for r in parts) == pytest.approx(evidence, abs=1e-6)
        assert not any("passing" in r or "weaker than" in r for r in hit.reasons)


def test_a_passing_mention_is_not_tagged_and_scores_below_the_threshold(tax):
    title, text = STORIES[1]
    hits, scores = score_topics(tax, title, None, text)
    tagged = {h.topic for h in hits}
    assert "abductions" in tagged and "missiles" not in tagged
    assert 0.0 < scores["missiles"] < tax.threshold


def test_a_topic_named_only_in_the_body_counts_less(tax):
    title, text = STORIES[2]
    hits, scores = score_topics(tax, title, None, text)
    assert "missiles" not in {h.topic for h in hits}
    lead = score_topics(tax, "North Korea tests missile", None, text)[1]["missiles"]
    assert scores["missiles"] < lead


@pytest.mark.parametrize(
    ("title", "text", "topic"),
    [
        # Japanese: no spaces between words; the phrase sits inside a longer run.
        ("北朝鮮による日本人拉致問題", "拉致被害者の家族が首相と面会した。", "abductions"),
        # Korean: particles glued to the noun ("납치문제를").
        ("북한의 일본인 납치문제", "일본 정부는 납치 피해자 가족을 만났다.", "abductions"),
        ("北朝鮮が弾道ミサイルを発射", "防衛省によると、北朝鮮は日本海に向けてミサイルを発射した。",
         "missiles"),
        ("북한, 탄도미사일 발사", "합동참모본부는 북한이 동해상으로 미사일을 발사했다고 밝혔다.",
         "missiles"),
        ("日朝首脳会談の可能性", "北朝鮮と日本の首脳会談について両政府が協議した。", "summitry"),
    ],
)
def test_phrases_in_scripts_without_spaces(tax, title, text, topic):
    tagged, _, _ = topics_of(tax, title, text)
    assert topic in tagged


def test_an_unspaced_phrase_matches_inside_a_run_of_letters():
    from transforms.topics import compile_phrase

    pattern = compile_phrase("拉致")
    assert pattern.search("日本人拉致問題")
    # A spaced-script phrase still asks for a word boundary.
    assert not compile_phrase("talks").search("talkshow")


# Families of the misses, in text written for this test: abductions by others, other
# states' missiles, others' summits, "launched", Fukushima water, sanctions and drills.
@pytest.mark.parametrize(("title", "text", "want"), [
 ("Japanese tourist kidnapped in Mexico", "Gunmen kidnapped a Japanese tourist near Acapulco on Sunday, police said. Japan's embassy is in contact with local authorities.", set()),
 ("Iran tests new ballistic missile", "Iran test-fired a ballistic missile on Tuesday, state media said, defying U.S. warnings.", set()),
 ("Putin and Xi hold summit in Beijing", "Russian President Vladimir Putin and Chinese leader Xi Jinping held talks in Beijing on Thursday on trade and energy.", set()),
 ("Company launches new phone", "The company launched a new smartphone on Monday with a faster chip.", set()),
 ("Japan begins releasing Fukushima water", "Japan began releasing treated radioactive water from the Fukushima nuclear plant on Thursday.", set()),
 ("UN Security Council adopts new sanctions on North Korea", "The U.N. Security Council unanimously adopted new sanctions on North Korea on Monday, capping exports of refined oil.", set()),
 ("South Korea and US begin joint drills", "South Korea and the United States began annual joint military drills on Monday.", set()),
 ("North Korea fires two short-range missiles", "North Korea fired two short-range ballistic missiles into the sea on Thursday, South Korea's military said.", {"missiles"}),
 ("Kishida seeks summit with Kim Jong Un", "Japanese Prime Minister Fumio Kishida said he wants to meet North Korean leader Kim Jong Un without preconditions.", {"summitry"}),
 ("Families of Japanese abducted by North Korea appeal to UN", "Relatives of Japanese citizens abducted by North Korean agents in the 1970s and 1980s urged the United Nations to press Pyongyang.", {"abductions"}),
 ("North Korea says abduction issue already resolved", "North Korea said on Tuesday the issue of Japanese nationals it abducted decades ago has been settled.", {"abductions"}),
 ("Six-party talks on North Korea's nuclear programme resume", "Envoys from six nations resumed talks in Beijing on ending North Korea's nuclear weapons programme.", {"summitry", "missiles"}),
 ("Pakistan test-fires nuclear-capable missile", "Pakistan successfully test-fired a nuclear-capable ballistic missile on Wednesday, the military said.", set()),
])
def test_families_of_hard_negatives(tax, title, text, want):
    tagged, _, _ = topics_of(tax, title, text)
    assert tagged == want
