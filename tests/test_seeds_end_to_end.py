"""The seed pages through the whole pipeline: EXPECTED.md's reading of them, field by field."""

from __future__ import annotations

import json
import re

import fastavro
import pytest

import schemas
from tests.support import FIXTURES, SEEDS, read_records, run_newsbeam, seed_key

EXPECTED = json.loads((FIXTURES / "seeds_expected.json").read_text())
SENTENCES = json.loads((FIXTURES / "seed_body_sentences.json").read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    output = tmp_path_factory.mktemp("seeds-out")
    summary = run_newsbeam([str(SEEDS / "*")], output)
    articles = read_records(output, "articles")
    copies = read_records(output, "copies")
    by_seed = {seed_key(r): r for r in articles + copies}
    return summary, articles, copies, read_records(output, "dead_letters"), by_seed


def test_five_pages_give_four_articles_and_one_copy(run):
    summary, articles, copies, dead, _ = run
    assert (len(articles), len(copies), len(dead)) == (EXPECTED["articles"], EXPECTED["copies"], 0)
    assert summary["pages_read"] == 5 and summary["accounted"]
    assert summary["articles_written"] == 4 and summary["syndicated_copies"] == 1


def test_the_copy_points_at_the_complete_reuters_story(run):
    _, articles, copies, _, by_seed = run
    (copy,) = copies
    for copy_key, canonical_key in EXPECTED["copy_of"].items():
        assert seed_key(copy) == copy_key
        syndication = copy["syndicated_from"]
        assert syndication["canonical_id"] == by_seed[canonical_key]["id"]
        assert 0 < syndication["similarity"] <= 1 and syndication["containment"] >= 0.8
    assert all(a["syndicated_from"] is None for a in articles)


@pytest.mark.parametrize("key", sorted(EXPECTED["pages"]))
def test_fields_as_an_editor_reads_them(run, key):
    record, want = run[4][key], EXPECTED["pages"][key]
    assert record["title"] == want["title"]
    assert record["publisher"] == want["publisher"]
    assert record["agency"] == want["agency"]
    assert record["authors"] == want["authors"]
    place = record["dateline"]["place"] if record["dateline"] else None
    assert place == want["dateline_place"]
    published = {k: record["published"][k] for k in ("date", "time", "utc_offset", "certainty")}
    assert published == want["published"]
    assert record["published"]["evidence"]
    if want["published"]["certainty"] == "TIME_WITH_ZONE":
        assert record["published"]["instant"] is not None
    else:
        assert record["published"]["instant"] is None
    if "summary_contains" in want:
        assert want["summary_contains"] in (record["summary"] or "")
    assert record["language"] == "en"


@pytest.mark.parametrize("key", sorted(EXPECTED["pages"]))
def test_relative_days_are_pinned(run, key):
    mentioned = run[4][key]["mentioned_days"]
    for word, date in EXPECTED["pages"][key]["mentioned_days"]:
        assert any(word in m["phrase"] and m["date"] == date for m in mentioned), (word, mentioned)


@pytest.mark.parametrize("key", sorted(EXPECTED["pages"]))
def test_boilerplate_is_gone(run, key):
    text, want = run[4][key]["text"], EXPECTED["pages"][key]
    for snippet in want["absent"]:
        assert snippet not in text, snippet
    for fragment in want.get("absent_at_end", []):
        assert not text.rstrip().endswith(fragment)


@pytest.mark.parametrize("key", sorted(SENTENCES))
def test_every_body_sentence_survives(run, key):
    text = re.sub(r"\s+", " ", run[4][key]["text"])
    missing = [s for s in SENTENCES[key] if re.sub(r"\s+", " ", s) not in text]
    assert not missing


@pytest.mark.parametrize("key", sorted(EXPECTED["pages"]))
def test_topics_are_the_subject_not_every_word(run, key):
    record = run[4][key]
    scores = record["topic_scores"]
    for topic in EXPECTED["topics_primary"]:
        assert topic in record["topics"]
        assert scores[EXPECTED["topic_weaker"]] < scores[topic]
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert set(record["topic_reasons"]) == set(record["topics"])


def test_every_record_validates_against_its_schema(run):
    _, articles, copies, dead, _ = run
    article_schema = schemas.parsed("article")
    for record in articles + copies:
        assert fastavro.validation.validate(record, article_schema, raise_errors=True)
    for record in dead:
        assert fastavro.validation.validate(record, schemas.parsed("dead_letter"))


def test_ids_are_stable_across_runs(run, tmp_path):
    again = run_newsbeam([str(SEEDS / "004*"), str(SEEDS / "000*")], tmp_path)
    assert again["pages_read"] == 2
    ids = {seed_key(r): r["id"] for r in read_records(tmp_path, "articles")}
    assert ids == {"000": run[4]["000"]["id"], "004": run[4]["004"]["id"]}
