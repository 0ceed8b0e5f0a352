"""Tests for the datelines stage: opening datelines, agency credits and header places."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.datelines import FindDatelines, apply_datelines, find_dateline
from transforms.failures import DEAD_LETTERS, MAIN
from transforms.records import KIND_TEXT, Article

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.parametrize(
    "text, place, agency, raw, rest",
    [
        ("SEOUL (Reuters) - Talks stalled again.", "SEOUL", "Reuters", "SEOUL (Reuters) -",
         "Talks stalled again."),
        ("SEOUL (Reuters) \u2013 Talks stalled.", "SEOUL", "Reuters", "SEOUL (Reuters) \u2013",
         "Talks stalled."),
        ("WASHINGTON/SEOUL (Reuters) - Envoys met.", "WASHINGTON/SEOUL", "Reuters",
         "WASHINGTON/SEOUL (Reuters) -", "Envoys met."),
        ("SEOUL, Sept 18 (Reuters) - Envoys met.", "SEOUL", "Reuters",
         "SEOUL, Sept 18 (Reuters) -", "Envoys met."),
        ("SEOUL, Oct. 2 (Yonhap) -- Envoys met.", "SEOUL", "Yonhap", "SEOUL, Oct. 2 (Yonhap) --",
         "Envoys met."),
        ("SEOUL, South Korea (AP) \u2014 Envoys met.", "SEOUL, South Korea", "AP",
         "SEOUL, South Korea (AP) \u2014", "Envoys met."),
        ("SEOUL, South Korea (AP) Envoys met.", "SEOUL, South Korea", "AP",
         "SEOUL, South Korea (AP)", "Envoys met."),
        ("Pyongyang, December 24 (KCNA) -- A meeting was held.", "Pyongyang", "KCNA",
         "Pyongyang, December 24 (KCNA) --", "A meeting was held."),
        ("TOKYO (Kyodo) -- Ministers met.", "TOKYO", "Kyodo", "TOKYO (Kyodo) --",
         "Ministers met."),
        ("TOKYO ( Reuters ) - Stocks rose.", "TOKYO", "Reuters", "TOKYO ( Reuters ) -",
         "Stocks rose."),
        ("Springfield, Illinois (AP) \u2014 A law was signed.", "Springfield, Illinois", "AP",
         "Springfield, Illinois (AP) \u2014", "A law was signed."),
        ("NEW YORK, March 3, 2024 (Reuters) - Stocks rose.", "NEW YORK", "Reuters",
         "NEW YORK, March 3, 2024 (Reuters) -", "Stocks rose."),
        ("Reuters - No date has been set.", None, "Reuters", "Reuters -",
         "No date has been set."),
        ("AFP - A defector spoke.", None, "AFP", "AFP -", "A defector spoke."),
        ("SEOUL: Officials stopped a shipment.", "SEOUL", None, "SEOUL:",
         "Officials stopped a shipment."),
        ("SEOUL \u2014 Officials stopped a shipment.", "SEOUL", None, "SEOUL \u2014",
         "Officials stopped a shipment."),
        ("SEOUL - Officials stopped a shipment.", "SEOUL", None, "SEOUL -",
         "Officials stopped a shipment."),
        ("WASHINGTON -- The secretary spoke.", "WASHINGTON", None, "WASHINGTON --",
         "The secretary spoke."),
        ("OSAKA , Japan - A plant closed.", "OSAKA, Japan", None, "OSAKA , Japan -",
         "A plant closed."),
        ("  HANOI (Reuters) - Leaders met.", "HANOI", "Reuters", "HANOI (Reuters) -",
         "Leaders met."),
    ],
)
def test_opening_dateline(text, place, agency, raw, rest):
    dateline, found_agency, body = find_dateline(text)
    assert (dateline.place, dateline.agency, dateline.raw) == (place, agency, raw)
    assert found_agency == agency
    assert body == rest


@pytest.mark.parametrize(
    "text, place, agency",
    [
        # A glued headline or a first line before the dateline: found, text left whole.
        ("Missile test feared WASHINGTON--Officials warned today.", "WASHINGTON", None),
        ("Defence chief orders new measures\n   SEOUL, Oct. 12 (Yonhap) -- The minister said.",
         "SEOUL", "Yonhap"),
    ],
)
def test_dateline_after_a_headline(text, place, agency):
    dateline, found_agency, body = find_dateline(text)
    assert (dateline.place, found_agency) == (place, agency)
    assert body == text


@pytest.mark.parametrize(
    "text",
    [
        "North Korea said on Tuesday it would hold talks.",
        "The US - China talks resumed on Monday.",
        "In Washington: the talks went on.",
        "Kim Jong Un, supreme leader of the party, inspected a farm.",
        "NATO members met in Brussels.",
        "BREAKING: North Korea fires a missile.",
        "UPDATE 1 - Talks resume.",
        "EXCLUSIVE - Envoys met in secret.",
        "",
    ],
)
def test_no_dateline_is_invented(text):
    dateline, agency, body = find_dateline(text)
    assert (dateline, agency, body) == (None, None, text)


@pytest.mark.parametrize(
    "text, agency",
    [
        ("The talks ended.\n\nBoth sides will meet again. (Yonhap)", "Yonhap"),
        ("The talks ended, according to the KCNA. (ANI)", "ANI"),
        ("The talks ended. (AFP)\n", "AFP"),
        ("The talks ended. (Reporting by Jane Roe)", None),
    ],
)
def test_trailing_credit(text, agency):
    dateline, found_agency, body = find_dateline(text)
    assert dateline is None and found_agency == agency
    # The credit stays in the text: it ends the last paragraph.
    assert body == text


@pytest.mark.parametrize(
    "header, place",
    [
        (("WION Web Team", "New Delhi, Delhi, IndiaUpdated: Apr 29, 2018, 04:10 PM IST"),
         "New Delhi, Delhi, India"),
        (("Mumbai, Maharashtra Published: May 2, 2019",), "Mumbai, Maharashtra"),
        (("By Jane Roe", "Updated: Apr 29, 2018"), None),
    ],
)
def test_header_place(header, place):
    dateline, agency, body = find_dateline("The body starts here.", header)
    assert (dateline.place if dateline else None) == place
    if dateline:
        assert (dateline.raw, dateline.agency, agency) == (place, None, None)
    assert body == "The body starts here."


def test_opening_dateline_beats_header_place():
    header = ("Paris, FranceUpdated: May 1, 2020",)
    dateline, _, _ = find_dateline("SEOUL (Reuters) - Talks.", header)
    assert dateline.place == "SEOUL"


def make(text: str, agency: str | None = None, header: tuple[str, ...] = ()) -> Article:
    return Article(id="a1", source="test", kind=KIND_TEXT, url=None, title=None, text=text,
                   agency=agency, header=header)


def test_apply_datelines_keeps_an_existing_agency():
    out = apply_datelines(make("SEOUL (Reuters) - Talks.", agency="AFP"))
    assert (out.agency, out.dateline.agency, out.text) == ("AFP", "Reuters", "Talks.")


@pytest.mark.parametrize(
    "prefix, first, last, header, place, agency",
    [
        ("000", "SEOUL (Reuters)", "from Seoul and Washington.", (), "SEOUL", "Reuters"),
        ("001", "North Korea will refuse", "(Yonhap)", (), None, "Yonhap"),
        ("002", "SEOUL \u2014 North Korea", "in the KCNA report.", (), "SEOUL", None),
        ("003", "A summit meeting between", "(ANI)", (), None, "ANI"),
        ("004", "North Korea leader Kim", "missile tests last year.",
         ("WION Web Team", "New Delhi, Delhi, IndiaUpdated: Apr 29, 2018, 04:10 PM IST",
          "main img"), "New Delhi, Delhi, India", None),
    ],
)
def test_seeds(prefix, first, last, header, place, agency):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    capture = path.read_text(encoding="utf-8")
    start = capture.index(first)
    body = capture[start : capture.index(last, start) + len(last)]
    out = apply_datelines(make(body, header=header))
    assert (out.dateline.place if out.dateline else None, out.agency) == (place, agency)
    if out.dateline and not header:
        assert not out.text.startswith(out.dateline.raw)
        assert body.endswith(out.text)


def test_find_datelines_composite():
    with TestPipeline() as p:
        out = p | beam.Create([make("SEOUL (Reuters) - Talks."), make("No dateline.")]) | (
            FindDatelines())
        assert_that(
            out[MAIN] | beam.Map(lambda a: (a.dateline.place if a.dateline else None, a.agency,
                                            a.text)),
            equal_to([("SEOUL", "Reuters", "Talks."), (None, None, "No dateline.")]),
            label="main",
        )
        assert_that(out[DEAD_LETTERS], equal_to([]), label="dead letters")


# ---------------------------------------------------------------- the families of issue 16


@pytest.mark.parametrize(
    "text, place, agency, rest",
    [
        # AFP colon style: a known place or a region before the colon.
        ("ATHENS : Greek police said on Monday.", "ATHENS", None, "Greek police said on Monday."),
        ("NAJAF, Iraq : Fighting resumed.", "NAJAF, Iraq", None, "Fighting resumed."),
        ("BEIRUT: A car bomb exploded.", "BEIRUT", None, "A car bomb exploded."),
        ("FALLUJAH: A curfew was imposed.", "FALLUJAH", None, "A curfew was imposed."),
        ("BOMBAY : A batsman scored.", "BOMBAY", None, "A batsman scored."),
        # Agency-only openings.
        ("(Reuters) - A senator said.", None, "Reuters", "A senator said."),
        ("(CNN) \u2014 A senator said.", None, "CNN", "A senator said."),
        ("( Sports Network ) - A team won.", None, "Sports Network", "A team won."),
        ("AP - A senator said.", None, "AP", "A senator said."),
        # Something before the dateline.
        ("By MICHELLE SPITZER JOHNSTON, Iowa (AP) -- Farmers said.", "JOHNSTON, Iowa", "AP",
         "Farmers said."),
        ("By JANE ROE SAN FRANCISCO ( AP ) -- A firm said.", "SAN FRANCISCO", "AP",
         "A firm said."),
        ("(This version of the Dec 6 story corrects a name) SEOUL (Reuters) - Talks.", "SEOUL",
         "Reuters", "Talks."),
        ("(Corrects paragraph 2 to fix a date) (Reuters) - Talks.", None, "Reuters", "Talks."),
        ("Canadian Press - NEW DELHI (AP) - Talks began.", "NEW DELHI", "AP", "Talks began."),
        ("Canadian Press - Talks began.", None, "Canadian Press", "Talks began."),
        # A date before the agency; place and agency inside the parentheses.
        ("Aug. 19 ( Bloomberg ) -- A leader changed plans.", None, "Bloomberg",
         "A leader changed plans."),
        ("( Santiago , Chile-AP ) -- Miners said.", "Santiago, Chile", "AP", "Miners said."),
        ("Arlington , TX , Aug. 17 ( UPI ) -- A batter hit.", "Arlington, TX", "UPI",
         "A batter hit."),
        # Title-case places with a dash; no separator after a capitals place.
        ("Caracas, Venezuela - Voters said.", "Caracas, Venezuela", None, "Voters said."),
        ("Kochi, India \u2014 Fishermen said.", "Kochi, India", None, "Fishermen said."),
        ("Rio de Janeiro, Brazil - Carnival began.", "Rio de Janeiro, Brazil", None,
         "Carnival began."),
        ("NEW YORK Aging but still popular, the show goes on.", "NEW YORK", None,
         "Aging but still popular, the show goes on."),
        ("WASHINGTON _ The senator said.", "WASHINGTON", None, "The senator said."),
        ("WASHINGTON () - The senator said.", "WASHINGTON", None, "The senator said."),
        # Agencies of the table beyond the big wires, and one the table lacks.
        ("OTTAWA (CP) - The minister said.", "OTTAWA", "CP", "The minister said."),
        ("BERLIN (dpa) - The minister said.", "BERLIN", "dpa", "The minister said."),
        ("NEW YORK (Dow Jones) -- Stocks rose.", "NEW YORK", "Dow Jones", "Stocks rose."),
        ("SAN FRANCISCO (CBS.MW) -- Stocks rose.", "SAN FRANCISCO", "CBS.MW", "Stocks rose."),
        ("MOSCOW, Aug. 3 (ITAR-TASS) -- A minister said.", "MOSCOW", "Itar-Tass",
         "A minister said."),
        ("LAGOS (Guardian Wire) - A minister said.", "LAGOS", "Guardian Wire",
         "A minister said."),
        # Letters with diacritics, particles, abbreviations.
        ("S\u00c3O PAULO (Reuters) - Stocks fell.", "S\u00c3O PAULO", "Reuters", "Stocks fell."),
        ("Bogot\u00e1, Colombia (AP) \u2014 Rebels said.", "Bogot\u00e1, Colombia", "AP",
         "Rebels said."),
        ("DAR ES SALAAM, Tanzania (AP) - A ferry sank.", "DAR ES SALAAM, Tanzania", "AP",
         "A ferry sank."),
        ("WASHINGTON, D.C. -- The senator said.", "WASHINGTON, D.C.", None,
         "The senator said."),
        ("HONG KONG: Stocks fell sharply.", "HONG KONG", None, "Stocks fell sharply."),
        ("BRUSSELS/PARIS, Jan 3 (Reuters) - Ministers met.", "BRUSSELS/PARIS", "Reuters",
         "Ministers met."),
    ],
)
def test_dateline_families(text, place, agency, rest):
    dateline, found_agency, body = find_dateline(text)
    assert (dateline.place, found_agency, body) == (place, agency, rest)


@pytest.mark.parametrize(
    "text",
    [
        # Headline words before a colon are not places.
        "DESTRUCTION: The storm left little.",
        "ADV: For release Sunday.",
        "UN: Sanctions will stay.",
        "STAT LINE : Ten points, five rebounds.",
        "NFL: Dolphins go nowhere.",
        # Web-site feed names are not agencies.
        "SPACE.com - A rocket rose.",
        "washingtonpost.com - A rocket rose.",
        "NewsFactor - Yahoo (Nasdaq: YHOO) has more storage.",
        # Capitals that open a sentence.
        "NATO Secretary General Jens Stoltenberg said.",
        "FBI Director James Comey said.",
        "Mr Smith - the chairman - said.",
        "By Andrew Balls in Washington and Jennifer Hughes in New York. The Fed rose.",
        "Youkilis, McCarty go on DL A season of adversity.",
        "AP Photo: a man walks.",
        "Q&A: What next for the talks",
        "The Associated Press reported that talks failed.",
    ],
)
def test_labels_and_feeds_are_not_datelines(text):
    dateline, agency, body = find_dateline(text)
    assert (dateline, agency, body) == (None, None, text)


def test_feed_prefix_without_separator_is_skipped():
    text = "UPI NewsTrack Sports ATHENS, Greece, Aug. 18 (UPI) -- A swimmer won."
    dateline, agency, body = find_dateline(text)
    assert (dateline.place, agency, body) == ("ATHENS, Greece", "UPI", text)
    assert "Aug. 18" in dateline.raw  # the dates stage reads the dateline's day from raw


def test_a_desk_extends_the_agency_table(tmp_path):
    from transforms.datelines import load_agencies

    desk = tmp_path / "agencies.toml"
    desk.write_text('extends = "packaged"\n[agencies]\n"Rodong" = ["Rodong Sinmun"]\n',
                    encoding="utf-8")
    agencies = load_agencies(str(desk))
    dateline, agency, _ = find_dateline("PYONGYANG (Rodong Sinmun) -- A text.",
                                        agencies=agencies)
    assert agency == "Rodong"
    assert find_dateline("SEOUL (Reuters) - Talks.", agencies=agencies)[1] == "Reuters"
    # Without `extends` the desk table replaces the packaged one.
    desk.write_text('[agencies]\n"Rodong" = ["Rodong Sinmun"]\n', encoding="utf-8")
    assert load_agencies(str(desk)).name("Reuters") is None


@pytest.mark.parametrize(
    "content, problem",
    [
        ('[agencies]\n"X" = "X"\n', "agencies.X"),
        ('agency = 1\n', "unknown key"),
        ('extends = "mine"\n', "extends"),
        ('[agencies\n', "not valid TOML"),
    ],
)
def test_a_bad_agency_table_names_the_problem(tmp_path, content, problem):
    from transforms.datelines import AgencyTableError, load_agencies

    path = tmp_path / "agencies.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AgencyTableError, match=problem) as err:
        load_agencies(str(path))
    assert str(path) in str(err.value)


def test_a_headline_credit_is_not_a_place():
    text = "House backs food aid for N. Koreans (AP) AP - The aid could reach millions."
    dateline, agency, body = find_dateline(text)
    assert (dateline.place, agency) == (None, "AP")
