"""Altair charts for the dashboard: predictions, top words, token-by-token heatmaps (drawing only)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
from markupsafe import escape

from explain.explanation import Explanation
from explain.metrics.consensus import is_signed
from explain.render.cards import answer_html as answer_html  # the answer line: one renderer, shared with notebooks
from explain.render.diagnostics import Diagnostic
from explain.render.html import NEGATIVE_RGB, POSITIVE_RGB
from explain.render.templating import MAGNITUDE_RGB

BLUE = "#{:02x}{:02x}{:02x}".format(*POSITIVE_RGB)
RED = "#{:02x}{:02x}{:02x}".format(*NEGATIVE_RGB)
PURPLE = "#{:02x}{:02x}{:02x}".format(*MAGNITUDE_RGB)
GREY = "#99aabb"


def prediction_chart(labels: Sequence[str], probabilities: np.ndarray) -> alt.Chart:
    """Horizontal bars: each label's probability, the predicted one highlighted."""
    top = int(np.argmax(probabilities))
    df = pd.DataFrame(
        {
            "label": list(labels),
            "probability": [float(p) for p in probabilities],
            "colour": [BLUE if i == top else GREY for i in range(len(labels))],
        }
    )
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
            y=alt.Y("label:N", sort=list(labels), title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("colour:N", scale=None),
            tooltip=["label", alt.Tooltip("probability:Q", format=".3f")],
        )
    )
    text = bars.mark_text(align="left", dx=3).encode(
        text=alt.Text("probability:Q", format=".3f"), color=alt.value("#444444")
    )
    return (bars + text).properties(height=alt.Step(26))


def top_words_chart(
    explanation: Explanation, k: int = 10, level: str = "word", scale: float | None = None
) -> alt.Chart:
    """The k words (or sentences, `level="sentence"`) with the largest |score|, ranked, bars diverging from 0
    (blue toward, red away; purple for magnitudes without a direction). `scale`: the x axis spans +-scale (0..scale
    for magnitudes), so charts in one unit share one axis, as the cards share one colour scale."""
    top = explanation.top_sentences(k) if level == "sentence" else explanation.top_words(k)
    df = pd.DataFrame({"rank": range(1, len(top) + 1), "word": [w for w, _ in top], "score": [s for _, s in top]})
    df["item"] = [f"{r}. {w}" for r, w in zip(df["rank"], df["word"], strict=True)]  # words can repeat in a review
    magnitude = not is_signed(explanation)
    df["colour"] = [PURPLE if magnitude else BLUE if s > 0 else RED for s in df["score"]]
    axis = alt.Axis(labelOverlap=False, labelLimit=320 if level == "sentence" else 160)
    domain = None if not scale else [0.0 if magnitude else -scale, scale]
    unit = f", {explanation.unit}" if explanation.unit else ""
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X(
                "score:Q",
                title=f"score ({explanation.question}{unit})",
                scale=alt.Scale(domain=domain) if domain else alt.Undefined,
            ),
            y=alt.Y("item:N", sort=list(df["item"]), title=None, axis=axis),
            color=alt.Color("colour:N", scale=None),
            tooltip=["word", alt.Tooltip("score:Q", format="+.4f")],
        )
        .properties(height=alt.Step(22))
    )


ROW_PX = 16  # every token row and column gets this many pixels, so every label is drawn (>= 14 px)
MAX_HEATMAP_TOKENS = 60  # 60 x 16 px + labels fits a wide page; longer reviews get the [CLS] row as coloured words


def off_diagonal_range(matrix: np.ndarray) -> tuple[float, float]:
    """(min, max) of the entries off the diagonal: the identity (~1) would otherwise wash out everything else."""
    m = np.asarray(matrix, dtype=np.float64)
    off = m[~np.eye(len(m), dtype=bool)]
    if off.size == 0:
        return 0.0, 1.0
    low, high = float(off.min()), float(off.max())
    return (low, high) if high > low else (low, low + 1e-12)


def heatmap_chart(matrix: np.ndarray, tokens: Sequence[str], title: str, value: str = "weight") -> alt.Chart:
    """A token x token heatmap, ROW_PX per token with every token labelled; row i is what token i draws from.

    The colour scale spans the off-diagonal range (the diagonal is clipped to full colour), and the
    diagonal's own values stay in the tooltip.
    """
    labels = [f"{i}:{t}" for i, t in enumerate(tokens)]  # tokens repeat; the index keeps them apart
    n = len(labels)
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    df = pd.DataFrame(
        {
            "from": [labels[i] for i in rows.ravel()],
            "to": [labels[j] for j in cols.ravel()],
            value: np.asarray(matrix, dtype=np.float64).ravel(),
        }
    )
    low, high = off_diagonal_range(matrix)
    axis = alt.Axis(labelOverlap=False, labelLimit=120, labelFontSize=11)
    return (
        alt.Chart(df, title=title)
        .mark_rect()
        .encode(
            x=alt.X(
                "to:N",
                sort=labels,
                title="to token",
                axis=alt.Axis(labelOverlap=False, labelAngle=-60, labelLimit=120, labelFontSize=11),
            ),
            y=alt.Y("from:N", sort=labels, title="from token", axis=axis),
            color=alt.Color(
                f"{value}:Q",
                scale=alt.Scale(scheme="blues", domain=[low, high], clamp=True),
                legend=alt.Legend(title=f"{value} (off-diagonal range)", format=".3~g"),
            ),
            tooltip=["from", "to", alt.Tooltip(f"{value}:Q", format=".4f")],
        )
        .properties(width=alt.Step(ROW_PX), height=alt.Step(ROW_PX))
    )


def diagnostics_html(rows: Sequence[Diagnostic]) -> str:
    """Diagnostics as a two-column table that wraps (no inner scrolling); hovering a row shows its meaning."""
    body = "".join(
        f'<tr title="{escape(r.meaning)}"><td style="padding:2px 10px 2px 0;color:#444;vertical-align:top">'
        f'<span style="border-bottom:1px dotted #999">{escape(r.label)}</span></td>'
        f'<td style="padding:2px 0;overflow-wrap:anywhere">{escape(r.value)}</td></tr>'
        for r in rows
    )
    return (
        '<table class="rx-diagnostics" style="font:13px system-ui,sans-serif;border-collapse:collapse;'
        f'width:100%;table-layout:fixed">{body}</table>'
    )


def word_diff_html(diff: Sequence[tuple[str, str]]) -> str:
    """The edit as words: removed ones struck through in red, added ones underlined in blue."""
    styles = {
        "-": f"color:{RED};text-decoration:line-through",
        "+": f"color:{BLUE};text-decoration:underline;font-weight:600",
        " ": "",
    }
    words = " ".join(
        f'<span class="rx-diff" data-op="{escape(op)}" style="{styles[op]}">{escape(word)}</span>' for op, word in diff
    )
    return f'<div class="rx-word-diff" style="font:15px system-ui,sans-serif;line-height:1.9">{words}</div>'


# Appended to a BertViz document: scales its fixed-width (970 px) drawing down to the frame's width, so no
# head column is clipped; re-applied when BertViz redraws and when the frame is resized.
FIT_TO_FRAME_SCRIPT = """<script>
(function () {
  function fit() {
    var svg = document.querySelector("svg");
    if (!svg) return;
    var width = parseFloat(svg.getAttribute("width")) || svg.getBoundingClientRect().width;
    var zoom = Math.min(1, (document.documentElement.clientWidth - 8) / width);
    document.body.style.zoom = zoom;
  }
  new MutationObserver(fit).observe(document.body, {childList: true, subtree: true});
  window.addEventListener("resize", fit);
  fit();
})();
</script>"""
