"""The panel's SVG charts and figures: every mark where its figure puts it, axes that hold
every value, text from users (class labels) escaped, processors read as what they do."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from batchscore.api import charts, figures
from batchscore.db.workers import WorkerRecord

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(markup: str) -> ET.Element:
    """The chart as XML (it must be well-formed), with the SVG namespace a page gives it."""
    return ET.fromstring(
        str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


def tick_values(chart: ET.Element) -> list[float]:
    return [
        float(t.text.replace(",", ""))
        for t in chart.iterfind("svg:text[@text-anchor='end']", NS)
        if t.text
    ]


def test_a_line_has_one_point_per_version_higher_for_the_better_score() -> None:
    chart = parse(charts.line([("v1", 0.81), ("v2", 0.93), ("v3", 0.88)], title="Accuracy"))

    points = chart.findall("svg:circle", NS)
    assert [p.findtext("svg:title", namespaces=NS) for p in points] == [
        "v1: 0.81",
        "v2: 0.93",
        "v3: 0.88",
    ]
    heights = [float(p.get("cy", "nan")) for p in points]
    assert heights[1] < heights[2] < heights[0]  # SVG's y grows downwards
    assert chart.get("aria-label") == "Accuracy"
    ticks = tick_values(chart)
    assert min(ticks) <= 0.81 and max(ticks) >= 0.93


@pytest.mark.parametrize(
    "values", [[0.5], [3.0, 3.0], [0.0], [-4.0, 12.5], [1e-4, 2e-4], [120_000.0, 480_000.0]]
)
def test_the_axis_holds_every_value_in_round_steps(values: list[float]) -> None:
    low, high = charts._range(values)
    ticks = charts._ticks(low, high)

    assert low <= min(values) and max(values) <= high and low < high
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and 2 <= len(ticks) <= 11
    mantissa = f"{steps.pop():e}".split("e")[0]
    assert float(mantissa) in (1.0, 2.0, 5.0)


def test_bars_are_as_long_as_their_share_and_labels_are_escaped() -> None:
    markup = charts.bars([("<b>setosa</b>", 0.75), ("virginica & co", 0.25)], title="P", share=True)
    chart = parse(markup)

    rects = chart.findall("svg:rect", NS)
    widths = [float(r.get("width", "nan")) for r in rects]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.2)  # drawn to a tenth of a unit
    assert [r.findtext("svg:title", namespaces=NS) for r in rects] == [
        "<b>setosa</b>: 75.0%",
        "virginica & co: 25.0%",
    ]
    assert "<b>" not in markup and "&lt;b&gt;setosa" in markup


def test_columns_count_rows_per_bin_with_its_edges_in_the_tooltip() -> None:
    chart = parse(charts.columns([0.0, 10.0, 20.0, 30.0], [5, 20, 10], title="Predictions"))

    rects = chart.findall("svg:rect", NS)
    assert [r.findtext("svg:title", namespaces=NS) for r in rects] == [
        "0 to 10: 5 rows",
        "10 to 20: 20 rows",
        "20 to 30: 10 rows",
    ]
    tallest = [float(r.get("height", "nan")) for r in rects]
    assert tallest[1] == pytest.approx(4 * tallest[0])


def test_a_scatter_puts_perfect_predictions_on_the_diagonal() -> None:
    chart = parse(
        charts.scatter(
            [(10.0, 10.0), (30.0, 30.0), (20.0, 25.0)], title="t", x_label="a", y_label="p"
        )
    )

    line = chart.find("svg:line[@class='diagonal']", NS)
    assert line is not None
    x1, y1, x2, y2 = (float(line.get(k, "nan")) for k in ("x1", "y1", "x2", "y2"))
    dots = chart.findall("svg:circle", NS)
    assert len(dots) == 3
    for dot, on_line in zip(dots, (True, True, False), strict=True):
        cx, cy = float(dot.get("cx", "nan")), float(dot.get("cy", "nan"))
        expected_y = y1 + (cx - x1) * (y2 - y1) / (x2 - x1)
        assert (cy == pytest.approx(expected_y, abs=0.1)) is on_line


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.974, "0.974"), (0.5, "0.5"), (22.53, "22.5"), (1234.5, "1,234"), (3.0, "3"), (0.0, "0")],
)
def test_figures_read_as_people_write_them(value: float, text: str) -> None:
    assert charts.number(value) == text
    assert re.fullmatch(r"-?[\d,.]+(e[-+]\d+)?", text)


@pytest.mark.parametrize(
    ("job_id", "stopped", "seen_ago", "state"),
    [
        (7, False, 5.0, "working"),
        (None, False, 5.0, "idle"),
        (None, True, 5.0, "stopped"),
        (None, False, 600.0, "silent"),
    ],
)
def test_a_processor_reads_as_what_it_is_doing(
    job_id: int | None, stopped: bool, seen_ago: float, state: str
) -> None:
    now = datetime(2026, 12, 4, 12, 0)
    worker = WorkerRecord(
        worker_id="scorer-1.example.org:4242:aaaa1111",
        role="worker",
        started_at=now,
        last_seen_at=now,
        stopped_at=now if stopped else None,
        jobs_done=3,
        seen_seconds_ago=seen_ago,
        job_id=job_id,
    )
    line = figures.processor_line(worker)
    assert (line.state, line.host, line.job_id) == (state, "scorer-1.example.org", job_id)


def test_an_accuracys_axis_stops_at_one() -> None:
    capped = tick_values(parse(charts.line([("v1", 0.97)], title="Accuracy", most=1.0)))
    free = tick_values(parse(charts.line([("v1", 0.97)], title="Accuracy")))

    assert max(capped) == 1.0 and max(free) > 1.0
