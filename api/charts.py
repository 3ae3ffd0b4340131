"""Small charts drawn on the server as SVG: no script, no CDN, nothing the CSP must allow.

Each function returns markup for a page. A chart is laid out in a fixed viewBox that CSS scales
to its card (panel.css `.chart`); colours and fonts come from the stylesheet too, so a chart
looks like the rest of the panel. Every chart has a title for screen readers, and each mark a
<title> tooltip with its exact figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 34  # room for the axes' labels
BAR_ROW = 26  # height of one horizontal bar's row


def number(value: float) -> str:
    """A figure as a chart label shows it: three significant digits, thousands separated."""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1 else f"{value:.3f}".rstrip("0")


def line(points: Sequence[tuple[str, float]], *, title: str, most: float | None = None) -> Markup:
    """Values across categories in order, e.g. a metric across a model's versions; `most`
    caps the axis where no value can go (1 for an accuracy)."""
    values = [value for _, value in points]
    low, high = _range(values)
    if most is not None and high > most >= max(values):
        high = most
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return _scale(v, low, high, HEIGHT - BOTTOM, TOP)

    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    marks = [
        f'<polyline class="series" points="{path}"/>',
        *(
            f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4">'
            f"<title>{escape(label)}: {number(v)}</title></circle>"
            f'<text class="label" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{escape(label)}</text>'
            for i, (label, v) in enumerate(points)
        ),
    ]
    return _svg(title, HEIGHT, [*_y_axis(low, high, y), *marks])


def bars(items: Sequence[tuple[str, float]], *, title: str, share: bool = False) -> Markup:
    """One horizontal bar per item, longest = the largest; `share` labels values as percents."""
    height = TOP + BAR_ROW * max(len(items), 1) + 8
    label_w, value_w = 120, 64
    plot_w = WIDTH - label_w - value_w
    top = max((value for _, value in items), default=0) or 1
    marks = []
    for i, (label, value) in enumerate(items):
        y = TOP + i * BAR_ROW
        text = f"{value:.1%}" if share else number(value)
        marks.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(_clip(label, 18))}<title>{escape(label)}</title></text>"
            f'<rect class="bar" x="{label_w}" y="{y + 4}" height="{BAR_ROW - 8}" '
            f'width="{max(plot_w * value / top, 1):.1f}">'
            f"<title>{escape(label)}: {text}</title></rect>"
            f'<text class="value" x="{label_w + plot_w * value / top + 6:.1f}" y="{y + 16}">'
            f"{text}</text>"
        )
    return _svg(title, height, marks)


def columns(edges: Sequence[float], counts: Sequence[int], *, title: str) -> Markup:
    """A histogram: counts[i] rows fall in [edges[i], edges[i + 1])."""
    low, high = _range([0, *counts])
    plot_w = WIDTH - LEFT - RIGHT
    width = plot_w / max(len(counts), 1)

    def y(v: float) -> float:
        return _scale(v, low, high, HEIGHT - BOTTOM, TOP)

    marks = [
        f'<rect class="bar" x="{LEFT + i * width + 1:.1f}" y="{y(count):.1f}" '
        f'width="{max(width - 2, 1):.1f}" height="{y(0) - y(count):.1f}">'
        f"<title>{number(edges[i])} to {number(edges[i + 1])}: {count:,} rows</title></rect>"
        for i, count in enumerate(counts)
    ]
    ticks = sorted({0, len(counts) // 2, len(counts)})
    marks += [
        f'<text class="label" x="{LEFT + i * width:.1f}" y="{HEIGHT - BOTTOM + 18}" '
        f'text-anchor="middle">{number(edges[i])}</text>'
        for i in ticks
    ]
    return _svg(title, HEIGHT, [*_y_axis(low, high, y), *marks])


def pairs(
    labels: Sequence[str], first: Sequence[float], second: Sequence[float], *, title: str
) -> Markup:
    """Two shares per category side by side (first hollow, second filled), e.g. a feature's
    spread in training against a job's."""
    low, high = _range([0, *first, *second])
    plot_w = WIDTH - LEFT - RIGHT
    width = plot_w / max(len(labels), 1)

    def y(v: float) -> float:
        return _scale(v, low, high, HEIGHT - BOTTOM, TOP)

    marks = []
    for i, (label, a, b) in enumerate(zip(labels, first, second, strict=True)):
        x = LEFT + i * width
        for offset, share, kind in ((0.1, a, "then"), (0.5, b, "bar")):
            marks.append(
                f'<rect class="{kind}" x="{x + width * offset:.1f}" y="{y(share):.1f}" '
                f'width="{width * 0.4:.1f}" height="{y(0) - y(share):.1f}">'
                f"<title>{escape(label)}: {share:.1%}</title></rect>"
            )
    ends = sorted({0, len(labels) - 1})
    marks += [
        f'<text class="label" x="{LEFT + (i + 0.5) * width:.1f}" y="{HEIGHT - BOTTOM + 18}" '
        f'text-anchor="middle">{escape(_clip(labels[i], 14))}</text>'
        for i in ends
    ]
    return _svg(title, HEIGHT, [*_y_axis(low, high, y), *marks])


def scatter(
    points: Sequence[tuple[float, float]], *, title: str, x_label: str, y_label: str
) -> Markup:
    """Points (x, y) on the same scale for both axes, with the line y = x: predicted against
    actual, where a perfect model puts every point on the line. A square plot."""
    low, high = _range([v for point in points for v in point])
    size = HEIGHT - TOP - BOTTOM
    width, height = LEFT + size + 80, HEIGHT + 16  # room for the axes' names

    def x(v: float) -> float:
        return _scale(v, low, high, LEFT, LEFT + size)

    def y(v: float) -> float:
        return _scale(v, low, high, HEIGHT - BOTTOM, TOP)

    marks = [
        f'<line class="diagonal" x1="{x(low):.1f}" y1="{y(low):.1f}" '
        f'x2="{x(high):.1f}" y2="{y(high):.1f}"/>',
        *(
            f'<circle class="dot" cx="{x(a):.1f}" cy="{y(b):.1f}" r="2.5">'
            f"<title>{escape(x_label)} {number(a)}, {escape(y_label)} {number(b)}</title></circle>"
            for a, b in points
        ),
        f'<text class="label" x="{LEFT + size / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle">{escape(x_label)} →</text>',
        f'<text class="label" x="{LEFT + size + 8:.1f}" y="{TOP + 10}">↑ {escape(y_label)}</text>',
        *(
            f'<text class="label" x="{x(t):.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{number(t)}</text>'
            for t in _ticks(low, high)
        ),
    ]
    return _svg(title, height, [*_y_axis(low, high, y, right=LEFT + size), *marks], width)


def sparkline(values: Sequence[float], *, title: str) -> Markup:
    """A small line without axes, e.g. jobs per minute over the last hour."""
    width, height, pad = 160, 32, 3
    top = max(values, default=0) or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = " ".join(
        f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * v / top:.1f}"
        for i, v in enumerate(values)
    )
    line = f'<polyline class="series" points="{points}"/>'
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{line}</svg>'
    )


def _svg(title: str, height: int, marks: Sequence[str], width: int = WIDTH) -> Markup:
    body = "".join(marks)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _y_axis(
    low: float, high: float, y: Callable[[float], float], right: float = WIDTH - RIGHT
) -> list[str]:
    return [
        f'<line class="grid" x1="{LEFT}" x2="{right:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text class="label" x="{LEFT - 6}" y="{y(t) + 4:.1f}" '
        f'text-anchor="end">{number(t)}</text>'
        for t in _ticks(low, high)
    ]


def _range(values: Sequence[float]) -> tuple[float, float]:
    """Round bounds that hold every value (a flat series gets some room around it)."""
    low, high = min(values, default=0.0), max(values, default=1.0)
    if low == high:
        pad = abs(low) / 10 or 1
        low, high = low - pad, high + pad
    step = _step(low, high)
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _step(low: float, high: float) -> float:
    """A 1, 2 or 5 times a power of ten that cuts [low, high] into about four parts."""
    raw = (high - low) / 4
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _ticks(low: float, high: float) -> list[float]:
    step = _step(low, high)
    count = round((high - low) / step)
    return [round(low + i * step, 12) for i in range(count + 1)]


def _scale(v: float, low: float, high: float, start: float, end: float) -> float:
    return start + (v - low) / (high - low) * (end - start)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
