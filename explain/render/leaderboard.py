"""The evaluation leaderboard as text lines and as one self-contained HTML page (from the summary dict).

The page is `templates/leaderboard.html.j2`, rendered by the package's one jinja2 Environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from explain.render.templating import NEGATIVE_RGB, POSITIVE_RGB, hex_color, render_template, rgba
from explain.target import RATING_QUESTION

_DELETION, _INSERTION = hex_color(NEGATIVE_RGB), hex_color(POSITIVE_RGB)  # deletion curves fall, insertion rise

_HEADLINES = (
    ("comprehensiveness", "most comprehensive"),
    ("sufficiency", "most sufficient"),
    ("deletion_auc", "lowest deletion AUC"),
    ("insertion_auc", "highest insertion AUC"),
    ("tau_loo", "best tau-LOO"),
    ("plausibility", "most plausible"),
    ("seconds", "fastest"),
)


def leaderboard_lines(summary: Mapping) -> list[str]:
    """One line per headline metric: which method wins, its value, and the random baseline."""
    lines = []
    random_row = summary["methods"].get(summary.get("baseline", "random"), {})
    for name, phrase in _HEADLINES:
        entry = summary["leaderboard"].get(name)
        if entry is None:
            continue
        chance = (random_row.get(name) or {}).get("mean")
        tail = f"; random ranking {chance:.3f}" if chance is not None else ""
        value = f"{entry['mean']:.2f} s per explanation" if name == "seconds" else f"{name} {entry['mean']:.3f}"
        lines.append(f"{phrase}: {entry['method']} ({value}{tail})")
    return lines


def leaderboard_text(summary: Mapping) -> str:
    return "Leaderboard\n" + "\n".join(f"  {line}" for line in leaderboard_lines(summary))


# ---------------------------------------------------------------- HTML page
_PLOT_W, _PLOT_H, _PAD = 260, 170, 28
_LONG = {
    "deletion_auc": "deletion AUC",
    "insertion_auc": "insertion AUC",
    "tau_loo": "tau-LOO",
    "seconds": "s / explanation",
}


def _y_range(summary: Mapping) -> tuple[float, float]:
    """The curves' vertical axis: 0-1 for probabilities, else whole numbers around every curve (1-5 stars)."""
    values = [y for curves in summary["curves"]["by_method"].values() for ys in curves.values() for y in ys]
    finite = [y for y in values if y == y]
    if not finite or (min(finite) >= 0.0 and max(finite) <= 1.0):
        return 0.0, 1.0
    low, high = float(np.floor(min(finite))), float(np.ceil(max(finite)))
    return low, high if high > low else low + 1.0


def _points(ys: Sequence[float], y_range: tuple[float, float]) -> str:
    xs = np.linspace(0.0, 1.0, len(ys))
    w, h = _PLOT_W - _PAD - 6, _PLOT_H - _PAD - 6
    low, high = y_range
    scaled = [(min(max(y, low), high) - low) / (high - low) for y in ys]
    return " ".join(f"{_PAD + x * w:.1f},{6 + (1.0 - y) * h:.1f}" for x, y in zip(xs, scaled, strict=True))


def _shade(v: float | None) -> str:
    if v is None:
        return "#fff"
    v = max(-1.0, min(1.0, v))
    return rgba(POSITIVE_RGB, 0.45 * v) if v >= 0 else rgba(NEGATIVE_RGB, -0.45 * v)


def leaderboard_html(summary: Mapping) -> str:
    """A self-contained HTML page (autoescaped): the table, curves per method (inline SVG), agreement."""
    names = list(summary["settings"]["metrics"]) + ["seconds"]
    params = "; ".join(
        f"{m}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for m, p in summary["settings"]["params"].items() if p
    )
    y_range = _y_range(summary)
    return render_template(
        "leaderboard.html.j2",
        s=summary,
        bins=", ".join(f"{b:.0%}" for b in summary["settings"]["bins"]),
        params=params,
        lines=leaderboard_lines(summary),
        question=_question(summary),
        columns=_columns(summary, names),
        rows=_rows(summary, names),
        plots=_plots(summary, y_range),
        y_range=[f"{v:g}" for v in y_range],
        agreement=_agreement(summary),
        W=_PLOT_W,
        H=_PLOT_H,
        pad=_PAD,
    )


def _question(summary: Mapping) -> dict[str, str]:
    """What every method explained, in words, and the output the curves follow (summaries written before
    the rating existed hold no `questions`: they explained the predicted class)."""
    questions = summary.get("questions") or []
    if questions == [RATING_QUESTION]:
        return {"asked": "the expected rating (faithfulness in stars)", "output": "Expected rating"}
    return {"asked": "the predicted class", "output": "Probability of the predicted class"}


def _columns(summary: Mapping, names: Sequence[str]) -> list[dict]:
    infos = summary["metric_info"]
    return [
        {
            "name": n,
            "label": _LONG.get(n, n),
            "arrow": "↑" if infos[n]["higher_is_better"] else "↓",
            "summary": infos[n]["summary"],
            "reference": infos[n].get("reference", ""),
        }
        for n in names
    ]


def _rows(summary: Mapping, names: Sequence[str]) -> list[dict]:
    """One row per method: each metric's mean and interval, the best per column marked."""
    best = {name: entry["method"] for name, entry in summary["leaderboard"].items()}
    baseline = summary.get("baseline", "random")
    rows = []
    for method, row in summary["methods"].items():
        cells = []
        for n in names:
            stat = row.get(n)
            digits = 2 if n == "seconds" else 3
            if not stat or stat.get("mean") is None:
                cells.append({"mean": "—", "ci": "", "best": False})
                continue
            has_ci = stat.get("low") is not None and stat["n"] > 1
            ci = f"[{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]" if has_ci else ""
            cells.append({"mean": f"{stat['mean']:.{digits}f}", "ci": ci, "best": best.get(n) == method})
        rows.append({"method": method, "n": row["n_texts"], "cells": cells, "random": method == baseline})
    return rows


def _plots(summary: Mapping, y_range: tuple[float, float]) -> list[dict]:
    """Per method its mean deletion and insertion curves, with the random ranking's dashed."""
    baseline = summary.get("baseline", "random")
    by_method = summary["curves"]["by_method"]
    chance = by_method.get(baseline, {})
    plots = []
    for method, curves in by_method.items():
        if method == baseline:
            continue
        drawn = []
        for kind, colour in (("deletion", _DELETION), ("insertion", _INSERTION)):
            if kind in chance:
                drawn.append({"colour": colour, "dashed": True, "points": _points(chance[kind], y_range)})
            if kind in curves:
                drawn.append({"colour": colour, "dashed": False, "points": _points(curves[kind], y_range)})
        plots.append({"method": method, "curves": drawn})
    return plots


def _agreement(summary: Mapping) -> list[dict]:
    titles = {
        "spearman": "Spearman rank correlation",
        "kendall": "Kendall tau-b",
        "top_k_overlap": f"top-{summary['settings']['top_k']} overlap",
    }
    return [
        {
            "title": titles.get(measure, measure),
            "methods": mat["methods"],
            "rows": [
                {"method": m, "cells": [{"text": "—" if v is None else f"{v:+.2f}", "colour": _shade(v)} for v in vals]}
                for m, vals in zip(mat["methods"], mat["values"], strict=True)
            ],
        }
        for measure, mat in summary["agreement"].items()
    ]
