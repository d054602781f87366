"""Bar charts as inline SVG text: no JavaScript, no fonts or files from the network.

Two shapes cover the audit report: horizontal stacked bars (one bar per category) and
vertical stacked bars (one bar per month). Every chart carries a ``<title>`` for screen
readers and each bar segment a tooltip with its exact count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "hbars", "vbars"]

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_CHAR_PX = 6.6  # average glyph width at 12 px, to size label columns
_MAX_LABEL = 58  # characters; longer labels are cut and shown whole in the tooltip


@dataclass(frozen=True)
class Series:
    name: str
    colour: str


def _label(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _nice(value: float) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _scale(total: int) -> int:
    """A round axis maximum at or above ``total`` (1, 2, 5 x 10^n)."""
    return _nice(total)


def _legend_width(series: Sequence[Series]) -> float:
    return sum(16 + len(s.name) * _CHAR_PX + 18 for s in series)


def _tip(name: str, series: Series, value: int) -> str:
    return f"<title>{escape(name)}: {escape(series.name)} {value:,}</title>"


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for s in series:
        parts.append(
            f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{s.colour}"/>'
        )
        parts.append(f'<text x="{x + 16:.0f}" y="{y:.0f}" {_FONT}>{escape(s.name)}</text>')
        x += 16 + len(s.name) * _CHAR_PX + 18
    return parts


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f"<title>{escape(title)}</title>"
    )
    return head + "".join(body) + "</svg>"


def hbars(title: str, rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[Series]) -> str:
    """One horizontal bar per row, stacked by series; the count is printed after each bar."""
    label_w = min(_MAX_LABEL, max((len(r[0]) for r in rows), default=4)) * _CHAR_PX + 12
    plot_w, bar_h, gap = 420.0, 18.0, 6.0
    top = 30.0 if len(series) > 1 else 8.0
    height = top + len(rows) * (bar_h + gap) + 8
    width = max(label_w + plot_w + 70, label_w + _legend_width(series))
    top_total = max((sum(v) for _, v in rows), default=0)
    axis = _scale(max(top_total, 1))
    body = _legend(series, label_w, 16) if len(series) > 1 else []
    for i, (name, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        body.append(
            f'<text x="{label_w - 8:.0f}" y="{y + 13:.0f}" text-anchor="end" {_FONT}>'
            f"<title>{escape(name)}</title>{escape(_label(name))}</text>"
        )
        x = label_w
        for value, s in zip(values, series, strict=True):
            w = plot_w * value / axis
            if value:
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.0f}" width="{max(w, 1):.1f}" height="{bar_h:.0f}" '
                    f'fill="{s.colour}">{_tip(name, s, value)}</rect>'
                )
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 13:.0f}" {_FONT}>{sum(values):,}</text>')
    return _svg(width, height, title, body)


def vbars(
    title: str, columns: Sequence[tuple[str, Sequence[int]]], series: Sequence[Series]
) -> str:
    """One vertical bar per column (e.g. a month), stacked by series, with a y axis."""
    plot_h, left, bar_w, gap = 200.0, 56.0, 22.0, 8.0
    top, bottom = 30.0, 56.0
    width = left + max(len(columns), 1) * (bar_w + gap) + 20
    width = max(width, 360.0, left + _legend_width(series))
    height = top + plot_h + bottom
    step = _nice(max((sum(v) for _, v in columns), default=1) / 4)  # four round ticks
    axis = 4 * step
    body = _legend(series, left, 16)
    for tick in range(5):
        value = step * tick
        y = top + plot_h - plot_h * tick / 4
        body.append(
            f'<line x1="{left:.0f}" x2="{width - 10:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        body.append(
            f'<text x="{left - 6:.0f}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{value:,}</text>'
        )
    for i, (name, values) in enumerate(columns):
        x = left + gap + i * (bar_w + gap)
        y = top + plot_h
        for value, s in zip(values, series, strict=True):
            h = plot_h * value / axis
            if value:
                body.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{bar_w:.0f}" height="{h:.1f}" '
                    f'fill="{s.colour}">{_tip(name, s, value)}</rect>'
                )
            y -= h
        lx, ly = x + bar_w / 2, top + plot_h + 10
        body.append(
            f'<text x="{lx:.1f}" y="{ly:.0f}" text-anchor="end" '
            f'transform="rotate(-60 {lx:.1f} {ly:.0f})" {_FONT}>{escape(name)}</text>'
        )
    return _svg(width, height, title, body)
