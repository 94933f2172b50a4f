"""Corpus drivers drawn: an HTML section (a self-contained SVG plot of the top drivers with their intervals,
the ranked tables with example reviews, the per-level drivers, given vs predicted stars and the most surprising
reviews) and plain text for a terminal.

Takes the `Drivers` value of `explain.corpus.drivers` as it is (this layer sits below the corpus code, so it
reads the object's fields and never imports its type). The SVG is drawn here, inline: nothing is fetched, so the
section renders offline in the report, the `explain drivers` page and the dashboard alike.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup

from explain.render.templating import NEGATIVE_RGB, POSITIVE_RGB, hex_color, render_template

PLOT_TOP = 10  # drivers per direction in the plot
LEVEL_TOP = 5  # drivers per direction and star level
ROW_PX = 22
LABEL_PX = 190
PLOT_PX = 460
EXAMPLE_CHARS = 160


def signed(value: float) -> str:
    """A signed number: two decimals, or one significant digit when it is too small for two decimals to show
    (+0.003, -0.0004), never -0.00."""
    if value == 0 or abs(value) >= 0.005:
        return f"{value:+.2f}"
    return f"{value:+.{min(6, -math.floor(math.log10(abs(value))))}f}"


def _fmt(value: float, unit: str = "") -> str:
    return signed(value) + (f" {unit}" if unit else "")


def plot_rows(drivers: Any, k: int = PLOT_TOP) -> list[dict[str, Any]]:
    """Geometry of the plot: one row per driver (lowering first, most lowering on top), x in pixels."""
    chosen = [("lowering", d) for d in drivers.lowering[:k]] + [("raising", d) for d in drivers.raising[:k][::-1]]
    if not chosen:
        return []
    reach = max(max(abs(d.ci[0]), abs(d.ci[1]), abs(d.effect)) for _, d in chosen) or 1.0
    half = PLOT_PX / 2 - 10

    def x(value: float) -> float:
        return round(LABEL_PX + PLOT_PX / 2 + half * value / reach, 1)

    rows = []
    for i, (direction, d) in enumerate(chosen):
        rows.append(
            {
                "phrase": d.phrase,
                "direction": direction,
                "effect": d.effect,
                "reviews": d.reviews,
                "ci": d.ci,
                "y": 12 + i * ROW_PX,
                "x": x(d.effect),
                "x_low": x(d.ci[0]),
                "x_high": x(d.ci[1]),
                "color": hex_color(NEGATIVE_RGB if direction == "lowering" else POSITIVE_RGB),
                "title": f"{d.phrase}: {_fmt(d.effect)} [{signed(d.ci[0])}, {signed(d.ci[1])}], {d.reviews} reviews",
            }
        )
    return rows


def plot_svg(drivers: Any, k: int = PLOT_TOP) -> Markup:
    """The top drivers with their intervals as one inline SVG (dot: mean effect; line: the interval)."""
    rows = plot_rows(drivers, k)
    reach = max((max(abs(r["ci"][0]), abs(r["ci"][1]), abs(r["effect"])) for r in rows), default=1.0) or 1.0
    height = 24 + len(rows) * ROW_PX + 24
    zero = LABEL_PX + PLOT_PX / 2
    ticks = [
        {"x": round(zero + (PLOT_PX / 2 - 10) * f, 1), "label": "0" if f == 0 else signed(f * reach)}
        for f in (-1, -0.5, 0, 0.5, 1)
    ]
    return Markup(
        render_template(
            "drivers_plot.svg.j2",
            rows=rows,
            width=LABEL_PX + PLOT_PX + 20,
            height=height,
            zero=zero,
            axis_y=height - 22,
            ticks=ticks,
            unit=drivers.unit,
            label_px=LABEL_PX,
        )
    )


def plot_document(drivers: Any, k: int = PLOT_TOP) -> tuple[str, int]:
    """The plot alone as a small HTML document and its height in pixels, for a frame of its own (the dashboard:
    its HTML sanitizer drops inline SVG)."""
    page = render_template("drivers_plot_page.html.j2", plot=plot_svg(drivers, k))
    return page, 48 + len(plot_rows(drivers, k)) * ROW_PX + 8


def _example_view(example: Any, link: str | None) -> dict[str, Any]:
    text = example.text if len(example.text) <= EXAMPLE_CHARS else example.text[: EXAMPLE_CHARS - 3] + "..."
    return {
        "index": example.index,
        "text": text,
        "effect": _fmt(example.effect),
        "href": None if link is None else link.format(index=example.index),
    }


def _driver_rows(drivers: Any, link: str | None) -> list[dict[str, Any]]:
    return [
        {
            "phrase": d.phrase,
            "effect": _fmt(d.effect),
            "low": signed(d.ci[0]),
            "high": signed(d.ci[1]),
            "reviews": d.reviews,
            "examples": [_example_view(e, link) for e in d.examples],
        }
        for d in drivers
    ]


def drivers_html(drivers: Any, *, link: str | None = None, anchor: str = "drivers", include_plot: bool = True) -> str:
    """The drivers section as an HTML fragment (inline styles and SVG; autoescaped).

    `link`: a format string with `{index}` for an example's review (e.g. "#review-{index}" in a report),
    or None for plain text examples."""
    groups = [
        {
            "name": g.name,
            "n": g.n_reviews,
            "need": g.min_support,
            "lowering": _driver_rows(g.lowering[:LEVEL_TOP], link),
            "raising": _driver_rows(g.raising[:LEVEL_TOP], link),
        }
        for g in (*drivers.by_predicted, *drivers.by_given)
    ]
    gvp = drivers.given_vs_predicted
    return render_template(
        "drivers.html.j2",
        d=drivers,
        anchor=anchor,
        plot=plot_svg(drivers) if include_plot else None,
        lowering=_driver_rows(drivers.lowering, link),
        raising=_driver_rows(drivers.raising, link),
        groups=groups,
        gvp=gvp,
        gvp_rows=[]
        if gvp is None
        else [
            {
                "label": gvp.labels[g],
                "cells": [{"n": n, "diag": p == g} for p, n in enumerate(row)],
                "total": sum(row),
                "mean": gvp.mean_expected[g],
            }
            for g, row in enumerate(gvp.counts)
        ],
        surprising=[
            {
                "index": s.index,
                "text": s.text if len(s.text) <= 2 * EXAMPLE_CHARS else s.text[: 2 * EXAMPLE_CHARS - 3] + "...",
                "given": s.given,
                "expected": f"{s.expected:.2f}",
                "predicted": s.predicted,
                "surprise": f"{s.surprise:.2f}",
                "drivers": ", ".join(f"{p} ({signed(v)})" for p, v in s.drivers),
                "href": None if link is None else link.format(index=s.index),
            }
            for s in drivers.surprising
        ],
    )


def drivers_page(drivers: Any, title: str) -> str:
    """A self-contained HTML page holding only the drivers section."""
    return render_template("drivers_page.html.j2", title=title, section=Markup(drivers_html(drivers)))


def drivers_text(drivers: Any, k: int = 20, level_k: int = LEVEL_TOP) -> str:
    """The drivers as plain text for a terminal (the caller removes control characters before printing)."""
    lines = [
        f"Drivers of the expected rating over {drivers.n_reviews} reviews ({drivers.method}: {drivers.question})",
        f"Effect: {drivers.aggregation}.",
        f"Support: {drivers.support_rule}.",
        f"Ranking: {drivers.ranking}.",
    ]
    if drivers.failed:
        lines.append(f"{drivers.failed} review(s) could not be explained and are left out.")
    if drivers.whole_sentences:
        lines.append(
            f"{drivers.whole_sentences} long review(s) were scored by whole sentences: their words share "
            "their sentence's score evenly."
        )
    return "\n".join(lines + _ranked_lines(drivers, k) + _group_lines(drivers, level_k) + _given_lines(drivers))


def _ranked_lines(drivers: Any, k: int) -> list[str]:
    lines = []
    width = max([len(d.phrase) for d in (*drivers.lowering[:k], *drivers.raising[:k])] + [6])
    for title, items in (("Lowering the rating", drivers.lowering[:k]), ("Raising the rating", drivers.raising[:k])):
        lines += ["", f"{title} (mean {drivers.unit or 'effect'} per review it occurs in, 95 % interval, reviews):"]
        if not items:
            lines.append("  (none meets the support rule)")
        for i, d in enumerate(items, 1):
            example = d.examples[0].text if d.examples else ""
            example = example if len(example) <= 70 else example[:67] + "..."
            lines.append(
                f"  {i:>2}. {d.phrase:<{width}}  {signed(d.effect):>8}  [{signed(d.ci[0])}, {signed(d.ci[1])}]  "
                f"{d.reviews:>5}  e.g. {example!r}"
            )
    return lines


def _group_lines(drivers: Any, level_k: int) -> list[str]:
    lines = []
    groups = [*drivers.by_predicted, *drivers.by_given]
    empty = [g for g in groups if not (g.lowering or g.raising)]
    if empty:
        shown = ", ".join(f"{g.name} ({g.n_reviews})" for g in empty)
        lines += ["", f"Too few reviews for any phrase to meet the support rule: {shown}."]
    for group in (g for g in groups if g.lowering or g.raising):
        low = ", ".join(f"{d.phrase} {signed(d.effect)}" for d in group.lowering[:level_k]) or "none"
        high = ", ".join(f"{d.phrase} {signed(d.effect)}" for d in group.raising[:level_k]) or "none"
        lines += [
            "",
            f"{group.name} ({group.n_reviews} reviews, support >= {group.min_support}):",
            f"  lowering: {low}",
            f"  raising:  {high}",
        ]
    return lines


def _given_lines(drivers: Any) -> list[str]:
    lines = []
    gvp = drivers.given_vs_predicted
    if gvp is not None:
        lines += ["", "Given stars (rows) vs predicted (columns):"]
        lines.append("  " + " " * 10 + "".join(f"{label:>10}" for label in gvp.labels) + "  mean expected")
        for g, row in enumerate(gvp.counts):
            mean = gvp.mean_expected[g]
            lines.append(
                f"  {gvp.labels[g]:>10}" + "".join(f"{c:>10}" for c in row) + ("" if mean is None else f"  {mean:.2f}")
            )
        if gvp.mean_abs_error is not None:
            lines.append(f"  mean |given - expected|: {gvp.mean_abs_error:.2f} {drivers.unit}".rstrip())
    if drivers.surprising:
        lines += ["", "Most surprising reviews (|given - expected rating|):"]
        for s in drivers.surprising:
            text = s.text if len(s.text) <= 80 else s.text[:77] + "..."
            moved = ", ".join(f"{p} {signed(v)}" for p, v in s.drivers)
            lines.append(
                f"  row {s.index + 1}: given {s.given}, expected {s.expected:.2f} ({s.predicted}), "
                f"surprise {s.surprise:.2f}: {text!r}; moved by {moved}"
            )
    return lines
