"""Terminal rendering: the three-stage trace, prediction tables and coloured tokens (rich)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

from explain.classifier import Trace
from explain.explanation import Explanation
from explain.inert import printable as printable  # the one filter; the terminal's callers import it here
from explain.render.leaderboard import leaderboard_text
from explain.render.plain import top_sentences
from explain.words import WORD_UNITS_UP_TO


def format_trace(trace: Trace) -> str:
    """The trace in the seed's three sections, as plain text (a long text: each window's, then the aggregation)."""
    if trace.windows:
        return _format_windowed_trace(trace)
    lines = [
        f"Text: {trace.text!r}",
        f"Model: {trace.model}",
        "",
        "Stage 1: Preprocessing",
        f"  input_ids:      {trace.input_ids}",
    ]
    if trace.token_type_ids is not None:
        lines.append(f"  token_type_ids: {trace.token_type_ids}")
    lines.append(f"  attention_mask: {trace.attention_mask}")
    if trace.truncated:
        lines.append(f"  NOTE: the text was longer than {trace.max_length} tokens and was truncated")
    lines.append("  token id -> token:")
    lines += [f"    {i:>6} -> {tok}" for i, tok in trace.id_to_token.items()]
    lines += [
        "",
        "Stage 2: Model inference",
        f"  logits: [{', '.join(f'{x:.4f}' for x in trace.logits)}]",
        "",
        "Stage 3: Post-processing",
        f"  probabilities (softmax): [{', '.join(f'{p:.4f}' for p in trace.probabilities)}]",
        f"  id2label: {trace.id2label}",
        "  predictions:",
    ]
    top = trace.predicted_label
    lines += [
        f"    {label:<{max(map(len, trace.predictions))}}  {p:.3f}{'  <- predicted' if label == top else ''}"
        for label, p in trace.predictions.items()
    ]
    if trace.expected_rating is not None:
        terms = " + ".join(f"{v:g} x {p:.3f}" for v, p in zip(trace.label_values, trace.probabilities, strict=True))
        lines += [f"  expected rating = sum of value x probability = {terms} = {trace.expected_rating:.3f}"]
    lines += ["", f"Answer: {trace.answer}"]
    return printable("\n".join(lines))


def _format_windowed_trace(trace: Trace) -> str:
    n = len(trace.windows)
    lines = [
        f"Text: {_shorten(trace.text, 200)!r}",
        f"Model: {trace.model}",
        f"The text is longer than {trace.max_length} tokens: read whole in {n} overlapping windows.",
    ]
    for i, part in enumerate(trace.windows):
        lines += ["", f"=== Window {i + 1}/{n}: tokens {part.start}-{part.end}, weight {part.weight:.3f} ===", ""]
        lines.append(format_trace(part.trace).split("\n", 2)[2])  # without the text and model lines
    weights = " + ".join(f"{p.weight:.3f} x window {i + 1}" for i, p in enumerate(trace.windows))
    lines += [
        "",
        "=== Aggregation: probabilities = " + weights + " ===",
        "  (each window weighted by the tokens it owns: the tokens nearer its centre than any other window's)",
        f"  probabilities: [{', '.join(f'{p:.4f}' for p in trace.probabilities)}]",
        "  predictions:",
    ]
    top = trace.predicted_label
    lines += [
        f"    {label:<{max(map(len, trace.predictions))}}  {p:.3f}{'  <- predicted' if label == top else ''}"
        for label, p in trace.predictions.items()
    ]
    return "\n".join(lines)


def prediction_table(text: str, labels: Sequence[str], probabilities: np.ndarray) -> Table:
    """A table of labels and probabilities with a bar, the top label marked."""
    table = Table(title=Text(_shorten(printable(text), 90)), title_justify="left", show_edge=False)
    table.add_column("label")
    table.add_column("probability", justify="right")
    table.add_column("")
    top = int(np.argmax(probabilities))
    for i, (label, p) in enumerate(zip(labels, probabilities, strict=True)):
        mark = " <- predicted" if i == top else ""
        style = "bold green" if i == top else ""
        table.add_row(
            Text(printable(label), style=style), f"{p:.3f}", Text("█" * int(round(p * 30)) + mark, style=style)
        )
    return table


def colored_words(explanation: Explanation, scale: float | None = None) -> Text:
    """The review with each word coloured by its score: green raises the explained output, red lowers it;
    blue for class-agnostic scores (where the model looked, no direction). `scale`: the |score| of full
    colour (default: this explanation's largest), so explanations in one unit can share a scale."""
    scores = explanation.word_scores
    if scale is None or scale <= 0:
        scale = float(np.max(np.abs(scores))) if len(scores) and np.max(np.abs(scores)) > 0 else 1.0
    out = Text()
    last = 0
    for (start, end), score in zip(explanation.alignment.word_offsets, scores, strict=True):
        out.append(printable(explanation.text[last:start]))
        strength = min(1.0, abs(score) / scale)
        level = int(80 + 175 * strength)
        if not explanation.class_specific:
            color = f"rgb(0,0,{level})"
        else:
            color = f"rgb(0,{level},0)" if score > 0 else f"rgb({level},0,0)"
        out.append(printable(explanation.text[start:end]), style=f"bold white on {color}" if strength > 0.05 else "")
        last = end
    out.append(printable(explanation.text[last:]))
    return out


def explanation_notes(explanation: Explanation) -> list[str]:
    """Caveats a reader should see next to the scores (read from the method's diagnostics)."""
    d, notes = explanation.diagnostics, []
    if not explanation.class_specific:
        notes.append("class-agnostic: where the model looked, with no direction (blue); the same for every question")
    if d.get("approximation"):  # amortized: say it is learned, and how faithful it was
        notes.append(str(d["approximation"]))
    if (d.get("relative_delta") or 0.0) > 0.05:  # None where f(x) = f(baseline): no relative delta
        notes.append(
            f"integrated gradients is incomplete (relative delta {d['relative_delta']:.3f} > 0.05): "
            "raise n_steps, e.g. --param n_steps=200"
        )
    if (d.get("additivity_error") or 0.0) > 1e-3:
        notes.append(f"SHAP values miss f(x) by {d['additivity_error']:.4f}")
    if d.get("exact") is False and "estimated_error" in d:
        notes.append(
            f"SHAP is approximate at {d['evals']} evaluations: estimated error {d['estimated_error']:.4f}"
            f"{' ' + explanation.unit if explanation.unit else ''} "
            f"(change from half the budget); raise max_evals, e.g. --param shap.max_evals={2 * d['evals']} "
            f"(exact from {d['full_tree_evals']})"
        )
    if d.get("truncated"):
        notes.append("the review was longer than the model's maximum; only the part it sees is explained")
    if explanation.scored_whole_sentences:
        why = f"long review ({len(explanation.words):,} words): " if len(explanation.words) > WORD_UNITS_UP_TO else ""
        notes.append(
            f"{why}scored with whole {d['unit']}s removed ({d['units']} {d['unit']}s), "
            f"each {d['unit']}'s score spread evenly over its words"
        )
    if d.get("windows", 1) > 1:
        notes.append(f"long review: read in {d['windows']} overlapping windows")
    return notes


def _shorten(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def sentence_lines(explanation: Explanation, limit: int = 3) -> list[str]:
    """The sentences that moved the output most: "-1.20 stars  The battery died after two days."."""
    return [f"{score:>16}  {_shorten(text, 70)}" for score, text in top_sentences(explanation, limit)]


# ---------------------------------------------------------------- the evaluation leaderboard
_SHORT = {
    "comprehensiveness": "compr",
    "sufficiency": "suff",
    "deletion_auc": "del",
    "insertion_auc": "ins",
    "tau_loo": "tau",
    "plausibility": "plaus",
    "seconds": "s/expl",
}


def _cell(stat: Mapping | None, digits: int = 3, interval: bool = True) -> str:
    """The mean, and under it the bootstrap interval when asked (and there is one)."""
    if not stat or stat.get("mean") is None:
        return "—"
    if not interval or stat.get("low") is None or stat["n"] < 2:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}\n[{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"


def leaderboard_tables(summary: Mapping, width: int = 80) -> list:
    """Rich renderables: the metrics table (best per column in bold), the Spearman agreement matrix, the
    leaderboard. Bootstrap intervals are shown when the terminal is at least 150 columns wide."""
    interval = width >= 150

    infos = summary["metric_info"]
    columns = list(summary["settings"]["metrics"]) + ["seconds"]
    best = {name: entry["method"] for name, entry in summary["leaderboard"].items()}
    caption = "" if interval else "means; 95% bootstrap intervals in the JSON and HTML (or a wider terminal)"
    table = Table(
        title=f"Explanation quality on {summary['data']} ({summary['n_items']} texts)",
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_lines=interval,
        padding=(0, 1),
    )
    counts = {row["n_texts"] for row in summary["methods"].values()}
    table.add_column("method" if len(counts) == 1 else "method (texts)", no_wrap=True)
    for name in columns:
        arrow = "↑" if infos[name]["higher_is_better"] else "↓"
        table.add_column(f"{_SHORT.get(name, name)}{arrow}", justify="right", no_wrap=True)
    for method, row in summary["methods"].items():
        label = method if len(counts) == 1 else f"{method} ({row['n_texts']})"
        cells = [Text(label, style="dim italic" if method == summary.get("baseline") else "bold")]
        for name in columns:
            digits = 2 if name == "seconds" else 3
            style = "bold green" if best.get(name) == method else ""
            cells.append(Text(_cell(row.get(name), digits, interval), style=style))
        table.add_row(*cells)
    out: list = [table]
    if summary.get("truncated_texts"):
        out.append(
            Text(
                f"{summary['truncated_texts']} text(s) were longer than the model's maximum length; "
                "methods and metrics used the part the model sees.",
                style="yellow",
            )
        )
    if "spearman" in summary["agreement"]:
        agree = summary["agreement"]["spearman"]
        mat = Table(
            title="Agreement between methods (mean Spearman of word scores)", box=box.SIMPLE_HEAD, padding=(0, 1)
        )
        mat.add_column("", no_wrap=True)
        for i, _ in enumerate(agree["methods"], start=1):
            mat.add_column(str(i), justify="right", no_wrap=True, min_width=5)
        for i, (m, row) in enumerate(zip(agree["methods"], agree["values"], strict=True), start=1):
            mat.add_row(f"{i} {m[:10]}", *["—" if v is None else f"{v:.2f}" for v in row])
        out.append(mat)
    out.append(leaderboard_text(summary))
    return out
