"""HTML cards for the other results a review gets: the answer, the consensus across methods and the three
stages (`Trace`), plus `explanation_card_html`, the coloured words with the top words or sentences.

Like `explain.render.html` (whose card style, colours and fragments they reuse), every card is one
self-contained fragment: inline CSS only, nothing to fetch, rendered by the package's one jinja2 Environment with
autoescaping, so a review containing `<script>` shows those characters. Reports and notebooks draw the same cards.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from markupsafe import Markup

from explain.explanation import Explanation
from explain.render.html import (
    _CARD,
    emphasis_html,
    explanation_html,
    natural_level,
    score_color,
    top_words_html,
)
from explain.render.templating import render_template

if TYPE_CHECKING:
    from explain.answer import Answer
    from explain.metrics.consensus import Consensus
    from explain.stages import Trace

MAX_TRACE_TOKENS = 48  # tokens listed in the preprocessing stage


def explanation_card_html(explanation: Explanation, top: int = 8) -> str:
    """The review coloured by the explanation (sentences when it scored whole sentences), with its question,
    unit and colour scale, then its top words (or sentences): the report's fragments for one method."""
    level = natural_level(explanation)
    words = explanation_html(explanation, level)
    ranked = top_words_html(explanation, k=top, level=level)
    return f'<div class="rx-explanation-card">{words}{ranked}</div>'


def answer_html(answer: Answer, note: str = "") -> str:
    """The answer line: rating, close-call flag, the words that moved it with their effects (or that none clears
    the noise floor), and how they were found; `note` labels a preview. The named words and the floor are data
    attributes too (`data-named`: JSON [[word, effect], ...]). The dashboard and notebooks draw this one."""
    parts = answer.parts()
    return render_template(
        "answer.html.j2",
        label=answer.labels[answer.predicted],
        close_call=str(answer.close_call is not None).lower(),
        flagged=answer.close_call is not None,
        named=json.dumps([[w, round(e, 6)] for w, e in answer.named]),
        floor=f"{answer.floor:g}",
        unit=answer.unit,
        preview=str(bool(note)).lower(),
        methods=",".join(answer.methods),
        rating=parts["rating"],
        certainty=parts["certainty"],
        words=parts["words"],
        method=parts["method"],
        note=note,
    )


def consensus_html(consensus: Consensus) -> str:
    """The consensus line, then one row per candidate word (or sentence): its effect, how many methods agree on
    its direction, its removal effect when measured, and whether the line names it."""
    words = consensus.words
    scale = max((abs(w.effect) for w in words), default=0.0)
    unit = f" ({consensus.unit})" if consensus.unit else ""
    header = [consensus.level, f"effect{unit}", "methods agreeing"]
    measured = any(w.removal is not None for w in words)
    header += [f"removal effect{unit}"] if measured else []
    header += ["in the line"]
    rows = []
    for w in words:
        background, color = score_color(w.effect, scale)
        cells = [f"{w.effect:+.3g}", f"{w.agreeing} of {len(consensus.methods)}"]
        cells += [("" if w.removal is None else f"{w.removal:+.3g}")] if measured else []
        cells += [{"named": "named", "disputed": "disputed"}.get(w.status, "below the floor")]
        rows.append({"word": w.word, "background": background, "color": color, "cells": cells})
    return render_template(
        "consensus.html.j2",
        card=_CARD,
        methods=list(consensus.methods),
        ignored=list(consensus.ignored),
        line=Markup(emphasis_html(consensus.sentence)),
        header=header,
        rows=rows,
    )


def trace_html(trace: Trace, max_tokens: int = MAX_TRACE_TOKENS) -> str:
    """The three stages of one prediction: the first `max_tokens` tokens with their ids, the logits, the
    probabilities (the predicted label in bold) and the expected rating."""
    labels = [trace.id2label[i] for i in range(len(trace.probabilities))]
    expected = trace.answer.split(" expected", 1)[0] if trace.expected_rating is not None else None
    return render_template(
        "trace.html.j2",
        card=_CARD,
        model=trace.model,
        answer=trace.answer,
        windows=len(trace.windows),
        n_tokens=len(trace.tokens),
        truncated=trace.truncated,
        max_length=trace.max_length,
        token_ids=list(zip(trace.tokens, trace.input_ids, strict=True))[:max_tokens],
        more_tokens=max(0, len(trace.tokens) - max_tokens),
        logits=list(zip(labels, trace.logits, strict=True)),
        probs=list(zip(labels, trace.probabilities, strict=True)),
        predicted=trace.predicted_label,
        expected=expected,
    )
