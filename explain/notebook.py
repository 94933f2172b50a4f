"""Results that display themselves in a notebook (Jupyter, VS Code, Colab): IPython's rich display protocol.

`register_display` (called by the package's facade on import, and a no-op outside IPython) registers an HTML
formatter for every result type (their plain-text `repr` stays one short line): `Explanation` (the coloured words
with the question, unit and colour scale, then the top words or sentences), the `Answer`, `Consensus`, `Trace`
(the three stages), `CorpusSummary`, `Drivers` and an `Evaluation`'s leaderboard. The types are registered by name, so
nothing here is imported until an object is shown, and the result types keep no import of a renderer.

Every HTML is the fragment the reports draw (`explain.render.html`, `explain.render.cards`,
`explain.report.corpus_summary_html`, `explain.render.leaderboard`): inline CSS, no script from anywhere (the
BertViz views and the leaderboard page inline theirs inside an `<iframe srcdoc>`), review text escaped. No
`initjs`-style step: `display(x)` or a cell ending in `x` draws it.

`to_html(x)` returns the same HTML for any of them; `HTML` wraps a fragment so it can be displayed or saved;
`attention_view` returns BertViz's head or model view as one.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

LEADERBOARD_HEIGHT = 900  # pixels of the leaderboard page's frame in a notebook (it scrolls inside)


class HTML:
    """A self-contained HTML fragment that IPython displays; `save` writes it as a page."""

    def __init__(self, html: str, title: str = "review-explainer"):
        self.html = html
        self.title = title

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"HTML({self.title!r}, {len(self.html):,} characters)"

    def save(self, path: str | Path) -> Path:
        """Write the fragment as one self-contained page (atomically: a failure leaves no partial file)."""
        from html import escape

        from explain.atomic import write_atomic

        page = f"<!doctype html><meta charset='utf-8'><title>{escape(self.title)}</title>\n<body>{self.html}</body>\n"
        return write_atomic(path, page)


# ------------------------------------------------------------------ one renderer per result type
def _explanation(x) -> str:
    from explain.render.cards import explanation_card_html

    return explanation_card_html(x)


def _answer(x) -> str:
    from explain.render.cards import answer_html

    return answer_html(x)


def _consensus(x) -> str:
    from explain.render.cards import consensus_html

    return consensus_html(x)


def _trace(x) -> str:
    from explain.render.cards import trace_html

    return trace_html(x)


def _corpus_summary(x) -> str:
    from explain.report import corpus_summary_html

    return corpus_summary_html(x)


def _drivers(x) -> str:
    from explain.render.drivers_view import drivers_html

    return drivers_html(x)


def _evaluation(x) -> str:
    return _leaderboard(x.summary)


def _leaderboard(summary: dict) -> str:
    from explain.render.html import iframe_html
    from explain.render.leaderboard import leaderboard_html

    return iframe_html(leaderboard_html(summary), LEADERBOARD_HEIGHT)


# (module, class name) -> its HTML renderer; the modules are those that define the types
RENDERERS: dict[tuple[str, str], Callable[[Any], str]] = {
    ("explain.explanation", "Explanation"): _explanation,
    ("explain.answer", "Answer"): _answer,
    ("explain.metrics.consensus", "Consensus"): _consensus,
    ("explain.stages", "Trace"): _trace,
    ("explain.corpus.summary", "CorpusSummary"): _corpus_summary,
    ("explain.corpus.driver_types", "Drivers"): _drivers,
    ("explain.evaluation", "Evaluation"): _evaluation,
}


def to_html(x: Any) -> str:
    """The HTML a notebook shows for a result (an `Explanation`, `Answer`, `Consensus`, `Trace`, `CorpusSummary`,
    `Drivers`, `Evaluation`, or an evaluation summary dict); TypeError for anything else."""
    if isinstance(x, HTML):
        return x.html
    if isinstance(x, dict) and "leaderboard" in x:
        return _leaderboard(x)
    for cls in type(x).__mro__:
        renderer = RENDERERS.get((cls.__module__, cls.__name__))
        if renderer is not None:
            return renderer(x)
    raise TypeError(f"no HTML display for {type(x).__name__}")


def leaderboard(summary: dict) -> HTML:
    """An evaluation summary (`explain.evaluation.summarize`, or the JSON `explain evaluate --out` writes) as the
    leaderboard page, displayable in a notebook."""
    return HTML(_leaderboard(summary), "Explanation leaderboard")


def attention_view(
    classifier, text: str, view: str = "head", *, window: int = 0, layers: Sequence[int] | None = None
) -> HTML:
    """BertViz's head view (one layer's heads, token-to-token lines) or model view (every layer and head) of a
    review, offline (require.js, d3 and jQuery inlined from the cache; `setup.sh` fetches them once), in its own
    frame. A long review: `window` picks the window drawn."""
    from explain.errors import InvalidValueError
    from explain.render.attention_view import (
        attention_inputs,
        head_view_height,
        head_view_html,
        model_view_height,
        model_view_html,
    )
    from explain.render.html import iframe_html

    if view not in ("head", "model"):
        raise InvalidValueError(f"view must be 'head' or 'model', not {view!r}")
    tokens, attentions = attention_inputs(classifier, text, window)
    if view == "head":
        document, height = head_view_html(tokens, attentions, layers=layers), head_view_height(len(tokens))
    else:
        n_layers = len(layers) if layers is not None else attentions.shape[0]
        document = model_view_html(tokens, attentions, layers=layers)
        height = model_view_height(len(tokens), n_layers, attentions.shape[1])
    return HTML(iframe_html(document, height), f"BertViz {view} view")


def register_display(shell=None) -> bool:
    """Register the HTML formatters with IPython's display formatter (the running shell's, or
    `shell`'s). Returns False, doing nothing, outside IPython; IPython itself is never imported here."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    formatter = getattr(shell, "display_formatter", shell)
    formatters = getattr(formatter, "formatters", None)
    if not formatters or "text/html" not in formatters:
        return False
    for module, name in RENDERERS:
        formatters["text/html"].for_type_by_name(module, name, to_html)
    # tqdm.auto (imported by the Hugging Face libraries) warns in a notebook without Jupyter's widgets that it
    # falls back to its text bar; the bars work, so the warning is only noise in the analyst's notebook.
    # It is given once, when tqdm.auto is first imported: import it now, under the filter, so that a later first
    # import inside some library's own `warnings.catch_warnings()` cannot bring it back.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import tqdm.auto  # noqa: F401

    return True
