"""Server-rendered SVG line charts for the dashboard: nothing fetched, admin colours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 26

Point = tuple[datetime, "float | None"]


def _segments(points: list[Point], x: Callable, y: Callable) -> list[str]:
    """Polyline point lists, broken where a value is missing."""
    segments: list[list[str]] = []
    current: list[str] = []
    for taken_at, value in points:
        if value is None:
            if current:
                segments.append(current)
            current = []
            continue
        current.append(f"{x(taken_at):.1f},{y(value):.1f}")
    if current:
        segments.append(current)
    return [" ".join(seg) for seg in segments]


def line_chart(
    points: list[Point],
    *,
    title: str,
    start: datetime,
    end: datetime,
    label: Callable[[float], str],
    y_max: float | None = None,
) -> SafeString:
    """An SVG chart of ``points`` between ``start`` and ``end``, scaled from 0."""
    values = [v for _, v in points if v is not None]
    if len(values) < 2:
        return format_html(
            '<p class="distcache-chart-empty">{}: not enough history yet.</p>', title
        )
    top = y_max if y_max is not None else max(values) or 1
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + plot_w * max(0.0, (moment - start).total_seconds()) / span

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, top) / top)

    lines = format_html_join(
        "",
        '<polyline class="distcache-line" points="{}"/>',
        ((seg,) for seg in _segments(points, x, y)),
    )
    dots = format_html_join(
        "",
        '<circle class="distcache-dot" cx="{}" cy="{}" r="2"><title>{}: {}</title></circle>',
        (
            (f"{x(t):.1f}", f"{y(v):.1f}", f"{t:%H:%M}", label(v))
            for t, v in points
            if v is not None
        ),
    )
    axes = format_html(
        '<line class="distcache-axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>'
        '<line class="distcache-axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
        '<text class="distcache-tick" x="{tx}" y="{ty_top}" text-anchor="end">{top}</text>'
        '<text class="distcache-tick" x="{tx}" y="{b}" text-anchor="end">{zero}</text>'
        '<text class="distcache-tick" x="{l}" y="{ty_x}">{start}</text>'
        '<text class="distcache-tick" x="{r}" y="{ty_x}" text-anchor="end">{end}</text>',
        l=LEFT,
        r=WIDTH - RIGHT,
        t=TOP,
        b=HEIGHT - BOTTOM,
        tx=LEFT - 6,
        ty_top=TOP + 10,
        ty_x=HEIGHT - 6,
        top=label(top),
        zero=label(0),
        start=f"{start:%H:%M}",
        end=f"{end:%H:%M}",
    )
    return format_html(
        '<svg class="distcache-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}">'
        "<title>{title}</title>{axes}{lines}{dots}</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        axes=axes,
        lines=lines or mark_safe(""),
        dots=dots,
    )
