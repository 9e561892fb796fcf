"""Small inline SVG charts for the HTML report: no script, no external asset."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

STATUS_COLOURS = {
    "passed": "#2e7d32",
    "xfailed": "#8d6e63",
    "skipped": "#9e9e9e",
    "caller_broke": "#f9a825",
    "xpassed": "#6a1b9a",
    "error": "#e65100",
    "failed": "#c62828",
}
_SERIES = ("#1565c0", "#2e7d32", "#6a1b9a", "#e65100", "#00838f", "#ad1457")
_LABEL_W = 230
_BAR_W = 360
_ROW_H = 22


def bars(title: str, rows: Sequence[tuple[str, float | None]]) -> str:
    """Horizontal bars of shares (0..1), labelled with percentages; None shows as n/a."""
    height = 30 + _ROW_H * len(rows)
    parts = [_open(title, _LABEL_W + _BAR_W + 60, height)]
    for i, (label, value) in enumerate(rows):
        y = 26 + i * _ROW_H
        parts.append(_text(4, y + 13, label))
        parts.append(_rect(_LABEL_W, y, _BAR_W, 16, "#eceff1"))
        if value is not None:
            parts.append(_rect(_LABEL_W, y, _BAR_W * max(0.0, min(1.0, value)), 16, "#1565c0"))
        shown = f"{value:.0%}" if value is not None else "n/a"
        parts.append(_text(_LABEL_W + _BAR_W + 6, y + 13, shown))
    return "".join(parts) + "</svg>"


def stacked(title: str, rows: Sequence[tuple[str, dict[str, int]]]) -> str:
    """One stacked bar per row of counts by status, with a legend."""
    height = 50 + _ROW_H * len(rows)
    parts = [_open(title, _LABEL_W + _BAR_W + 60, height)]
    for i, (label, counts) in enumerate(rows):
        y = 26 + i * _ROW_H
        total = sum(counts.values()) or 1
        parts.append(_text(4, y + 13, label))
        x = float(_LABEL_W)
        for status, colour in STATUS_COLOURS.items():
            width = _BAR_W * counts.get(status, 0) / total
            if width:
                parts.append(_rect(x, y, width, 16, colour, f"{status}: {counts[status]}"))
                x += width
        parts.append(_text(_LABEL_W + _BAR_W + 6, y + 13, str(sum(counts.values()))))
    parts.append(_legend(height - 14, list(STATUS_COLOURS.items())))
    return "".join(parts) + "</svg>"


def lines(title: str, series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """pass^k curves: k on the x axis, 0..100% on the y axis, one line per series."""
    width, height, left, top, plot_w, plot_h = 560, 230, 44, 26, 480, 150
    longest = max((len(v) for _, v in series), default=1)
    parts = [_open(title, width, height)]
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#cfd8dc"/>'
        )
        parts.append(_text(4, y + 4, f"{tick:.0%}"))
    step = plot_w / max(longest - 1, 1)
    for k in range(longest):
        parts.append(_text(left + k * step - 4, top + plot_h + 16, f"k={k + 1}"))
    for i, (_, values) in enumerate(series):
        colour = _SERIES[i % len(_SERIES)]
        points = [(left + k * step, top + plot_h * (1 - v)) for k, v in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
    legend = [(name, _SERIES[i % len(_SERIES)]) for i, (name, _) in enumerate(series)]
    parts.append(_legend(height - 14, legend))
    return "".join(parts) + "</svg>"


def _open(title: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    tooltip = f"<title>{escape(tip)}</title>" if tip else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}" fill="{fill}">{tooltip}</rect>'
    )


def _text(x: float, y: float, text: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}">{escape(text)}</text>'


def _legend(y: float, items: Sequence[tuple[str, str]]) -> str:
    parts: list[str] = []
    x = 4.0
    for name, colour in items:
        parts.append(_rect(x, y - 9, 10, 10, colour))
        parts.append(_text(x + 14, y, name))
        x += 24 + 7 * len(name)
    return "".join(parts)
