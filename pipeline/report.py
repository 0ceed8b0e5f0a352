"""``newsbeam report OUT``: one self-contained HTML page drawing a run's output.

Charts are drawn by plotly (the ``report`` extra): its figures are interactive (hover for
counts, click a legend entry to hide a topic, zoom into days), and its whole JavaScript
library is inlined once, so the page opens with no network. matplotlib would give static
SVGs of the same charts; a desk reading which publisher ran which story on which day gains
more from hovering than the 4.8 MB of inlined script costs.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.sinks import ARTICLES, COPIES, DEAD_LETTERS
from pipeline.summary import read_output, read_summary

REPORT_FILE = "report.html"
# Syndication clusters listed on the page, largest first (the chart shows the same ones).
TOP_CLUSTERS = 30
TOP_PUBLISHERS = 25
CHART_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}


class ReportError(ValueError):
    """The folder is not a run's output (or cannot be read): one line for the user."""


@dataclass
class Output:
    """What one run wrote, reduced to what the page shows."""

    summary: dict | None
    articles: list[dict] = field(default_factory=list)
    copies: list[dict] = field(default_factory=list)
    dead_letters: list[dict] = field(default_factory=list)


_KEEP = ("id", "source", "url", "title", "publisher", "language", "topics", "published",
         "syndicated_from", "agency")


def load_output(folder: str) -> Output:
    """Read a run's output folder; ReportError when it holds no run's output."""
    if FileSystems.get_scheme(folder) is None and not os.path.isdir(folder):
        raise ReportError(f"{folder!r} is not a folder (give the --output folder of a run)")
    summary = read_summary(folder)
    output = Output(summary)
    found = summary is not None
    for kind, target in ((ARTICLES, output.articles), (COPIES, output.copies)):
        for record in read_output(folder, kind):
            found = True
            target.append({key: record.get(key) for key in _KEEP})
    for record in read_output(folder, DEAD_LETTERS):
        found = True
        output.dead_letters.append(
            {key: record.get(key) for key in ("source", "stage", "reason", "error")}
        )
    if not found:
        raise ReportError(
            f"{folder!r} holds no run's output (no summary.json, no articles/, copies/ or "
            "dead_letters/ Avro files)"
        )
    return output


# ---------------------------------------------------------------- the numbers behind each chart


def topic_days(articles: Iterable[dict]) -> dict[str, Counter[str]]:
    """Articles per topic per day ({topic: {day: n}}); untagged ones under "(no topic)"."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for record in articles:
        published = record.get("published")
        if not published:
            continue
        for topic in record.get("topics") or ["(no topic)"]:
            per[topic][published["date"]] += 1
    return dict(per)


@dataclass(frozen=True)
class Cluster:
    """One story and every publisher that ran it."""

    id: str
    title: str
    day: str | None
    publishers: tuple[str, ...]  # the canonical's first, then each copy's
    copies: int


def clusters(articles: list[dict], copies: list[dict]) -> list[Cluster]:
    """Syndication clusters, most publishers first: each canonical story with its copies."""
    by_id = {record["id"]: record for record in articles}
    members: dict[str, list[dict]] = defaultdict(list)
    for copy in copies:
        source = copy.get("syndicated_from") or {}
        members[source.get("canonical_id") or copy["id"]].append(copy)
    result = []
    for canonical_id, copied in members.items():
        story = by_id.get(canonical_id, copied[0])
        names = [_publisher(story)] + [_publisher(copy) for copy in copied]
        published = story.get("published") or {}
        result.append(Cluster(canonical_id, story.get("title") or "(untitled)",
                              published.get("date"), tuple(names), len(copied)))
    return sorted(result, key=lambda c: (-len(set(c.publishers)), -c.copies, c.day or "", c.id))


def _publisher(record: dict) -> str:
    return record.get("publisher") or record.get("agency") or _host(record) or "(unknown)"


def _host(record: dict) -> str | None:
    url = record.get("url")
    if not url:
        return None
    from urllib.parse import urlsplit

    return urlsplit(url).hostname


def dead_by_stage_reason(letters: Iterable[dict]) -> dict[str, Counter[str]]:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for letter in letters:
        per[letter["stage"]][letter["reason"]] += 1
    return dict(per)


def certainty_mix(stories: Iterable[dict]) -> Counter[str]:
    return Counter((r.get("published") or {}).get("certainty", "UNDATED") for r in stories)


# ---------------------------------------------------------------- charts


def _figures(output: Output) -> list[tuple[str, str, Any]]:
    """(anchor, heading, plotly figure) for each chart of the page."""
    import plotly.graph_objects as go

    stories = output.articles + output.copies
    layout = {"margin": {"l": 60, "r": 20, "t": 30, "b": 60}, "height": 380,
              "template": "plotly_white", "legend": {"orientation": "h", "y": -0.2}}
    charts = []

    per_topic = topic_days(output.articles)
    days = sorted({day for counts in per_topic.values() for day in counts})
    topic_fig = go.Figure(
        [go.Bar(name=topic, x=days, y=[per_topic[topic].get(d, 0) for d in days])
         for topic in sorted(per_topic)],
        layout={**layout, "barmode": "stack", "xaxis": {"type": "category", "title": "day"},
                "yaxis": _count_axis("articles", max(
                    (sum(per_topic[t].get(d, 0) for t in per_topic) for d in days), default=0))},
    )
    charts.append(("topics", "Articles per topic per day", topic_fig))

    top = clusters(output.articles, output.copies)[:TOP_CLUSTERS]
    cluster_fig = go.Figure(
        go.Bar(
            orientation="h",
            y=[_short(c.title, 60) for c in reversed(top)],
            x=[len(set(c.publishers)) for c in reversed(top)],
            hovertext=[", ".join(dict.fromkeys(c.publishers)) for c in reversed(top)],
            hoverinfo="text+x",
        ),
        layout={**layout, "height": max(260, 40 + 28 * len(top)),
                "xaxis": _count_axis("publishers that ran the story",
                                     max((len(set(c.publishers)) for c in top), default=0)),
                "margin": {**layout["margin"], "l": 360}},
    )
    charts.append(("syndication", "Syndicated stories: publishers per story", cluster_fig))

    dead = dead_by_stage_reason(output.dead_letters)
    stages = sorted(dead)
    reasons = sorted({reason for counts in dead.values() for reason in counts})
    dead_fig = go.Figure(
        [go.Bar(name=reason, x=stages, y=[dead[s].get(reason, 0) for s in stages])
         for reason in reasons],
        layout={**layout, "barmode": "stack", "xaxis": {"title": "stage", "type": "category"},
                "yaxis": _count_axis("dead letters",
                                     max((sum(c.values()) for c in dead.values()), default=0))},
    )
    charts.append(("dead-letters", "Dead letters by stage and reason", dead_fig))

    publishers = Counter(_publisher(r) for r in stories).most_common(TOP_PUBLISHERS)
    publisher_fig = go.Figure(
        go.Bar(orientation="h", y=[p for p, _ in reversed(publishers)],
               x=[n for _, n in reversed(publishers)]),
        layout={**layout, "height": max(260, 40 + 24 * len(publishers)),
                "xaxis": _count_axis("articles and copies", publishers[0][1] if publishers else 0),
                "margin": {**layout["margin"], "l": 220}},
    )
    charts.append(("publishers", "Publishers", publisher_fig))

    languages = Counter((r.get("language") or "unknown") for r in stories).most_common()
    language_fig = go.Figure(
        go.Pie(labels=[lang for lang, _ in languages], values=[n for _, n in languages],
               hole=0.45, sort=False),
        layout={**layout, "height": 320},
    )
    charts.append(("languages", "Languages", language_fig))

    mix = certainty_mix(stories)
    order = ["TIME_WITH_ZONE", "TIME_NO_ZONE", "DAY", "INFERRED_DAY", "UNDATED"]
    labels = [c for c in order if mix.get(c)] + sorted(set(mix) - set(order))
    certainty_fig = go.Figure(
        go.Pie(labels=labels, values=[mix[c] for c in labels], hole=0.45, sort=False),
        layout={**layout, "height": 360},
    )
    charts.append(("date-certainty", "How sure the publication dates are", certainty_fig))
    return charts


def _count_axis(title: str, most: int) -> dict[str, Any]:
    """An axis of whole counts: ticks at whole steps (never 0.5 of an article)."""
    return {"title": title, "rangemode": "tozero", "tick0": 0, "dtick": max(1, math.ceil(most / 6))}


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- the page


_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1dc}
main{max-width:1180px;margin:0 auto;padding:12px 24px 40px}
section{background:#fff;border:1px solid #e2e6ec;border-radius:8px;margin:18px 0;padding:14px 20px}
h2{font-size:17px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{color:#5a6473;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}.grid section{margin:0}
.figures{display:flex;gap:12px;flex-wrap:wrap}.figure{background:#f0f3f7;border-radius:6px;padding:8px 14px}
.figure b{display:block;font-size:22px}.muted{color:#6b7583}
#report-errors{display:none;background:#fde8e8;color:#8a1c1c;padding:10px 16px;white-space:pre-wrap}
@media(max-width:800px){.grid{grid-template-columns:1fr}}
"""

# Any script error on the page is shown at the top and counted, so a broken chart is seen
# (and the browser test reads the count).
_ERROR_CATCHER = """
window.newsbeamErrors = [];
window.addEventListener("error", function (e) {
  window.newsbeamErrors.push(String(e.message || e));
  var box = document.getElementById("report-errors");
  if (box) { box.style.display = "block"; box.textContent += (e.message || e) + "\\n"; }
  document.documentElement.setAttribute("data-errors", window.newsbeamErrors.length);
});
"""

_DRAWN_CHECK = """
window.addEventListener("load", function () {
  var charts = document.querySelectorAll(".chart");
  var drawn = 0;
  charts.forEach(function (c) { if (c.querySelector(".main-svg")) { drawn += 1; } });
  document.documentElement.setAttribute("data-charts", charts.length);
  document.documentElement.setAttribute("data-charts-drawn", drawn);
  document.documentElement.setAttribute("data-errors", window.newsbeamErrors.length);
});
"""


def _rows(rows: Iterable[Iterable[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    out = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{html.escape(str(v))}</td>' if i in numeric
            else f"<td>{html.escape(str(v))}</td>"
            for i, v in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    return "".join(out)


def _table(headings: list[str], rows: Iterable[Iterable[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(
        f'<th class="n">{html.escape(h)}</th>' if i in numeric else f"<th>{html.escape(h)}</th>"
        for i, h in enumerate(headings)
    )
    body = _rows(rows, numeric) or f'<tr><td colspan="{len(headings)}" class="muted">none</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary_section(output: Output) -> str:
    summary = output.summary
    if summary is None:
        return ('<section id="summary"><h2>The run</h2><p class="muted">No summary.json in this '
                "folder (a streaming run still going, or an older run): counts below are "
                "read from the Avro files.</p></section>")
    figures = [
        ("pages read", summary.get("pages_read")),
        ("articles", summary.get("articles_written")),
        ("syndicated copies", summary.get("syndicated_copies")),
        ("dead letters", summary.get("dead_letters")),
        ("seconds", summary.get("seconds")),
    ]
    boxes = "".join(
        f'<div class="figure"><b>{html.escape(str(v))}</b>{html.escape(k)}</div>'
        for k, v in figures
    )
    dated = summary.get("published_range") or {}
    facts = [
        ("inputs", _first_of(summary.get("inputs") or [])),
        ("output", summary.get("output", "")),
        ("published", f"{dated.get('first')} to {dated.get('last')} "
                      f"({dated.get('undated', 0)} undated)" if dated.get("first") else "—"),
        ("languages", _joined(summary.get("languages", {}))),
        ("articles per topic", _joined(summary.get("articles_per_topic", {}))),
        ("dead letters by reason", _joined(summary.get("dead_letters_by_reason", {}))),
        ("every page accounted for", "yes" if summary.get("accounted") else "NO"),
    ]
    stages = summary.get("stages") or []
    stage_rows = [
        (row["stage"], row["in"], row["out"], row["dead_letters"],
         "" if row.get("seconds") is None else row["seconds"])
        for row in stages
    ]
    return (
        f'<section id="summary"><h2>The run</h2><div class="figures">{boxes}</div>'
        f'<div class="grid" style="margin-top:14px"><div>{_table(["", ""], facts)}</div>'
        f'<div>{_table(["stage", "in", "out", "dead letters", "seconds"], stage_rows, {1, 2, 3, 4})}'
        "</div></div></section>"
    )


def _first_of(values: list[str], limit: int = 4) -> str:
    more = f" … and {len(values) - limit} more" if len(values) > limit else ""
    return " ".join(values[:limit]) + more


def _joined(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _cluster_table(output: Output) -> str:
    rows = [
        (c.day or "", c.title, len(set(c.publishers)), ", ".join(dict.fromkeys(c.publishers)))
        for c in clusters(output.articles, output.copies)[:TOP_CLUSTERS]
    ]
    return _table(["day", "story", "publishers", "who ran it"], rows, {2})


def _dead_table(output: Output) -> str:
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for letter in output.dead_letters:
        examples[(letter["stage"], letter["reason"])].append(letter["source"])
    rows = [
        (stage, reason, len(sources), ", ".join(sources[:3]) + (" …" if len(sources) > 3 else ""))
        for (stage, reason), sources in sorted(examples.items(), key=lambda kv: -len(kv[1]))
    ]
    return _table(["stage", "reason", "pages", "for example"], rows, {2})


def render(output: Output, title: str) -> str:
    """The whole page as one string: styles, plotly.js and the data inline."""
    from plotly.offline import get_plotlyjs

    charts = []
    for anchor, heading, figure in _figures(output):
        div = figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{anchor}",
                             config=CHART_CONFIG)
        charts.append((anchor, heading, f'<div class="chart">{div}</div>'))
    by_anchor = {anchor: (heading, div) for anchor, heading, div in charts}

    def section(anchor: str, extra: str = "") -> str:
        heading, div = by_anchor[anchor]
        return f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{div}{extra}</section>'

    undated = sum(1 for r in output.articles if not r.get("published"))
    note = (f'<p class="muted">{undated} undated articles are not on this chart.</p>'
            if undated else "")
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    body = (
        f"<header><h1>{html.escape(title)}</h1><p>newsbeam report · {len(output.articles)} "
        f"articles, {len(output.copies)} syndicated copies, {len(output.dead_letters)} dead "
        f"letters · made {html.escape(generated)}</p></header>"
        '<div id="report-errors"></div><main>'
        + _summary_section(output)
        + section("topics", note)
        + section("syndication", _cluster_table(output))
        + section("dead-letters", _dead_table(output))
        + '<div class="grid">' + section("publishers")
        + "<div>" + section("languages") + section("date-certainty") + "</div></div>"
        + "</main>"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_ERROR_CATCHER}</script>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        f"<script>{_DRAWN_CHECK}</script></head><body>{body}"
        f'<script type="application/json" id="newsbeam-summary">'
        f"{_json_for_script(output.summary)}</script></body></html>\n"
    )


def _json_for_script(value: Any) -> str:
    # "</" would end the script element early; JSON allows "<\/".
    return json.dumps(value, default=str).replace("</", "<\\/")


def write_report(folder: str, to: str | None = None) -> str:
    """Write the report of the run in ``folder``; returns the page's path."""
    try:
        import plotly  # noqa: F401 - the report extra
    except ImportError:
        raise ReportError(
            "the report needs plotly: pip install 'newsbeam[report]'"
        ) from None
    output = load_output(folder)
    path = to or FileSystems.join(folder, REPORT_FILE)
    page = render(output, f"newsbeam: {folder.rstrip('/')}")
    try:
        if FileSystems.get_scheme(path) is None:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(page)
        else:
            with FileSystems.create(path, "text/html") as handle:
                handle.write(page.encode("utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
