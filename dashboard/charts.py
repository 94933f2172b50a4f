"""Altair charts for the dashboard: predictions, top words, token-by-token heatmaps (drawing only)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from explain.explanation import Explanation
from explain.render.html import NEGATIVE_RGB, POSITIVE_RGB

BLUE = "#{:02x}{:02x}{:02x}".format(*POSITIVE_RGB)
RED = "#{:02x}{:02x}{:02x}".format(*NEGATIVE_RGB)
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


def top_words_chart(explanation: Explanation, k: int = 10) -> alt.Chart:
    """The k words with the largest |score|, ranked, bars diverging from 0 (blue toward, red away)."""
    top = explanation.top_words(k)
    df = pd.DataFrame({"rank": range(1, len(top) + 1), "word": [w for w, _ in top], "score": [s for _, s in top]})
    df["item"] = [f"{r}. {w}" for r, w in zip(df["rank"], df["word"])]  # words can repeat in a review
    df["colour"] = [BLUE if s > 0 else RED for s in df["score"]]
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("score:Q", title=f"score ({explanation.question})"),
            y=alt.Y("item:N", sort=list(df["item"]), title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            color=alt.Color("colour:N", scale=None),
            tooltip=["word", alt.Tooltip("score:Q", format="+.4f")],
        )
        .properties(height=alt.Step(22))
    )


def heatmap_chart(matrix: np.ndarray, tokens: Sequence[str], title: str, value: str = "weight") -> alt.Chart:
    """A token x token heatmap; row i is what token i draws from (axis labels keep token order)."""
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
    side = min(640, max(240, 18 * n))
    return (
        alt.Chart(df, title=title)
        .mark_rect()
        .encode(
            x=alt.X("to:N", sort=labels, title=None),
            y=alt.Y("from:N", sort=labels, title=None),
            color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues")),
            tooltip=["from", "to", alt.Tooltip(f"{value}:Q", format=".4f")],
        )
        .properties(width=side, height=side)
    )
