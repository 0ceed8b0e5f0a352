"""``newsbeam report OUT``: the numbers behind each chart, the page, and the page in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.report import (
    ReportError,
    certainty_mix,
    clusters,
    dead_by_stage_reason,
    load_output,
    topic_days,
    write_report,
)
from tests.support import SEEDS, run_newsbeam

CHARTS = 6
# Headless Chromium: no network (every host name resolves to nothing), no GPU, no sandbox
# (CI runs as root), virtual time so the page's scripts finish before the DOM is dumped.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=20000",
    "--enable-logging=stderr", "--v=0",
]


def _story(id_, publisher, day, topics=(), certainty="DAY", copy_of=None, language="en",
           title=None):
    return {
        "id": id_, "source": f"{id_}.html", "url": None, "title": title or f"story {id_}",
        "publisher": publisher, "language": language, "topics": list(topics), "agency": None,
        "published": {"date": day, "certainty": certainty} if day else None,
        "syndicated_from": {"canonical_id": copy_of} if copy_of else None,
    }


def test_topic_days_counts_each_topic_of_each_dated_article():
    articles = [_story("a", "P", "2024-03-26", ["abductions", "summitry"]),
                _story("b", "P", "2024-03-26", ["abductions"]),
                _story("c", "P", "2024-03-27", []),
                _story("d", "P", None, ["missiles"])]
    assert topic_days(articles) == {
        "abductions": {"2024-03-26": 2},
        "summitry": {"2024-03-26": 1},
        "(no topic)": {"2024-03-27": 1},
    }


def test_clusters_name_every_publisher_that_ran_a_story_largest_first():
    articles = [_story("a", "Yonhap", "2024-03-26", title="Summit off"),
                _story("b", "NHK", "2024-03-27", title="Missile test")]
    copies = [_story("c", "Korea Herald", "2024-03-26", copy_of="a"),
              _story("d", "Asia News", "2024-03-26", copy_of="a"),
              _story("e", "Japan Times", "2024-03-27", copy_of="b")]
    found = clusters(articles, copies)
    assert [(c.title, c.publishers) for c in found] == [
        ("Summit off", ("Yonhap", "Korea Herald", "Asia News")),
        ("Missile test", ("NHK", "Japan Times")),
    ]
    assert found[0].copies == 2 and found[0].day == "2024-03-26"


def test_dead_letters_and_certainty_mix():
    letters = [{"stage": "decode", "reason": "empty"}, {"stage": "decode", "reason": "empty"},
               {"stage": "extract", "reason": "no_article"}]
    assert dead_by_stage_reason(letters) == {"decode": {"empty": 2}, "extract": {"no_article": 1}}
    stories = [_story("a", "P", "2024-01-01", certainty="DAY"), _story("b", "P", None)]
    assert certainty_mix(stories) == {"DAY": 1, "UNDATED": 1}


def test_a_folder_without_output_is_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(ReportError):
        load_output(str(tmp_path))
    assert cli.main(["report", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a folder" in err[0]
    assert cli.main(["report"]) == 2
    assert "report:" in capsys.readouterr().err


@pytest.fixture(scope="module")
def run_output(tmp_path_factory) -> Path:
    """A real run on the seeds plus pages that become dead letters."""
    folder = tmp_path_factory.mktemp("pages")
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    (folder / "empty.html").write_bytes(b"")
    (folder / "feed.jsonl").write_text(
        json.dumps({"url": "https://example.test/a", "text": ""}) + "\nnot json\n"
        + json.dumps({"url": "https://example.test/b", "text": "T.", "fetched_at": "Tuesday"})
        + "\n"
    )
    output = tmp_path_factory.mktemp("run") / "out"
    run_newsbeam([str(folder / "*")], output)
    return output


def test_the_page_holds_every_section_and_needs_no_network(run_output, tmp_path):
    path = Path(write_report(str(run_output), str(tmp_path / "r.html")))
    page = path.read_text()
    for anchor in ("summary", "topics", "syndication", "dead-letters", "publishers",
                   "languages", "date-certainty"):
        assert f'id="{anchor}"' in page
    assert page.count('class="chart"') == CHARTS
    # Nothing is fetched: no external script, style sheet, image or font.
    assert not re.search(r"<(script|img|iframe)[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert "Plotly.newPlot" in page
    # The syndication cluster lists both publishers of the seeds' copied story.
    assert "<td>Reuters, Asian-News.net</td>" in page
    # Dead letters by stage and reason, with the page that caused each.
    for reason in ("empty", "bad_json", "no_content", "bad_fetched_at"):
        assert f"<td>{reason}</td>" in page
    summary = json.loads(re.search(
        r'<script type="application/json" id="newsbeam-summary">(.*?)</script>', page, re.S
    ).group(1))
    assert summary["pages_read"] == 9 and summary["accounted"]
    assert summary["articles_written"] == 4


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_loads_without_errors_and_draws_its_charts_in_a_real_browser(run_output, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH and it could not be installed "
                    "(.ci/run installs Debian's chromium with apt-get where it can)")
    path = Path(write_report(str(run_output), str(tmp_path / "report.html")))
    url = path.resolve().as_uri()
    done = subprocess.run([browser, *CHROMIUM_FLAGS, "--dump-dom", url],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    root = re.search(r"<html[^>]*>", dom).group(0)
    attributes = dict(re.findall(r'(data-[a-z-]+)="(\d+)"', root))
    assert attributes == {"data-charts": str(CHARTS), "data-charts-drawn": str(CHARTS),
                          "data-errors": "0"}, root
    # Nothing on the console (an uncaught error, a failed load, a warning from plotly).
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    # Each chart drew its marks: bars for the four bar charts, slices for the two donuts.
    assert dom.count('class="trace bars"') >= 4
    assert dom.count('class="slice') >= 2
    screenshot = tmp_path / "report.png"
    shot = subprocess.run(
        [browser, *CHROMIUM_FLAGS, "--window-size=1280,3000", f"--screenshot={screenshot}", url],
        capture_output=True, text=True, timeout=180,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000  # not a blank page


def test_report_command_writes_into_the_output_folder(run_output, capsys):
    assert cli.main(["report", str(run_output)]) == 0
    assert (run_output / "report.html").exists()
    assert "report written to" in capsys.readouterr().out
