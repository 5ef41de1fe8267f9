"""Server-rendered SVG line charts for day-by-day series (the dashboard's score and rate trends).

Pure: no ORM, no JavaScript, nothing fetched. One `<polyline>` per run of consecutive days with a value (a
missing day breaks the line, so a gap shows as a gap) and a dot for a day standing alone; the y axis is
labelled with its two ends, the x axis with the first and last day; `<title>` and `<desc>` (which states
the series' minimum and maximum) are referenced by `aria-labelledby`. Every text is escaped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Number = Decimal | float | int


@dataclass(frozen=True)
class ChartBox:
    """The drawing's size and the margins around the plot area (in SVG user units)."""

    width: int = 320
    height: int = 120
    left: int = 44  # room for the y labels
    right: int = 8
    top: int = 10
    bottom: int = 22  # room for the x labels

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom


DEFAULT_BOX = ChartBox()


def coordinate(value: float) -> str:
    """One coordinate as written in the SVG: one decimal place."""
    return f"{value:.1f}"


@dataclass(frozen=True)
class ChartScale:
    """Maps a day and a value onto the plot area."""

    start: date
    days: int  # the number of days on the x axis (start included)
    low: float
    high: float
    box: ChartBox = DEFAULT_BOX

    def x(self, day: date) -> float:
        if self.days <= 1:
            return self.box.left + self.box.plot_width / 2
        return self.box.left + (day - self.start).days * self.box.plot_width / (self.days - 1)

    def y(self, value: Number) -> float:
        if self.high == self.low:  # a constant series: a level line through the middle
            return self.box.top + self.box.plot_height / 2
        return self.box.top + (self.high - float(value)) * self.box.plot_height / (self.high - self.low)


def runs(series: dict[date, Number], *, start: date, end: date) -> list[list[tuple[date, Number]]]:
    """The days from start to end (both included) with a value, cut where a day has none."""
    found: list[list[tuple[date, Number]]] = []
    current: list[tuple[date, Number]] = []
    day = start
    while day <= end:
        value = series.get(day)
        if value is None:
            if current:
                found.append(current)
                current = []
        else:
            current.append((day, value))
        day += timedelta(days=1)
    if current:
        found.append(current)
    return found


def line_chart(
    points: Iterable[tuple[date, Number | None]],
    *,
    start: date,
    end: date,
    chart_id: str,
    title: str,
    description: str = "",
    empty_text: str = "",
    y_min: Number | None = None,
    y_max: Number | None = None,
    value_format: Callable[[Number], str] = str,
    minimum_label: str = "min",
    maximum_label: str = "max",
    box: ChartBox = DEFAULT_BOX,
) -> SafeString:
    """An SVG line chart of (day, value) pairs between start and end (days outside are left out; a None
    value is a missing day). The y axis spans [y_min, y_max] when given, widened to hold every value;
    otherwise the series' own range. Labels are plain strings, escaped here (pass them translated)."""
    series = {day: value for day, value in points if value is not None and start <= day <= end}
    values = list(series.values())
    days = (end - start).days + 1
    # The axis ends, kept in their own type (a Decimal label stays exact).
    low = min([*values, *([y_min] if y_min is not None else [])], key=float, default=0)
    high = max([*values, *([y_max] if y_max is not None else [])], key=float, default=0)
    scale = ChartScale(start=start, days=days, low=float(low), high=float(high), box=box)
    chart_runs = runs(series, start=start, end=end)

    summary = description
    if values:
        lowest, highest = min(values, key=float), max(values, key=float)
        summary = (
            f"{description} {minimum_label} {value_format(lowest)}, {maximum_label} {value_format(highest)}."
        ).strip()
    elif empty_text:
        summary = f"{description} {empty_text}".strip()

    ident = escape(chart_id)
    bottom = box.top + box.plot_height
    right = box.left + box.plot_width
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {box.width} {box.height}" '
        f'width="{box.width}" height="{box.height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" id="{ident}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(summary)}</desc>',
        f'<g class="axes"><line x1="{box.left}" y1="{box.top}" x2="{box.left}" y2="{bottom}"/>'
        f'<line x1="{box.left}" y1="{bottom}" x2="{right}" y2="{bottom}"/></g>',
    ]
    if values:
        labels = [(box.top + 4, high)] if float(high) == float(low) else [(box.top + 4, high), (bottom, low)]
        parts.append('<g class="y-labels" text-anchor="end">')
        for y, value in labels:
            parts.append(f'<text x="{box.left - 4}" y="{coordinate(y)}">{escape(value_format(value))}</text>')
        parts.append("</g>")
    label_y = box.height - 6
    parts.append(
        f'<g class="x-labels"><text x="{box.left}" y="{label_y}" text-anchor="start">{start.isoformat()}</text>'
        f'<text x="{right}" y="{label_y}" text-anchor="end">{end.isoformat()}</text></g>'
    )
    if not values:
        middle_y = box.top + box.plot_height / 2
        parts.append(
            f'<text class="empty" x="{coordinate(box.left + box.plot_width / 2)}" y="{coordinate(middle_y)}" '
            f'text-anchor="middle">{escape(empty_text)}</text>'
        )
    for run in chart_runs:
        coordinates = " ".join(f"{coordinate(scale.x(day))},{coordinate(scale.y(v))}" for day, v in run)
        parts.append(f'<polyline class="line" fill="none" points="{coordinates}"/>')
        if len(run) == 1:
            day, value = run[0]
            parts.append(
                f'<circle class="dot" cx="{coordinate(scale.x(day))}" cy="{coordinate(scale.y(value))}" r="2"/>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above went through escape()
