"""SVG trend charts: valid XML, the exact points, gaps, and the edge cases (no data, one day, flat)."""

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

from merchants.charts import ChartBox, line_chart

SVG = "{http://www.w3.org/2000/svg}"
START = date(2026, 1, 1)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def polylines(root: ET.Element) -> list[str]:
    return [p.get("points") for p in root.iter(f"{SVG}polyline")]


def dots(root: ET.Element) -> list[tuple[str, str]]:
    return [(c.get("cx"), c.get("cy")) for c in root.iter(f"{SVG}circle")]


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def chart(points, *, end=None, **kwargs):
    kwargs.setdefault("chart_id", "c1")
    kwargs.setdefault("title", "Late dispatch rate")
    return line_chart(points, start=START, end=end or START + timedelta(days=4), **kwargs)


def test_a_known_series_gives_exactly_these_points_and_a_gap_for_the_missing_day():
    # 5 days on a 268-unit-wide plot from x=44: 67 units a day; values 10..30 on 88 units from y=10.
    series = [
        (START, Decimal("10")),
        (START + timedelta(days=1), Decimal("20")),
        (START + timedelta(days=2), None),  # missing: the line breaks
        (START + timedelta(days=3), Decimal("30")),
        (START + timedelta(days=9), Decimal("99")),  # outside the window: left out
    ]
    root = parse(chart(series, description="Share of orders dispatched late."))

    assert polylines(root) == ["44.0,98.0 111.0,54.0", "245.0,10.0"]
    assert dots(root) == [("245.0", "10.0")]  # the day standing alone is drawn as a dot too
    assert root.get("viewBox") == "0 0 320 120"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Late dispatch rate"
    assert root.find(f"{SVG}desc").text == "Share of orders dispatched late. min 10, max 30."
    assert texts(root) == ["30", "10", "2026-01-01", "2026-01-05"]  # y axis ends, then the first and last day


def test_an_empty_series_is_a_valid_chart_with_its_message_and_no_line():
    root = parse(chart([], empty_text="No score yet.", description="Daily experience score."))

    assert polylines(root) == []
    assert dots(root) == []
    assert root.find(f"{SVG}desc").text == "Daily experience score. No score yet."
    assert texts(root) == ["2026-01-01", "2026-01-05", "No score yet."]


def test_a_single_point_sits_in_the_middle_as_a_dot():
    root = parse(chart([(START, Decimal("0.95"))], end=START, value_format=lambda v: f"{v:.0%}"))

    assert polylines(root) == ["178.0,54.0"]
    assert dots(root) == [("178.0", "54.0")]
    assert root.find(f"{SVG}desc").text == "min 95%, max 95%."
    assert texts(root) == ["95%", "2026-01-01", "2026-01-01"]  # one y label: both ends are the same


def test_a_constant_series_is_a_level_line_through_the_middle():
    series = [(START + timedelta(days=d), Decimal("0.5")) for d in range(3)]
    root = parse(chart(series, end=START + timedelta(days=2)))

    assert polylines(root) == ["44.0,54.0 178.0,54.0 312.0,54.0"]
    assert dots(root) == []


def test_a_fixed_range_places_values_on_it_and_widens_for_values_beyond():
    score = [(START, Decimal("75")), (START + timedelta(days=1), Decimal("100"))]
    root = parse(chart(score, end=START + timedelta(days=1), y_min=50, y_max=100))
    assert polylines(root) == ["44.0,54.0 312.0,10.0"]
    assert texts(root)[:2] == ["100", "50"]

    low = [(START, Decimal("40")), (START + timedelta(days=1), Decimal("90"))]
    root = parse(chart(low, end=START + timedelta(days=1), y_min=50, y_max=100))
    assert polylines(root) == ["44.0,98.0 312.0,24.7"]  # 40 is the new bottom: 90 at 10 + 10 × 88 / 60 = 24.7
    assert texts(root)[:2] == ["100", "40"]


def test_every_text_is_escaped():
    title = 'Taux <b>"rate"</b> & co'
    svg = chart([(START, 1)], title=title, description="<script>alert(1)</script>", chart_id='x" onload="y')
    root = parse(svg)

    assert "<script>" not in svg and "<b>" not in svg
    assert root.find(f"{SVG}title").text == title
    assert root.find(f"{SVG}desc").text == "<script>alert(1)</script> min 1, max 1."
    assert root.get("id") == 'x" onload="y'
    assert root.get("onload") is None


def test_a_custom_box_scales_the_coordinates():
    box = ChartBox(width=200, height=100, left=0, right=0, top=0, bottom=0)
    root = parse(chart([(START, 0), (START + timedelta(days=1), 10)], end=START + timedelta(days=1), box=box))
    assert polylines(root) == ["0.0,100.0 200.0,0.0"]
