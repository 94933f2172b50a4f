"""Self-contained HTML snippets shared by the dashboard and the HTML report.

Every snippet uses inline CSS only (no stylesheet, script, font or image to fetch) and is rendered
by jinja2 with autoescaping on, so review text, tokens and labels always arrive as text: a review
containing `<script>` shows those characters and runs nothing.

Scores use a diverging scale centred at 0: blue pushes toward the explained label, red pushes away,
the strength scaled by the largest |score| shown (ColorBrewer RdBu end points, readable by people
with red-green colour blindness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from jinja2 import DictLoader, Environment, StrictUndefined

from explain.explanation import Explanation

Level = Literal["word", "token"]
LEVELS: tuple[str, ...] = ("word", "token")
POSITIVE_RGB = (33, 102, 172)  # RdBu dark blue: pushes toward the target label
NEGATIVE_RGB = (178, 24, 43)  # RdBu dark red: pushes away from it
FAINT = 0.02  # |score| / scale below this is drawn uncoloured

_CARD = (
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:2.1;"
    "background:#ffffff;color:#111111;border:1px solid #dddddd;border-radius:6px;padding:8px 12px;"
    "margin:4px 0"
)

_TEMPLATES = {
    "explanation": """\
<div class="rx-explanation" data-method="{{ method }}" data-level="{{ level }}" style="{{ card }}">
{% if header %}<div style="font-size:13px;line-height:1.4;color:#444444;margin-bottom:4px">\
<b>{{ method }}</b> &middot; {{ question }} &middot; \
<span style="color:rgb{{ positive }}">&#9632; {{ toward }}</span> \
{% if away %}<span style="color:rgb{{ negative }}">&#9632; {{ away }}</span> {% endif %}\
<span class="rx-scale" style="color:#666666">(full colour at {{ scale_text }})</span></div>
{% endif %}<div style="white-space:pre-wrap;word-wrap:break-word">\
{% for piece in pieces %}{% if piece.kind == "gap" %}{{ piece.text }}\
{% elif piece.kind == "unseen" %}<span class="rx-unseen" title="{{ piece.title }}" style="color:#999999">{{ piece.text }}</span>\
{% elif piece.kind == "special" %}<span class="rx-special" title="{{ piece.title }}" data-score="{{ piece.score }}" \
style="color:#888888;font-size:12px;padding:1px 2px;margin:0 1px">{{ piece.text }}</span>\
{% else %}<span class="rx-{{ level }}" title="{{ piece.title }}" data-score="{{ piece.score }}" \
style="background:{{ piece.background }};color:{{ piece.color }};border-radius:3px;padding:2px 1px">\
{{ piece.text }}</span>{% endif %}{% endfor %}</div>
</div>""",
    "prediction": """\
<div class="rx-prediction" style="{{ card }};line-height:1.5">
{% for row in rows %}<div style="display:flex;align-items:center;gap:8px;margin:2px 0">\
<span style="width:{{ label_width }}ch;text-align:right;{% if row.top %}font-weight:bold{% endif %}">{{ row.label }}</span>\
<span style="flex:1;background:#eeeeee;border-radius:3px;height:14px;position:relative">\
<span style="position:absolute;left:0;top:0;bottom:0;width:{{ row.percent }}%;border-radius:3px;\
background:{% if row.top %}rgb{{ positive }}{% else %}#9ab{% endif %}"></span></span>\
<span style="width:5ch;text-align:right;font-variant-numeric:tabular-nums">{{ row.value }}</span></div>
{% endfor %}</div>""",
    "top_words": """\
<div class="rx-top-words" style="{{ card }};line-height:1.5">
<div style="font-size:13px;color:#444444;margin-bottom:4px"><b>{{ method }}</b> &middot; top words, {{ question }}</div>
{% for row in rows %}<div style="display:flex;align-items:center;gap:6px;margin:1px 0" title="{{ row.title }}">\
<span style="width:{{ word_width }}ch;text-align:right;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">\
{{ row.word }}</span><span style="flex:1;display:flex">\
<span style="width:50%;display:flex;justify-content:flex-end">\
{% if row.score < 0 %}<span style="width:{{ row.percent }}%;height:12px;background:rgb{{ negative }}"></span>{% endif %}\
</span><span style="width:50%;display:flex;border-left:1px solid #999999">\
{% if row.score >= 0 %}<span style="width:{{ row.percent }}%;height:12px;background:rgb{{ positive }}"></span>{% endif %}\
</span></span><span style="width:8ch;text-align:right;font-variant-numeric:tabular-nums">{{ row.value }}</span></div>
{% endfor %}</div>""",
}

_ENV = Environment(loader=DictLoader(_TEMPLATES), autoescape=True, undefined=StrictUndefined)


@dataclass(frozen=True)
class _Piece:
    kind: str  # "gap" (text between words), "unseen" (past truncation), "special" ([CLS]...), or "scored"
    text: str
    score: str = ""
    title: str = ""
    background: str = "transparent"
    color: str = "inherit"


def score_color(score: float, scale: float) -> tuple[str, str]:
    """(background, text colour) CSS for `score` on a diverging scale where |score| = `scale` is full colour."""
    strength = 0.0 if scale <= 0 else min(1.0, abs(float(score)) / scale)
    if strength < FAINT:
        return "transparent", "inherit"
    base = POSITIVE_RGB if score > 0 else NEGATIVE_RGB
    r, g, b = (round(255 + (c - 255) * strength) for c in base)
    return f"rgb({r},{g},{b})", "#ffffff" if strength > 0.55 else "#111111"


def _scale(scores: np.ndarray) -> float:
    finite = np.abs(np.asarray(scores, dtype=np.float64))
    return float(finite.max()) if finite.size else 0.0


def _scored(text: str, label: str, score: float, scale: float) -> _Piece:
    background, color = score_color(score, scale)
    return _Piece("scored", text, f"{score:.6g}", f"{label}: {score:+.4f}", background, color)


def _word_pieces(explanation: Explanation, scale: float | None) -> list[_Piece]:
    text, offsets, scores = explanation.text, explanation.alignment.word_offsets, explanation.word_scores
    scale = _scale(scores) if scale is None else scale
    pieces, last = [], 0
    for (start, end), word, score in zip(offsets, explanation.words, scores):
        if start > last:
            pieces.append(_Piece("gap", text[last:start]))
        pieces.append(_scored(word, word, float(score), scale))
        last = end
    rest = text[last:]
    if rest.strip():  # every non-space character is in some word: the model never saw these (truncated)
        pieces.append(_Piece("unseen", rest, title="not seen by the model (past its maximum length)"))
    elif rest:
        pieces.append(_Piece("gap", rest))
    return pieces


def _token_pieces(explanation: Explanation, scale: float | None) -> list[_Piece]:
    a, scores = explanation.alignment, explanation.token_scores
    ordinary = np.array([not s for s in a.special], dtype=bool)
    scale = _scale(scores[ordinary]) if scale is None else scale  # specials ([CLS]) would swamp the scale
    pieces = []
    for i, (token, score, special) in enumerate(zip(a.tokens, scores, a.special)):
        if i:
            pieces.append(_Piece("gap", " "))
        if special:
            pieces.append(_Piece("special", token, f"{float(score):.6g}", f"{token} (special): {float(score):+.4f}"))
        else:
            start, end = a.token_offsets[i]
            span = explanation.text[start:end]
            label = token if span == token else f"{token} ({span!r})"
            pieces.append(_scored(token, label, float(score), scale))
    return pieces


def explanation_html(
    explanation: Explanation, level: Level = "word", *, header: bool = True, scale: float | None = None
) -> str:
    """The review with each word (or subword token) coloured by its score; hovering shows the score.

    `scale` fixes the |score| drawn at full colour (default: the largest |score| shown), so several
    explanations can share one scale.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    pieces = _word_pieces(explanation, scale) if level == "word" else _token_pieces(explanation, scale)
    toward, away = direction_words(explanation)
    shown = explanation.word_scores if level == "word" else explanation.token_scores
    full = _scale(shown) if scale is None else scale
    return _ENV.get_template("explanation").render(
        card=_CARD,
        method=explanation.method,
        level=level,
        header=header,
        question=explanation.question,
        toward=toward,
        away=away,
        scale_text=f"{full:.3g} {explanation.unit}".strip(),
        positive=POSITIVE_RGB,
        negative=NEGATIVE_RGB,
        pieces=pieces,
    )


def direction_words(explanation: Explanation) -> tuple[str, str]:
    """What the two colours mean for this explanation's question: (positive scores, negative scores)."""
    if not explanation.class_specific:
        return "where the model looked (no direction)", ""
    if explanation.explains == "rating":
        return "raises the rating", "lowers the rating"
    if explanation.contrast is not None:
        return f"toward {explanation.target_label}", f"toward {explanation.contrast_label}"
    return f"toward {explanation.target_label}", f"away from {explanation.target_label}"


def prediction_bar_html(labels: Sequence[str], probabilities: Sequence[float] | np.ndarray) -> str:
    """A bar per label with its probability; the predicted label is bold and coloured."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != (len(labels),):
        raise ValueError(f"{len(labels)} labels but probabilities of shape {probs.shape}")
    top = int(probs.argmax()) if len(probs) else -1
    rows = [
        {"label": str(label), "percent": f"{100 * min(max(p, 0.0), 1.0):.1f}", "value": f"{p:.3f}", "top": i == top}
        for i, (label, p) in enumerate(zip(labels, probs))
    ]
    width = max((len(str(label)) for label in labels), default=4) + 1
    return _ENV.get_template("prediction").render(card=_CARD, rows=rows, label_width=width, positive=POSITIVE_RGB)


def top_words_html(explanation: Explanation, k: int = 10) -> str:
    """A ranked bar chart of the k words with the largest |score|, bars diverging from 0."""
    top = explanation.top_words(k)
    scale = max((abs(s) for _, s in top), default=0.0) or 1.0
    rows = [
        {
            "word": word,
            "score": score,
            "percent": f"{100 * abs(score) / scale:.1f}",
            "value": f"{score:+.3f}",
            "title": f"{word}: {score:+.4f}",
        }
        for word, score in top
    ]
    width = min(18, max((len(w) for w, _ in top), default=4) + 1)
    return _ENV.get_template("top_words").render(
        card=_CARD,
        method=explanation.method,
        question=explanation.question,
        rows=rows,
        word_width=width,
        positive=POSITIVE_RGB,
        negative=NEGATIVE_RGB,
    )
