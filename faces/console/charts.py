"""Bar charts drawn on the server as SVG geometry: no script, nothing fetched.

The template turns a :class:`BarChart` into ``<rect>`` elements; colours come from CSS
classes, so the chart follows the stylesheet and the page's content security policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.core.clock import HUB_TZ
from hub.store.stats import DestinationSeries, Series

__all__ = ["Bar", "BarChart", "Segment", "TrafficChart", "bar_chart", "traffic_chart"]

WIDTH = 600
HEIGHT = 140
LEFT = 34  # room for the scale
BOTTOM = 18  # room for the time labels


@dataclass(frozen=True, slots=True)
class Segment:
    """One coloured piece of a stacked bar."""

    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True, slots=True)
class Bar:
    """A bar: its pieces and the tooltip text."""

    segments: tuple[Segment, ...]
    title: str


@dataclass(frozen=True, slots=True)
class BarChart:
    """Everything the template draws."""

    width: int
    height: int
    left: int
    bottom: int
    peak: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[float, str], ...]
    total: int


@dataclass(frozen=True, slots=True)
class TrafficChart:
    """A counterpart's attempts as stacked bars (delivered, retried, dead: the errors in
    colour) with its mean attempt time drawn over them as a line on a scale of its own."""

    bars: BarChart
    latency: str
    latency_peak_ms: int
    errors: int


def bar_chart(
    series: Series,
    categories: Sequence[tuple[str, str]],
    *,
    describe: Callable[[str], str],
    label_every: int,
    time_format: str = "%H:%M",
) -> BarChart:
    """Lay out a stacked bar chart of ``series``.

    Args:
        series: The buckets.
        categories: ``(category, css class)`` in stacking order, bottom first; counts of
            categories not listed are stacked on top as ``other``.
        describe: Turns a category into words for tooltips (translated).
        label_every: Label every n-th bar with its start time.
        time_format: ``strftime`` format of the labels, in the hub's timezone.
    """
    plot_w = WIDTH - LEFT
    plot_h = HEIGHT - BOTTOM
    count = max(len(series.buckets), 1)
    slot = plot_w / count
    gap = min(2.0, slot * 0.2)
    peak = series.peak
    known = {name for name, _ in categories}
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for index, bucket in enumerate(series.buckets):
        x = LEFT + index * slot + gap / 2
        base = float(plot_h)
        segments: list[Segment] = []
        stacked = [(name, css, bucket.counts.get(name, 0)) for name, css in categories]
        other = sum(n for name, n in bucket.counts.items() if name not in known)
        stacked.append(("other", "other", other))
        parts: list[str] = []
        for name, css, number in stacked:
            if not number:
                continue
            height = plot_h * number / peak
            base -= height
            segments.append(
                Segment(round(x, 1), round(base, 1), round(slot - gap, 1), round(height, 1), css)
            )
            parts.append(f"{describe(name)} {number}")
        start = bucket.start.astimezone(HUB_TZ).strftime(time_format)
        end = bucket.end.astimezone(HUB_TZ).strftime(time_format)
        title = f"{start}–{end}: " + (", ".join(parts) if parts else "0")
        bars.append(Bar(tuple(segments), title))
        if index % label_every == 0:
            labels.append((round(x, 1), start))
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        bottom=BOTTOM,
        peak=peak,
        bars=tuple(bars),
        labels=tuple(labels),
        total=series.total,
    )


def traffic_chart(
    series: DestinationSeries,
    categories: Sequence[tuple[str, str]],
    *,
    describe: Callable[[str], str],
    label_every: int,
    time_format: str = "%H:%M",
) -> TrafficChart:
    """Lay out one counterpart's chart (see :class:`TrafficChart`)."""
    bars = bar_chart(
        series.attempts,
        categories,
        describe=describe,
        label_every=label_every,
        time_format=time_format,
    )
    plot_w = WIDTH - LEFT
    plot_h = HEIGHT - BOTTOM
    count = max(len(series.mean_ms), 1)
    slot = plot_w / count
    known = [m for m in series.mean_ms if m is not None]
    peak = max([*known, 1.0])
    points = [
        f"{LEFT + (i + 0.5) * slot:.1f},{plot_h - (plot_h - 4) * mean / peak:.1f}"
        for i, mean in enumerate(series.mean_ms)
        if mean is not None
    ]
    errors = series.attempts.category_total("retry") + series.attempts.category_total("dead")
    return TrafficChart(
        bars=bars, latency=" ".join(points), latency_peak_ms=round(peak), errors=errors
    )
