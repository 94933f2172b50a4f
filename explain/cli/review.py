"""`explain predict`, `trace`, `why` and `methods`: one review at a time, in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from explain.cli.common import (
    FileOpt,
    LabelValuesOpt,
    LongOpt,
    ModelOpt,
    RemoteOpt,
    TargetOpt,
    TextColOpt,
    TextsArg,
    UntrainedOpt,
    app,
    err,
    head_warning,
    load_classifier,
    out,
    print_head_warning,
    read_texts,
    writable_output,
    write_json_array,
)
from explain.cli.first_use import ensure_default_head
from explain.labels import expected_rating
from explain.render.terminal import printable


@app.command()
def predict(
    texts: TextsArg = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables (a row per line, written as computed).")
    ] = False,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Probability of each label for each text, and the expected rating; the top label is marked."""
    items = read_texts(texts, file, text_col)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    warning = head_warning(clf)

    def predicted(chunk_size: int = 256):
        for start in range(0, len(items), chunk_size):
            chunk = items[start : start + chunk_size]
            yield from zip(chunk, clf.predict_proba(chunk), strict=True)

    if as_json:
        write_json_array(
            {
                "text": t,
                "predicted": clf.labels[int(p.argmax())],
                "probabilities": dict(zip(clf.labels, map(float, p), strict=True)),
                "expected_rating": expected_rating(p, clf.label_values),
            }
            | ({"warning": warning} if warning else {})
            for t, p in predicted()
        )
    else:
        for text, p in predicted():
            _print_prediction(clf, text, p)
    print_head_warning(clf)


@app.command()
def trace(
    texts: TextsArg = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Show the three stages (preprocessing, model inference, post-processing) for each text."""
    from explain.render.terminal import format_trace

    items = read_texts(texts, file, text_col)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    for i, text in enumerate(items):
        if i:
            print("\n" + "=" * 72 + "\n")
        print(format_trace(clf.trace(text)))
    print_head_warning(clf)


@app.command()
def why(
    texts: TextsArg = None,
    method: Annotated[str, typer.Option("--method", help="Comma-separated methods (see `explain methods`).")] = "shap",
    target: TargetOpt = None,
    contrast: Annotated[str | None, typer.Option(help="Explain target *rather than* this label.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="Method parameter NAME=VALUE or METHOD.NAME=VALUE, e.g. max_evals=300 (repeatable)."
        ),
    ] = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanations as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page.")] = None,
    top: Annotated[int, typer.Option(min=0, help="How many top words to list per method.")] = 5,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Why did the model give this review its stars? Coloured words per method, prediction on top."""
    from explain.answer import answer
    from explain.methods import check_plan, method_names, parse_params
    from explain.methods import explain as run_method

    items = read_texts(texts, file, text_col)
    names = method_names(method, option="--method")
    params = parse_params(param, names)
    writable_output(html)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    ensure_default_head(clf, names)  # with amortized, the default model's head is fitted on first use
    check_plan(clf, items, names, params)  # every parameter and budget, on every review, before any output
    explanations = []
    for text in items:
        probs = clf.predict_proba([text])[0]
        if not as_json:
            _print_prediction(clf, text, probs)
        question = clf.target(target, contrast, text)  # one question for every method
        ours = []
        for name in names:
            exp = run_method(clf, text, method=name, target=question, **params.get(name, {}))
            ours.append(exp)
            if not as_json:
                _print_explanation(exp, top)
        explanations += ours
        if not as_json:  # the one rule's line: words with their effects, or that none clears the noise floor
            line = answer(ours, clf.rating_unit, classifier=clf).words
            out.print("\n[bold]Answer:[/] " + escape(printable(line)), highlight=False)
            out.print()
    if as_json:
        write_json_array(e.to_dict() for e in explanations)
    print_head_warning(clf)
    if html is not None:
        from explain.atomic import write_atomic
        from explain.render.html import explanations_page

        write_atomic(html, explanations_page(explanations))  # checked writable before the work
        err.print(f"wrote {html}")


def _print_prediction(clf, text: str, probabilities) -> None:
    """The probability table of one review and its answer line ("1.6 stars expected (most likely ...)")."""
    from explain.render.plain import answer_line
    from explain.render.terminal import prediction_table

    out.print(prediction_table(text, clf.labels, probabilities))
    line = answer_line(clf.labels, probabilities, clf.label_values, clf.rating_unit)
    out.print("  " + escape(printable(line)), highlight=False)


def _print_explanation(exp, top: int) -> None:
    """One method's part of `explain why`: the question, coloured words, notes, top words, top sentences."""
    from explain.render.plain import score_text
    from explain.render.terminal import colored_words, explanation_notes, sentence_lines

    d = exp.diagnostics
    out.print(
        f"\n[bold]{exp.method}[/] — {escape(printable(exp.question))}  "
        f"[dim]({d['seconds']:.2f} s, {d['model_evaluations']} model evaluations)[/]",
        highlight=False,
    )
    out.print(colored_words(exp))
    for note in explanation_notes(exp):
        out.print(f"  [yellow]note:[/] {note}", highlight=False)
    if not exp.scored_whole_sentences:  # else a sentence's score is spread evenly: no word stands out
        top_words = ", ".join(f"{w} {score_text(s, exp.unit)}" for w, s in exp.top_words(top))
        out.print("  top words: " + escape(printable(top_words)), highlight=False)
    for line in sentence_lines(exp):
        out.print(f"  {escape(printable(line))}", highlight=False)


@app.command("methods")
def list_methods() -> None:
    """List the explanation methods, what they can do and their parameters."""
    from explain.methods import methods as registered

    for m in registered():
        flags = [
            flag
            for flag, on in (("additive", m.additive), ("all labels", m.per_label), ("gradients", m.needs_gradients))
            if on
        ]
        aliases = f" (also: {', '.join(m.aliases)})" if m.aliases else ""
        out.print(f"[bold]{m.name}[/]{aliases}" + (f"  [dim]{', '.join(flags)}[/]" if flags else ""))
        out.print(f"    {m.summary}", highlight=False)
        if m.parameters:
            out.print("    parameters: " + ", ".join(f"{k}={v!r}" for k, v in m.parameters.items()), highlight=False)
        if m.reference:
            out.print(f"    [dim]{m.reference}[/]", highlight=False)
