"""Extraction stage: golden HTML pages, the time limit, records and the Beam composite."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.extract import (
    ExtractArticles,
    extract_document,
    extract_html,
    page_metadata,
    page_title,
    text_byline,
    to_article,
)
from transforms.failures import DEAD_LETTERS, MAIN
from transforms.html_tree import page_tree
from transforms.records import KIND_HTML, KIND_TEXT, Document, Extracted, StageError

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parent.parent
FETCHED_AT = "2025-03-15T00:00:00+00:00"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def document(content: str, kind: str = KIND_HTML, doc_id: str = "d1") -> Document:
    return Document(id=doc_id, source=f"{doc_id}.src", kind=kind, content=content,
                    size_bytes=len(content), url="https://example.org/a", fetched_at=FETCHED_AT)


@pytest.mark.parametrize(
    "file, kept, dropped",
    [
        ("harbour_ferry.html",
         # the lead stays in the text even where the page's description repeats it
         ["The Saltmarsh Belle carried its first passengers", "the ferry takes eight.",
          "since the eighteen-sixties", "after four months in dry dock"],
         ["Photograph:", "Share this article", "newsletter", "Additional reporting",
          "Quay wall", "All rights reserved", "Home"]),
        ("bakery_prize.html",
         ["Die kleine Bäckerei am Marktplatz", "seit langem wünschen."],
         ["Folgen Sie uns", "Impressum", "Kontakt"]),
    ],
)
def test_golden_html_snippets(file, kept, dropped):
    text = extract_html(golden(file)).text
    for snippet in kept:
        assert snippet in text
    for snippet in dropped:
        assert snippet not in text
    assert "\n\n" in text


def test_golden_html_metadata():
    got = extract_html(golden("harbour_ferry.html"))
    assert got.title == "Harbour ferry returns after winter refit"
    assert got.summary == (
        "The town's only passenger ferry is back on the water after four months in dry dock"
    )
    assert got.authors == ("Mara Lindqvist",)
    assert got.publisher == "Coastline Gazette"
    assert got.language == "en"
    assert got.credits == ("Additional reporting by Paul Schenk.",)
    german = extract_html(golden("bakery_prize.html"))
    assert german.title == "Bäckerei aus dem Ort gewinnt Landespreis"
    assert german.language == "de"


@pytest.mark.parametrize(
    "html",
    ["", "<html><body></body></html>", "<html><body><nav><a href='/'>Home</a></nav></body></html>"],
)
def test_page_without_article_is_no_article(html):
    with pytest.raises(StageError) as err:
        extract_html(html)
    assert err.value.reason == "no_article"


def test_to_article_carries_document_and_extracted_fields():
    doc = document("<html>page</html>")
    extracted = Extracted(title="T", text="Body.", summary="S", authors=("A",), publisher="P",
                          language="en", header=("By A",), credits=("C",))
    article = to_article(doc, extracted)
    assert (article.id, article.source, article.kind, article.url) == (
        "d1", "d1.src", KIND_HTML, "https://example.org/a")
    assert (article.fetched_at, article.size_bytes) == (FETCHED_AT, len("<html>page</html>"))
    assert (article.title, article.text, article.summary) == ("T", "Body.", "S")
    assert (article.authors, article.publisher, article.language) == (("A",), "P", "en")
    assert article.document == "<html>page</html>"
    assert (article.header, article.credits) == (("By A",), ("C",))


def test_extract_document_routes_text_captures_to_the_capture_cleaner():
    seed = next((ROOT / "seeds").glob("000_*.txt")).read_text(encoding="utf-8")
    article = extract_document(document(seed, kind=KIND_TEXT))
    assert article.title == "North Korea rules out any meetings with Japan"
    assert article.text.startswith("SEOUL (Reuters)")
    assert "By Hyunsu Yim" in article.header
    assert article.language == "en"


def test_extract_articles_composite_outputs_articles_and_dead_letters():
    good = document(golden("harbour_ferry.html"), doc_id="good")
    empty = document("<html><body></body></html>", doc_id="empty")
    with TestPipeline() as p:
        results = p | beam.Create([good, empty]) | ExtractArticles(2.0)
        assert_that(results[MAIN] | "Ids" >> beam.Map(lambda a: a.id),
                    equal_to(["good"]), label="articles")
        assert_that(
            results[DEAD_LETTERS]
            | "Reasons" >> beam.Map(lambda d: (d.source, d.stage, d.reason)),
            equal_to([("empty.src", "extract", "no_article")]),
            label="dead_letters",
        )


def _photo_page(og_type: str, description: str,
                title: str = "Harbour lights festival opens - Coastline Gazette") -> str:
    return (f'<html><head><title>{title}</title>'
            f'<meta property="og:type" content="{og_type}">'
            f'<meta property="og:description" content="{description}"></head>'
            f'<body><div class="gallery"><img src="a.jpg"><img src="b.jpg"></div></body></html>')


def test_a_photo_or_video_article_without_body_text_is_its_description():
    description = "Thousands gathered on the quay on Friday night as the harbour lights festival opened"
    extracted = extract_html(_photo_page("article", description))
    assert extracted.text == description
    assert extracted.title.startswith("Harbour lights festival opens")


@pytest.mark.parametrize("og_type", ["article", "video.other"])
def test_an_article_page_without_text_or_description_is_its_headline(og_type):
    extracted = extract_html(_photo_page(og_type, "Photos"))
    assert extracted.title == extracted.text == "Harbour lights festival opens"


@pytest.mark.parametrize("og_type, description, title", [
    ("website", "Thousands gathered on the quay on Friday night as the festival opened",
     "Harbour lights festival opens"),
    ("article", "Photos", "Gallery"),
    ("article", "", "Photos - Coastline Gazette"),
])
def test_a_page_that_is_not_an_article_stays_no_article(og_type, description, title):
    with pytest.raises(StageError) as err:
        extract_html(_photo_page(og_type, description, title))
    assert err.value.reason == "no_article"


# --- One parse, fast extraction first -------------------------------------------------------
def test_page_tree_is_parsed_once_per_page_and_left_unchanged_by_extraction():
    from lxml import etree

    from transforms.html_tree import page_tree

    html = golden("harbour_ferry.html")
    tree = page_tree(html)
    before = etree.tostring(tree)
    extract_html(html)
    assert page_tree(html) is tree  # the dates stage gets the same tree back
    assert etree.tostring(tree) == before  # extraction read it without changing it
    other = golden("bakery_prize.html")
    assert page_tree(other) is not tree
    assert page_tree("") is None


def _trafilatura_calls(monkeypatch) -> list[bool]:
    import trafilatura

    calls: list[bool] = []
    real = trafilatura.bare_extraction

    def recording(*args, **kwargs):
        calls.append(kwargs["fast"])
        return real(*args, **kwargs)

    monkeypatch.setattr(trafilatura, "bare_extraction", recording)
    return calls


def _story(paragraphs: int) -> str:
    body = "".join(
        f"<p>Paragraph {i}: the council met on Tuesday to debate harbour budget line {i}, "
        f"and member {i} asked how much the dredging of berth {i} would cost this year.</p>"
        for i in range(paragraphs)
    )
    return f"<html><head><title>Budget</title></head><body><article>{body}</article></body></html>"


def test_a_long_story_needs_only_the_fast_extraction(monkeypatch):
    calls = _trafilatura_calls(monkeypatch)
    assert len(extract_html(_story(12)).text) >= 1000
    assert calls == [True]


def test_a_short_fast_result_runs_the_full_cascade(monkeypatch):
    calls = _trafilatura_calls(monkeypatch)
    assert len(extract_html(_story(3)).text) < 1000
    assert calls == [True, False]


def test_every_text_field_is_nfc():
    decomposed = "Cafe\u0301 Me\u0301ridien"  # "Café Méridien" with combining accents
    html = (f"<html><head><title>{decomposed} opens on the quay</title>"
            f"<meta name='author' content='Ine\u0300s Faure'></head><body><article>"
            f"<h1>{decomposed} opens on the quay</h1>"
            + "".join(f"<p>The {decomposed} opened its doors on the quay this week, and "
                      f"the first guests arrived before nine in the morning ({i}).</p>"
                      for i in range(4))
            + "</article></body></html>")
    article = extract_document(document(html))
    for value in (article.title, article.text, *article.authors):
        assert value == unicodedata.normalize("NFC", value)
    assert "Café Méridien" in article.text
    assert article.title == "Café Méridien opens on the quay"
    assert article.authors == ("Inès Faure",)


@pytest.mark.parametrize(
    "head, h1, expected",
    [
        # the meta title is shortened for search; the page shows the whole headline
        ("Ferry returns | Coastline Gazette", "Ferry returns after winter refit",
         "Ferry returns after winter refit"),
        # a kicker, a subtitle and screen-reader text are not the headline
        ("Ferry returns after refit", '<span class="article-kicker">Harbour</span>'
         '<span class="visually-hidden">: </span><span>Ferry returns after refit</span>',
         "Ferry returns after refit"),
        ("Ferry returns after refit", 'Ferry returns after refit <small>A new season on the '
         'estuary</small>', "Ferry returns after refit"),
        # an <h1> unlike the title is the site's banner
        ("Ferry returns after refit", "Coastline Gazette", "Ferry returns after refit"),
        # a headline made only of a marked part keeps it
        ("Ferry returns after refit", '<span class="field--label-hidden">Ferry returns after '
         'refit</span>', "Ferry returns after refit"),
    ],
)
def test_headline_is_the_h1_matching_the_title(head, h1, expected):
    tree = page_tree(f"<html><head><meta property='og:title' content='{head}'>"
                     f"<meta property='og:site_name' content='Coastline Gazette'></head>"
                     f"<body><h1>{h1}</h1><p>Text.</p></body></html>")
    assert page_title(tree, page_metadata(tree)) == expected


def _title_of(head: str, body: str) -> tuple[str | None, str | None]:
    tree = page_tree(f"<html><head>{head}</head><body>{body}<p>Text of the story.</p>"
                     f"</body></html>")
    meta = page_metadata(tree)
    return page_title(tree, meta), meta.sitename


@pytest.mark.parametrize(
    "head, body, title, publisher",
    [
        # a home link names the site: its <h1> banner is no headline, and its name leaves the
        # <title> and becomes the publisher (English, German, an archived copy's link)
        ("<title>Apple cake with cinnamon | Grandma's Kitchen</title>",
         "<h1><a href='https://grandmas-kitchen.example/'>Grandma's Kitchen</a></h1>",
         "Apple cake with cinnamon", "Grandma's Kitchen"),
        ("<title>Apfelkuchen mit Zimt – Omas Küche</title>",
         "<h1><a href='/'>Omas Küche</a></h1><h1>Apfelkuchen mit Zimt</h1>",
         "Apfelkuchen mit Zimt", "Omas Küche"),
        ("<title>Werkzeuge der Steinzeit | Steinzeit &amp; Co</title>",
         "<h1><a href='https://web.archive.org/web/2015/http://steinzeit.example/'>Steinzeit "
         "&amp; Co</a></h1><h1>Werkzeuge der Steinzeit</h1>",
         "Werkzeuge der Steinzeit", "Steinzeit & Co"),
        # a logo's alt text names the site (Chinese, a bare dash between CJK characters)
        ("<title>渡轮恢复运营！-海港网</title>",
         "<div><a href='http://www.haigang.example/'><img alt='海港网' src='l.png'></a></div>",
         "渡轮恢复运营！", "海港网"),
        # Japanese: a full-width bar, and the readings over the headline's characters
        ("<title>港新聞｜渡船が再開</title><meta property='og:site_name' content='港新聞'>",
         "<h1><ruby>渡船<rt>とせん</rt></ruby>が<ruby>再開<rt>さいかい</rt></ruby></h1>",
         "渡船が再開", "港新聞"),
        # the heading that is the site's logo or WordPress's site title
        ("<title>Le ferry reprend · La Gazette du Port</title>",
         "<h1 class='site-title'>La Gazette du Port</h1><h1>Le ferry reprend</h1>",
         "Le ferry reprend", "La Gazette du Port"),
    ],
)
def test_site_name_from_the_page(head, body, title, publisher):
    assert _title_of(head, body) == (title, publisher)


@pytest.mark.parametrize(
    "head, body, expected",
    [
        # a declared title that is only the site's name is none: the <h1> is the headline
        ("<meta property='og:title' content='Harbour Shop - Templates and Themes'>"
         "<meta property='og:site_name' content='Harbour Shop - Templates and Themes'>"
         "<title>Harbour Shop - Templates and Themes</title>",
         "<h1>New privacy rules for our templates</h1>", "New privacy rules for our templates"),
        # a section's name as og:title; the <title> matches the <h1>, whose kicker (a span
        # followed by a colon) and style sheet are not the headline
        ("<meta property='og:title' content='Press releases'>"
         "<title>Vaccination stays open until February</title>",
         "<h1><style>.k{color:red}</style><span class='k'>Press release of the health "
         "department <span>:</span></span>Vaccination stays open until February</h1>",
         "Vaccination stays open until February"),
        # a kicker set before the headline with a slash (German)
        ("<meta property='og:title' content='Neue Präsidentin gewählt | Domblatt'>"
         "<meta property='og:site_name' content='Domblatt'>",
         "<h1>\"Reformen jetzt\" / Neue Präsidentin gewählt</h1>", "Neue Präsidentin gewählt"),
        # og:title cut short at an unescaped quote; the <title> goes on (Spanish)
        ("<meta property='og:title' content='Senador califica al ministro de '>"
         "<title>Senador califica al ministro de \"incapaz\"</title>",
         "<h1></h1><h2 class='title'>Senador califica al ministro de \"incapaz\"</h2>",
         "Senador califica al ministro de \"incapaz\""),
        # an <h1> marked as the strapline over the headline; the <h2> is the headline
        ("<title>Maps now show more detail - Update: points of interest</title>",
         "<h1 class='strapline'>Update: points of interest</h1>"
         "<h2 class='title'>Maps now show more detail</h2>", "Maps now show more detail"),
        # but an <h2> teaser does not replace a page's own <h1>
        ("<meta property='og:title' content='Become a product tester | Nestor Market'>"
         "<meta property='og:site_name' content='Nestor Market'>",
         "<h1>How testing works</h1><h2>Become a product tester today</h2>",
         "Become a product tester"),
        # a title reworded for search shares a third of its words with the page's <h1>
        ("<meta property='og:title' content='Winter ferry timetable: all crossings and fares "
         "at a glance | Coastline Gazette'>"
         "<meta property='og:site_name' content='Coastline Gazette'>",
         "<h1>Ferry timetable</h1>", "Ferry timetable"),
        ("<meta property='og:title' content='Winter ferry timetable: all crossings and fares "
         "at a glance'>", "<h1>Harbour weather</h1>",
         "Winter ferry timetable: all crossings and fares at a glance"),
        # a headline that contains the site's name is still the headline
        ("<title>Run Windows on Mac - Parallels Desktop 15 for Mac</title>"
         "<link rel='canonical' href='https://www.parallels.example/desktop/'>",
         "<h1>Parallels Desktop 15 for Mac</h1>", "Parallels Desktop 15 for Mac"),
        # character references a page escaped twice, and a line break inside the <h1>
        ("<meta property='og:title' content='Ferry returns &amp;#8211; with a new timetable'>",
         "<p>no heading</p>", "Ferry returns – with a new timetable"),
        ("<title>Ferry returns after the winter | Coastline Gazette</title>",
         "<h1>Ferry returns<br>after the winter</h1>", "Ferry returns after the winter"),
    ],
)
def test_headline_choice(head, body, expected):
    assert _title_of(head, body)[0] == expected


def test_a_quoted_embedded_post_stays_in_the_text():
    paragraphs = "".join(
        f"<p>The harbour board met on Tuesday to discuss the ferry timetable for the summer "
        f"season, and residents filled the hall to hear the plans ({i}).</p>" for i in range(5))
    html = ("<html><head><title>Ferry timetable debated</title></head><body><article>"
            "<h1>Ferry timetable debated</h1>" + paragraphs +
            '<div class="social-media-embed"><blockquote class="twitter-tweet"><p>The new '
            "timetable leaves the island without a morning boat on Sundays.</p>&mdash; Island "
            "Residents (@islanders) May 2, 2025</blockquote></div>"
            + paragraphs.replace("(", "[").replace(")", "]") + "</article></body></html>")
    tree = page_tree(html)
    text = extract_html(html).text
    assert "without a morning boat on Sundays" in text
    assert tree.xpath("//blockquote/@class") == ["twitter-tweet"]  # the shared tree is intact


@pytest.mark.parametrize(
    "line, names",
    [
        ("Von Mara Lindqvist", "Mara Lindqvist"),
        ("By Jane Doe and John Roe", "Jane Doe; John Roe"),
        ("Autoren Jan Muster und Eva Beispiel", "Jan Muster; Eva Beispiel"),
        ("By Monday", None),  # one word: not a name
        ("Von Berlin aus", None),  # a lowercase word: a phrase, not names
        ("By the time the ferry arrived, the quay was full", None),
    ],
)
def test_a_byline_paragraph_names_the_authors(line, names):
    assert text_byline(["The ferry returned on Friday.", line]) == names


def test_the_byline_paragraph_is_read_only_without_author_fields():
    body = "".join(f"<p>The ferry carried its first passengers of the season across the "
                   f"estuary on Friday morning after a long refit ({i}).</p>" for i in range(4))
    html = (f"<html><head><title>Ferry returns</title></head><body><article><h1>Ferry returns"
            f"</h1>{body}<p>Von Mara Lindqvist</p></article></body></html>")
    assert extract_html(html).authors == ("Mara Lindqvist",)
    tagged = html.replace("<head>", "<head><meta name='author' content='Jon Park'>")
    assert extract_html(tagged).authors == ("Jon Park",)
