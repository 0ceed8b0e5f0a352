"""Capture cleaner and boilerplate rules: seeds, golden captures and single-line rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.boilerplate import clean_capture, clean_paragraphs, drop_reason, split_title
from transforms.records import StageError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = {path.name[:3]: path for path in sorted((ROOT / "seeds").glob("*.txt"))}
GOLDEN = Path(__file__).resolve().parent / "golden"


def seed(name: str):
    return clean_capture(SEEDS[name].read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name, title, authors, publisher",
    [
        ("000", "North Korea rules out any meetings with Japan", ("Hyunsu Yim",), None),
        ("001", "N. Korea refuses all contact, including summit, with Japan", ("Yonhap",),
         "The Korea Herald"),
        ("002", "North Korea rules out any meetings with Japan", (), "Asian-News.net"),
        ("003", "North Korea Says Japan’s PM Offered to Meet Kim Soon", (), "Asian Lite News"),
        ("004", "North Korea willing to talk to Japan at 'any time'", ("WION Web Team",), "WION"),
    ],
)
def test_seed_metadata(name, title, authors, publisher):
    got = seed(name)
    assert got.title == title
    assert got.authors == authors
    assert got.publisher == publisher


@pytest.mark.parametrize(
    "name, kept, dropped",
    [
        ("000",
         ["SEOUL (Reuters) – North Korea has no interest",
          "fresh sanctions from Seoul and Washington."],
         ["By Thomson Reuters", "By Hyunsu Yim", "Reporting by", "Editing by"]),
        ("001",
         ["North Korea will refuse all contact with Japan", "first step for the fresh DPRK-Japan "
          "relations,\" she said. (Yonhap)"],
         ["The Korea Herald", "By Yonhap", "Published :", "Link copied", "(Herald DB)"]),
        ("002",
         ["SEOUL — North Korea has no interest", "Ri was quoted as saying in the KCNA report."],
         ["go-to online destination", "Contacts", "SNOWLAND", "Czech Republic", "[[nid:",
          "Read more on asiaone.com", "Kim Yo\n", "Kim Yo$"]),
        ("003",
         ["A summit meeting between North Korea", "in a fair and equal manner, according to the "
          "KCNA. (ANI)"],
         ["2 mins read", "ALSO READ", "Previous Story", "Next Story", "Latest from", "Rajnath",
          "WAVES 2025", "Supply Chain", "Pakistan Imports", "Kashmir", "Go toTop", "Don't Miss",
          "Almost Full Turnout", "…reports Asian Lite News", "March 25, 2024"]),
        ("004",
         ["North Korea leader Kim Jong-Un has agreed", "long-range missile tests last year."],
         ["ugc_banner", "main img", "File photo", "Photograph:", "Updated:", "WION Web Team"]),
    ],
)
def test_seed_body(name, kept, dropped):
    text = seed(name).text
    for snippet in kept:
        assert snippet in text
    for snippet in dropped:
        if snippet.endswith("$"):
            assert not text.endswith(snippet[:-1])
        else:
            assert snippet not in text


@pytest.mark.parametrize(
    "name, header, credits, summary",
    [
        ("000", ("By Thomson Reuters Mar 29, 2024 | 5:20 AM", "By Hyunsu Yim"),
         ("(Reporting by Hyunsu Yim; Editing by Kirsten Donovan and Kim Coghill)",), None),
        ("001", ("By Yonhap", "Published : March 26, 2024 - 19:20"), (), None),
        ("003", ("March 25, 2024",), (),
         "Japanese Prime Minister Fumio Kishida has expressed his intention to hold a summit "
         "with Kim Jong-un…reports Asian Lite News"),
        ("004", ("WION Web Team", "New Delhi, Delhi, IndiaUpdated: Apr 29, 2018, 04:10 PM IST"),
         (), None),
    ],
)
def test_seed_header_credits_summary(name, header, credits, summary):
    got = seed(name)
    for line in header:
        assert line in got.header
    assert got.credits == credits
    assert got.summary == summary


def _paragraphs(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_body_sentence_survives(name):
    """Each long prose line of the seed between its first and last body sentence is kept."""
    text = seed(name).text
    body = [p for p in _paragraphs(SEEDS[name]) if len(p.split()) >= 12 and p.endswith((".", ")"))
            and "go-to online destination" not in p]
    for paragraph in body:
        assert paragraph in text


@pytest.mark.parametrize(
    "file, kept, dropped, title",
    [
        ("harbour_ferry.txt",
         ["The Saltmarsh Belle carried its first passengers", "an extra evening crossing on "
          "Saturdays from May."],
         ["Share on", "ferry.jpg", "Photograph:", "ADVERTISEMENT", "newsletter", "Reporting by",
          "Related stories", "Quay wall", "Lifeboat crew", "Council votes", "All rights reserved",
          "By Mara"],
         "Harbour ferry returns after winter refit"),
        ("orchard_blog.txt",
         ["Most old apple trees in back gardens", "so the wound closes cleanly."],
         ["go-to online destination", "5 min read", "Posted on", "ALSO READ", "Leave a comment",
          "BUTTON", "Skip to content"],
         "Pruning an old apple tree without losing a season"),
    ],
)
def test_golden_captures(file, kept, dropped, title):
    got = clean_capture((GOLDEN / file).read_text(encoding="utf-8"))
    assert got.title == title
    for snippet in kept:
        assert snippet in got.text
    for snippet in dropped:
        assert snippet not in got.text


def test_golden_capture_metadata():
    ferry = clean_capture((GOLDEN / "harbour_ferry.txt").read_text(encoding="utf-8"))
    assert ferry.authors == ("Mara Lindqvist",)
    assert ferry.publisher == "Coastline Gazette"
    assert "March 14, 2025 | 8:30 AM" in ferry.header
    assert ferry.credits == ("(Reporting by Mara Lindqvist; Editing by Paul Schenk)",)
    blog = clean_capture((GOLDEN / "orchard_blog.txt").read_text(encoding="utf-8"))
    assert blog.publisher == "Orchard Notes"


@pytest.mark.parametrize("text", ["", "\n\n", "   * Home\n   * News\n\n   Menu\n"])
def test_capture_without_body_is_no_article(text):
    with pytest.raises(StageError) as err:
        clean_capture(text)
    assert err.value.reason == "no_article"


@pytest.mark.parametrize(
    "line, reason",
    [
        ("Share this with Facebook", "chrome"),
        ("• Link copied", "chrome"),
        ("Image copyright Getty Images Image caption The minister arrives", "chrome"),
        ("Follow Newsbeat on Instagram, Facebook, Twitter and YouTube.", "chrome"),
        ("Get the latest updates right in your inbox. Subscribe to our newsletters.", "chrome"),
        ("READ MORE: Storm closes the bridge again", "chrome"),
        ("[[nid:12345]]", "chrome"),
        ("Read more on example.com", "chrome"),
        ("(Reporting by Jane Roe; Editing by John Doe)", "credit"),
        ("Jane Roe contributed to this report.", "credit"),
        ("Example News is your go-to online destination for local news.", "blurb"),
        ("The minister said the bridge would reopen on Monday.", None),
        ("Follow-up talks are planned for June, the ministry said.", None),
        ("Share prices rose by 3% after the announcement on Tuesday.", None),
    ],
)
def test_drop_reason(line, reason):
    assert drop_reason(line) == reason


@pytest.mark.parametrize(
    "title, site, host, expected",
    [
        ("Ferry returns | Coastline Gazette", "Coastline Gazette", None, "Ferry returns"),
        ("Ferry returns - BBC News", "BBC News", "bbc.com", "Ferry returns"),
        ("Coastline Gazette :: Ferry returns", "Coastline Gazette", None, "Ferry returns"),
        ("Ferry returns - and why it matters", "Coastline Gazette", None,
         "Ferry returns - and why it matters"),
        (None, "Coastline Gazette", None, None),
        # the site by its address, by part of its og:site_name, by its host's label
        ("Streit ums Brennholz - www.Waldhefte.de", None, None, "Streit ums Brennholz"),
        ("Ferry returns | Coastline", "Coastline Gazette Ltd", None, "Ferry returns"),
        ("Ferry returns | Coastline Gazette", None, "coastlinegazette.example", "Ferry returns"),
        ("Le quai rouvre │ Café Marché", "cafe-marche.example", None, "Le quai rouvre"),
        ("Harbour News|Ferry returns", "Harbour News", None, "Ferry returns"),
        ("渡轮恢复运营-海港日报", "海港日报", None, "渡轮恢复运营"),
        # a date part at either end
        ("12.03.2024 - Ferry returns", None, None, "Ferry returns"),
        # a second half that is not the site stays
        ("Ferry returns - the town celebrates", "Coastline Gazette", None,
         "Ferry returns - the town celebrates"),
        # more separators, and languages: what is kept keeps its own separators
        ("Fähre fährt wieder / Küstenbote", "Küstenbote", None, "Fähre fährt wieder"),
        ("Le ferry reprend : La Gazette du Port", "La Gazette du Port", None, "Le ferry reprend"),
        ("El ferry vuelve ~ Diario del Puerto", "Diario del Puerto", None, "El ferry vuelve"),
        ("Ferry returns | Harbour | Coastline Gazette", "Coastline Gazette", None,
         "Ferry returns | Harbour"),
        ("渡轮恢复运营——海港日报", "海港日报", None, "渡轮恢复运营"),
        ("フェリー再開 ｜ 港新聞", "港新聞", None, "フェリー再開"),
        ("항구 페리 운항 재개-항구일보", "항구일보", None, "항구 페리 운항 재개"),
        # the site's name with its slogan after it; a part of only signs
        ("Fähre fährt wieder | Küstenbote | Jetzt entdecken!", "Küstenbote", None,
         "Fähre fährt wieder"),
        ("Ferry returns » ★★★★★ - Coastline Gazette - News of the coast", "Coastline Gazette",
         None, "Ferry returns"),
        # German umlauts as a web address spells them
        ("Fähre fährt wieder - Süddeutsche Küste", None, "sueddeutsche-kueste.example",
         "Fähre fährt wieder"),
        # a short host name, exactly
        ("Fähre fährt wieder | NZZ", None, "nzz.example", "Fähre fährt wieder"),
    ],
)
def test_split_title(title, site, host, expected):
    assert split_title(title, site, host) == expected


def test_clean_paragraphs_drops_title_teasers_and_credits_and_keeps_lead_and_repeats():
    got = clean_paragraphs(
        [
            "Ferry returns",
            "The ferry is back after four months in dry dock",
            "The ferry carried its first passengers of the season on Friday morning.",
            "DON'T MISS",
            "Quay wall repairs to start in June [NEWS]",
            "The ferry carried its first passengers of the season on Friday morning.",
            "Timetables will be posted at both landing stages next week.",
            "Reporting by Mara Lindqvist; Editing by Paul Schenk",
        ],
        title="Ferry returns",
    )
    # The lead stays; a passage the page repeats stays twice (a quoted document can).
    assert got.paragraphs == (
        "The ferry is back after four months in dry dock",
        "The ferry carried its first passengers of the season on Friday morning.",
        "The ferry carried its first passengers of the season on Friday morning.",
        "Timetables will be posted at both landing stages next week.",
    )
    assert got.credits == ("Reporting by Mara Lindqvist; Editing by Paul Schenk",)


def test_clean_paragraphs_keeps_structure_that_resembles_the_title():
    # A subheading sharing the title's words, and list items, are the article's own.
    got = clean_paragraphs(
        ["Ten tips for a quiet harbour winter",
         "Winter on the harbour is long, and the boats need care before the first storms.",
         "Tips for a quiet harbour winter", "- Drain the engine", "- Cover the deck"],
        title="Ten tips for a quiet harbour winter",
    )
    assert got.paragraphs[1:] == ("Tips for a quiet harbour winter", "- Drain the engine",
                                  "- Cover the deck")


@pytest.mark.parametrize(
    "line",
    ["Teilen mit:", "Wird geladen …", "Kategorie: News", "Zum Newsletter anmelden",
     "Mit unserem Newsletter erhalten Sie monatlich alle Neuigkeiten", "Thanks for signing up!",
     "CLICK HERE TO GET THE APP", "Anzeige - Heute schon bestellt?", "Foto: Agentur",
     "Nächster Artikel", "Schlagwörter: Hafen, Fähre"],
)
def test_named_chrome_in_other_languages_is_dropped(line):
    assert drop_reason(line) is not None


@pytest.mark.parametrize(
    "line",
    ["Die Anzeige wurde am Montag erstattet.", "Click the link in the email to confirm.",
     "The newsletter industry has grown fast in the last two years, analysts say."],
)
def test_article_sentences_near_chrome_words_stay(line):
    assert drop_reason(line) is None


@pytest.mark.parametrize("head", ["Lesen Sie auch:", "À lire aussi", "Le puede interesar",
                                   "Mehr zum Thema", "Explore further"])
def test_related_links_headings_in_other_languages_open_a_teaser_list(head):
    got = clean_paragraphs(["The ferry carried its first passengers of the season on Friday.",
                            head, "Quay wall repairs to start in June",
                            "Timetables will be posted at both landing stages next week."])
    assert got.paragraphs == ("The ferry carried its first passengers of the season on Friday.",
                              "Timetables will be posted at both landing stages next week.")


@pytest.mark.parametrize(
    "text, title, body",
    [
        ("Kim Jong Un inspects new fishing port in Sinpo", "Kim Jong Un inspects new fishing port in Sinpo",
         "Kim Jong Un inspects new fishing port in Sinpo"),
        ("Ferry line to Sado Island resumes service\n\nThe operator said boats would run twice a day "
         "from Monday after repairs", "Ferry line to Sado Island resumes service",
         "The operator said boats would run twice a day from Monday after repairs"),
    ],
)
def test_a_headline_or_brief_alone_is_a_news_item(text, title, body):
    extracted = clean_capture(text)
    assert (extracted.title, extracted.text) == (title, body)


@pytest.mark.parametrize("text", ["Home News Sport", "Page not found", "   * Home\n   * News\n",
                                  "Share this with Facebook"])
def test_short_chrome_is_still_no_article(text):
    with pytest.raises(StageError) as err:
        clean_capture(text)
    assert err.value.reason == "no_article"


def test_an_opening_cut_off_mid_sentence_is_kept():
    text = ("SEOUL, Oct. 3 (Yonhap) -- The ferry operator on the southern coast said on Friday that "
            "it would add two evening crossings from next month after passenger numbers rose by a "
            "third over the summer, while the port authority")
    assert clean_capture(text).text.startswith("SEOUL, Oct. 3 (Yonhap) --")


@pytest.mark.parametrize(
    "capture, title, text",
    [
        ("Defense chief orders anti-hacking measures<br/>&#13;\n"
         "   SEOUL, Oct. 12 (Yonhap) -- The defense minister ordered new measures on Monday.<br/>",
         "Defense chief orders anti-hacking measures",
         "SEOUL, Oct. 12 (Yonhap) -- The defense minister ordered new measures on Monday."),
        ("Talks resume in Seoul<BR>TOKYO (Kyodo) -- Japan &amp; North Korea met on Friday, "
         "officials said.",
         "Talks resume in Seoul",
         "TOKYO (Kyodo) -- Japan & North Korea met on Friday, officials said."),
    ],
)
def test_markup_left_in_a_capture_is_read_as_what_it_stands_for(capture, title, text):
    got = clean_capture(capture)
    assert (got.title, got.text) == (title, text)


def test_text_that_only_looks_like_markup_is_kept():
    got = clean_capture("Results of R&D at AT&T <b> are out\n\n"
                        "The lab said on Tuesday that its R&D budget for 2 < 3 projects grew.")
    assert "R&D budget for 2 < 3 projects grew." in got.text
