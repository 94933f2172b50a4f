"""Self-contained HTML snippets shared by the dashboard and the HTML report.

Every snippet uses inline CSS only (no stylesheet, script, font or image to fetch) and is rendered
by the package's one jinja2 Environment (`explain.render.templating`, templates in
`templates/*.html.j2`) with autoescaping on, so review text, tokens and labels always arrive as text: a review
containing `<script>` shows those characters and runs nothing.

Scores use a diverging scale centred at 0: blue pushes toward the explained label, red pushes away,
the strength scaled by the largest |score| shown (ColorBrewer RdBu end points, readable by people
with red-green colour blindness), but never by less than a fixed range per unit (`minimum_scale`: 0.25
stars on a 1-5 rating, 0.1 probability, 1 logit), so a 0.01-star effect is pale, never full colour. Cards in
one unit can share one scale (`shared_scales`); each card's legend shows the scale's numbers. Magnitude-only
scores (saliency, gradient-weighted attention, attention: no direction) get a one-sided purple scale from 0.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from markupsafe import Markup

from explain.explanation import Explanation
from explain.metrics.consensus import is_signed
from explain.render.templating import MAGNITUDE_RGB, NEGATIVE_RGB, POSITIVE_RGB, render_template, tint

Level = Literal["word", "token", "sentence"]
LEVELS: tuple[str, ...] = ("word", "token", "sentence")
FAINT = 0.02  # |score| / scale below this is drawn uncoloured
MIN_RATING_SCALE_SHARE = 0.0625  # full colour at no less than this share of the rating's range: 0.25 stars on 1-5
MIN_SCALES = {"probability": 0.1, "logit": 1.0}  # ...and at no less than these in the other units

_CARD = (
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:2.1;"
    "background:#ffffff;color:#111111;border:1px solid #dddddd;border-radius:6px;padding:8px 12px;"
    "margin:4px 0"
)


@dataclass(frozen=True)
class _Piece:
    kind: str  # "gap" (text between words), "unseen" (past truncation), "special" ([CLS]...), or "scored"
    text: str
    score: str = ""
    title: str = ""
    background: str = "transparent"
    color: str = "inherit"


def score_color(score: float, scale: float, magnitude: bool = False) -> tuple[str, str]:
    """(background, text colour) CSS for `score` on a diverging scale where |score| = `scale` is full colour
    (`magnitude`: the one-sided scale of scores without a direction)."""
    strength = 0.0 if scale <= 0 else min(1.0, abs(float(score)) / scale)
    if strength < FAINT:
        return "transparent", "inherit"
    base = MAGNITUDE_RGB if magnitude else POSITIVE_RGB if score > 0 else NEGATIVE_RGB
    r, g, b = tint(base, strength)
    return f"rgb({r},{g},{b})", "#ffffff" if strength > 0.55 else "#111111"


def _scale(scores: np.ndarray) -> float:
    finite = np.abs(np.asarray(scores, dtype=np.float64))
    return float(finite.max()) if finite.size else 0.0


def minimum_scale(explanation: Explanation) -> float:
    """The smallest |score| drawn at full colour in this explanation's unit: 0.25 stars on a 1-5 rating, 0.1
    probability, 1 logit; 0 (the largest score shown) for units without a natural size (attention, saliency)."""
    if not explanation.class_specific or not is_signed(explanation):
        return 0.0
    if explanation.explains == "rating" and explanation.unit not in MIN_SCALES:
        values = explanation.label_values or (0.0, 1.0)
        return MIN_RATING_SCALE_SHARE * (max(values) - min(values))
    return MIN_SCALES.get(explanation.unit, 0.0)


def display_scale(explanation: Explanation, level: Level = "word", scale: float | None = None) -> float:
    """The |score| drawn at full colour: `scale` (or the largest |score| shown), never below `minimum_scale`."""
    own = _scale(level_scores(explanation, level)) if scale is None else float(scale)
    return max(own, minimum_scale(explanation))


def shared_scales(explanations: Sequence[Explanation], level: Level = "word") -> dict[str, float]:
    """One full-colour |score| per unit: explanations in the same unit (and direction) are drawn on the same
    numbers. Keys are `scale_key(explanation)`."""
    scales: dict[str, float] = {}
    for exp in explanations:
        key = scale_key(exp)
        scales[key] = max(scales.get(key, 0.0), display_scale(exp, level))
    return scales


def scale_key(explanation: Explanation) -> str:
    """Which shared scale an explanation is drawn on: its unit, and whether its scores have a direction (a
    magnitude is never drawn on a signed scale, nor attention weights on another method's)."""
    kind = "signed" if is_signed(explanation) else f"magnitude:{explanation.method}"
    return f"{explanation.unit}|{kind}"


def _scored(text: str, label: str, score: float, scale: float, magnitude: bool = False) -> _Piece:
    background, color = score_color(score, scale, magnitude)
    return _Piece("scored", text, f"{score:.6g}", f"{label}: {score:+.4f}", background, color)


def natural_level(explanation: Explanation) -> Level:
    """Sentences for an explanation that scored whole sentences or chunks (its words only share their
    sentence's score), else words."""
    return "sentence" if explanation.scored_whole_sentences else "word"


def level_scores(explanation: Explanation, level: Level) -> np.ndarray:
    """The scores drawn at `level`: words', ordinary (non-special) tokens', or sentences' (sums of words)."""
    if level == "word":
        return explanation.word_scores
    if level == "token":
        return explanation.token_scores[[not s for s in explanation.alignment.special]]
    return np.array([s.score for s in explanation.sentences], dtype=np.float64)


def _word_pieces(explanation: Explanation, scale: float | None, magnitude: bool = False) -> list[_Piece]:
    text, offsets, scores = explanation.text, explanation.alignment.word_offsets, explanation.word_scores
    scale = _scale(scores) if scale is None else scale
    pieces, last = [], 0
    for (start, end), word, score in zip(offsets, explanation.words, scores, strict=True):
        if start > last:
            pieces.append(_Piece("gap", text[last:start]))
        pieces.append(_scored(word, word, float(score), scale, magnitude))
        last = end
    rest = text[last:]
    if rest.strip():  # every non-space character is in some word: the model never saw these (truncated)
        pieces.append(_Piece("unseen", rest, title="not seen by the model (past its maximum length)"))
    elif rest:
        pieces.append(_Piece("gap", rest))
    return pieces


def _token_pieces(explanation: Explanation, scale: float | None, magnitude: bool = False) -> list[_Piece]:
    a, scores = explanation.alignment, explanation.token_scores
    scale = _scale(level_scores(explanation, "token")) if scale is None else scale  # not [CLS]: it would swamp
    pieces = []
    for i, (token, score, special) in enumerate(zip(a.tokens, scores, a.special, strict=True)):
        if i:
            pieces.append(_Piece("gap", " "))
        if special:
            pieces.append(_Piece("special", token, f"{float(score):.6g}", f"{token} (special): {float(score):+.4f}"))
        else:
            start, end = a.token_offsets[i]
            span = explanation.text[start:end]
            label = token if span == token else f"{token} ({span!r})"
            pieces.append(_scored(token, label, float(score), scale, magnitude))
    return pieces


def _sentence_pieces(explanation: Explanation, scale: float | None, magnitude: bool = False) -> list[_Piece]:
    """Each sentence coloured by the sum of its words' scores (a long review's overview)."""
    text, sentences = explanation.text, explanation.sentences
    scale = _scale(level_scores(explanation, "sentence")) if scale is None else scale
    pieces, last = [], 0
    for sentence in sentences:
        if sentence.start > last:
            pieces.append(_Piece("gap", text[last : sentence.start]))
        pieces.append(_scored(sentence.text, "sentence", sentence.score, scale, magnitude))
        last = sentence.end
    if last < len(text):
        pieces.append(_Piece("gap", text[last:]))
    return pieces


_PIECES = {"word": _word_pieces, "token": _token_pieces, "sentence": _sentence_pieces}


def explanation_html(
    explanation: Explanation, level: Level = "word", *, header: bool = True, scale: float | None = None
) -> str:
    """The review with each word (subword token, or sentence: the sum of its words) coloured by its score;
    hovering shows the score.

    `scale` fixes the |score| drawn at full colour (default: the largest |score| shown), so several
    explanations can share one scale (`shared_scales`); it is never below the unit's `minimum_scale`. The
    legend shows the scale's numbers, one-sided for scores without a direction.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    magnitude = not is_signed(explanation)
    full = display_scale(explanation, level, scale)
    pieces = _PIECES[level](explanation, full, magnitude)
    toward, away = direction_words(explanation)
    if not explanation.class_specific:  # the header already says "where the model looked": the legend says what
        toward = "attention weight"
    unit = f" {explanation.unit}" if explanation.unit else ""
    return render_template(
        "explanation.html.j2",
        card=_CARD,
        method=explanation.method,
        level=level,
        header=header,
        question=explanation.question,
        toward=toward,
        away=away,
        scale_text=f"{full:.3g}{unit}",
        scale=f"{full:.6g}",
        signed=not magnitude,
        low="0" if magnitude else f"-{full:.3g}",
        high=f"{'' if magnitude else '+'}{full:.3g}{unit}",
        positive=POSITIVE_RGB,
        negative=NEGATIVE_RGB,
        magnitude_rgb=MAGNITUDE_RGB,
        pieces=pieces,
    )


def emphasis_html(text: str) -> Markup:
    """`text` escaped, with *words* between asterisks (as consensus sentences mark them) in italics."""
    import re

    from markupsafe import escape

    return Markup(re.sub(r"\*([^*]+)\*", r"<em>\1</em>", str(escape(text))))


def direction_words(explanation: Explanation) -> tuple[str, str]:
    """What the two colours mean for this explanation's question: (positive scores, negative scores)."""
    if not explanation.class_specific:
        return "where the model looked (no direction)", ""
    if not is_signed(explanation):  # saliency, gradient-weighted attention: how much, never which way
        return f"how much it matters for {explanation.question.removeprefix('what moved ')} (no direction)", ""
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
        for i, (label, p) in enumerate(zip(labels, probs, strict=True))
    ]
    width = max((len(str(label)) for label in labels), default=4) + 1
    return render_template("prediction.html.j2", card=_CARD, rows=rows, label_width=width, positive=POSITIVE_RGB)


def top_words_html(explanation: Explanation, k: int = 10, level: Level = "word") -> str:
    """A ranked bar chart of the k words (or sentences, `level="sentence"`) with the largest |score|, bars
    diverging from 0."""
    if level == "sentence":
        top, longest = explanation.top_sentences(k), 48
    else:
        top, longest = explanation.top_words(k), 18
    scale = max(max((abs(s) for _, s in top), default=0.0), minimum_scale(explanation)) or 1.0
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
    width = min(longest, max((len(w) for w, _ in top), default=4) + 1)
    return render_template(
        "top_words.html.j2",
        card=_CARD,
        method=explanation.method,
        question=explanation.question,
        what="top sentences" if level == "sentence" else "top words",
        rows=rows,
        word_width=width,
        positive=POSITIVE_RGB,
        negative=NEGATIVE_RGB,
    )


def explanations_page(
    explanations: Sequence[Explanation], *, title: str = "Why did these reviews get their stars?"
) -> str:
    """One self-contained HTML page: per review its prediction bar, then each method's coloured words and top words.

    Explanations of the same text (in order of first appearance) share one section.
    """
    if not explanations:
        raise ValueError("explanations_page needs at least one explanation")
    groups: dict[str, list[Explanation]] = {}
    for exp in explanations:
        groups.setdefault(exp.text, []).append(exp)
    reviews = []
    for text, group in groups.items():
        first = group[0]
        scales = {lv: shared_scales(group, lv) for lv in {natural_level(e) for e in group}}  # one scale per unit
        methods = [
            {
                "name": exp.method,
                "words": Markup(
                    explanation_html(exp, natural_level(exp), scale=scales[natural_level(exp)][scale_key(exp)])
                ),
                "top": Markup(top_words_html(exp, k=8, level=natural_level(exp))),
                "note": _diagnostics_note(exp.diagnostics),
            }
            for exp in group
        ]
        reviews.append(
            {
                "text": text,
                "predicted": first.labels[first.predicted],
                "bar": Markup(prediction_bar_html(first.labels, first.probabilities)),
                "methods": methods,
            }
        )
    return render_template("explanations_page.html.j2", title=title, model=explanations[0].model, reviews=reviews)


def _diagnostics_note(diagnostics: Mapping[str, Any]) -> str:
    seconds, evaluations = diagnostics.get("seconds"), diagnostics.get("model_evaluations")
    parts = [f"{seconds:.2f} s" if isinstance(seconds, (int, float)) else None]
    parts.append(f"{evaluations} model evaluations" if evaluations is not None else None)
    parts.append(str(diagnostics["approximation"]) if diagnostics.get("approximation") else None)  # amortized
    return ", ".join(p for p in parts if p)


def iframe_html(document: str, height: int) -> str:
    """A document in its own `<iframe srcdoc>`: each view keeps its own scripts and globals, still offline."""
    srcdoc = html_lib.escape(
        f"<!doctype html><meta charset='utf-8'><body style='margin:0'>{document}</body>", quote=True
    )
    return (
        f'<iframe class="rx-attention" srcdoc="{srcdoc}" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:6px"></iframe>'
    )
