"""Extraction of HTML pages, one family of extractor errors at a time: a body cut into
chunks, the headline repeated, links to other stories, sign-up boxes and time stamps.

Each page is our own small fixture; the assertions are on snippets that must stay and
snippets that must go, not on whole texts."""

from __future__ import annotations

import pytest

from transforms.boilerplate import clean_paragraphs, link_key
from transforms.extract import extract_html

# Our own prose, long enough for trafilatura to take the block as the article.
PROSE = [
    "The river authority opened the new fish ladder at the old mill weir on Tuesday morning.",
    "Engineers spent two summers shaping the concrete steps so that salmon can climb them.",
    "Volunteers counted the first trout passing the lowest pool within an hour of the opening.",
    "The mill itself stopped grinding grain in the nineteen-fifties and now houses a museum.",
    "Anglers upstream say the weir had blocked spawning runs for more than a century.",
    "The authority will publish the first season's counts in its spring bulletin next year.",
    "A camera in the top pool sends pictures of every passing fish to the museum's screen.",
    "Schools in the valley have already booked visits to watch the autumn run together.",
]


def paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{line}</p>" for line in lines)


def page(body: str, title: str = "Fish ladder opens at the old mill weir",
         head: str = "") -> str:
    return (f"<html><head><title>{title} | Valley Post</title>{head}</head><body>"
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>{body}"
            "<footer>Valley Post, 1 Mill Lane</footer></body></html>")


def text_of(html: str) -> str:
    return extract_html(html).text


def test_a_body_cut_into_chunks_keeps_the_text_after_the_first_chunk():
    chunk = "<div class='grid'><div class='body__container article__body'>{}</div></div>"
    body = (
        "<article><h1>Fish ladder opens at the old mill weir</h1><div class='chunks'>"
        + chunk.format(paragraphs(PROSE[:3]))
        + "<div class='ad-rail'>Advertisement</div>"
        + chunk.format(paragraphs(PROSE[3:]))
        + "</div></article>"
    )
    text = text_of(page(body))
    assert PROSE[0] in text
    assert PROSE[5] in text and PROSE[7] in text


def test_posts_of_a_listing_are_not_joined_as_chunks():
    # A blog's front page: each post has its own post class on the way to its body.
    post = ("<div class='post post-{n}'><h2><a href='/p{n}'>Post {n}</a></h2>"
            "<div class='entry-content'>{text}</div></div>")
    other = ["An unrelated post about the harvest festival in the upper valley this year.",
             "It lists the stalls, the music and the times of the parade through the town."]
    body = post.format(n=1, text=paragraphs(PROSE)) + post.format(n=2, text=paragraphs(other))
    text = text_of(page(body))
    assert PROSE[0] in text
    assert other[0] not in text


def test_the_headline_repeated_at_the_top_goes_even_when_the_meta_title_differs():
    body = ("<article><h1>Salmon can climb the mill weir again</h1>"
            + paragraphs(PROSE) + "</article>")
    text = text_of(page(body, title="River authority finishes its fish ladder"))
    assert not text.startswith("Salmon can climb the mill weir again")
    assert text.startswith(PROSE[0])


def test_a_promoted_headline_set_in_capitals_between_paragraphs_goes():
    promo = "<p><strong><a href='/other'>MUSEUM CURATOR 'THRILLED' BY NEW VISITORS</a></strong></p>"
    body = "<article>" + paragraphs(PROSE[:4]) + promo + paragraphs(PROSE[4:]) + "</article>"
    text = text_of(page(body))
    assert "MUSEUM CURATOR" not in text
    assert PROSE[3] in text and PROSE[4] in text


def test_capitals_and_links_alone_do_not_make_a_promotion():
    # A subheading in capitals that is no link, and a linked sentence in ordinary case.
    body = ("<article>" + paragraphs(PROSE[:4]) + "<h2>THE FIRST SEASON</h2>"
            "<p><a href='/report'>The full engineering report is published on the authority's "
            "website.</a></p>" + paragraphs(PROSE[4:]) + "</article>")
    text = text_of(page(body))
    assert "THE FIRST SEASON" in text
    assert "The full engineering report is published" in text


def test_a_list_under_a_heading_over_other_stories_goes_with_the_heading():
    # trafilatura drops the <div> heading but would keep the list under it.
    others = ["<li>Rowing club wins the regional cup</li>",
              "<li>Bakery on the bridge closes after ninety years</li>"]
    body = ("<article>" + paragraphs(PROSE)
            + "<div class='heading'>More Great Valley Stories</div><ul>" + "".join(others)
            + "</ul></article>")
    text = text_of(page(body))
    assert PROSE[7] in text
    assert "Rowing club" not in text and "Bakery on the bridge" not in text


def test_a_list_in_the_article_stays():
    steps = ["<li>Check the tide tables before you visit the lower pool</li>",
             "<li>Keep dogs on a lead along the mill race path</li>"]
    body = ("<article>" + paragraphs(PROSE[:4]) + "<h2>Before you go</h2><ul>" + "".join(steps)
            + "</ul>" + paragraphs(PROSE[4:]) + "</article>")
    text = text_of(page(body))
    assert "Check the tide tables" in text and "Keep dogs on a lead" in text


def test_links_listed_at_the_end_go_and_linked_items_inside_the_article_stay():
    links = frozenset(filter(None, map(link_key, [
        "Download the season timetable as a PDF", "Rowing club wins the regional cup",
        "Bakery on the bridge closes after ninety years"])))
    got = clean_paragraphs(
        [PROSE[0], "- Download the season timetable as a PDF", PROSE[1],
         "- Rowing club wins the regional cup", "- Bakery on the bridge closes after ninety years"],
        link_texts=links).paragraphs
    assert got == (PROSE[0], "- Download the season timetable as a PDF", PROSE[1])


def test_linked_headlines_at_the_end_go_but_a_cited_address_and_a_closing_sentence_stay():
    links = frozenset(filter(None, map(link_key, [
        "Rowing club review: the new boats on test [Video]", "https://example.org/weir-report"])))
    got = clean_paragraphs(
        [PROSE[0], "https://example.org/weir-report",
         "Rowing club review: the new boats on test [Video]"], link_texts=links).paragraphs
    assert got == (PROSE[0], "https://example.org/weir-report")
    closing = "The full engineering report is on the authority's website."
    got = clean_paragraphs([PROSE[0], closing],
                           link_texts=frozenset([link_key(closing)])).paragraphs
    assert got == (PROSE[0], closing)


def test_items_at_the_end_that_are_not_links_stay():
    links = frozenset(filter(None, map(link_key, ["Rowing club wins the regional cup"])))
    lines = [PROSE[0], "- Check the tide tables before you visit",
             "- Rowing club wins the regional cup"]
    got = clean_paragraphs(lines, link_texts=links).paragraphs
    assert got == (PROSE[0], "- Check the tide tables before you visit")


def test_a_sign_up_box_inside_the_article_goes_whatever_the_case_of_its_class():
    box = ("<div class='Newsletter-container'><p class='Newsletter-title'>Valley Mornings</p>"
           "<p>The day's local stories and the weather, every morning in your inbox.</p>"
           "<p>Sorry!</p></div>"
           "<div class='ArticleEventPromo'><p>Join our free river quiz this weekend</p></div>")
    body = "<article>" + paragraphs(PROSE[:4]) + box + paragraphs(PROSE[4:]) + "</article>"
    text = text_of(page(body))
    assert PROSE[3] in text and PROSE[4] in text
    for chrome in ("Valley Mornings", "every morning in your inbox", "Sorry!", "river quiz"):
        assert chrome not in text


def test_a_page_region_named_like_a_box_keeps_its_article():
    # A wrapper whose class happens to say "promo" holds the whole story: too big for a box.
    body = "<div class='promo-layout'><article>" + paragraphs(PROSE * 4) + "</article></div>"
    assert PROSE[0] in text_of(page(body))


@pytest.mark.parametrize("stamp", [
    "Published 18 November 2019",
    "- Published 18 November 2019",
    "Veröffentlicht am 06.12.2022",
    "Mittwoch, 01.11.2023",
    "19.10.2019 07:49 Uhr",
    "기사입력 :[ 2018-08-25 15:24 ]",
])
def test_a_line_that_only_dates_the_page_goes(stamp):
    got = clean_paragraphs([PROSE[0], stamp, PROSE[1]]).paragraphs
    assert got == (PROSE[0], PROSE[1])


@pytest.mark.parametrize("line", [
    "02.11.2022 - Placebo - Stadthalle",  # a listing of events by date
    "May 06, 2022 News",
    "— Ada Lovelace (@ada) November 19, 2019",  # the signature of a quoted post
    "The weir was finished on 18 November 2019.",
])
def test_a_line_with_a_date_and_more_stays(line):
    assert line in clean_paragraphs([PROSE[0], line, PROSE[1]]).paragraphs
