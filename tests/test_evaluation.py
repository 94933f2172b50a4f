"""`explain evaluate`: the runner (resumable, counted model calls), the summary, the table, the HTML page."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import warnings

import numpy as np
import pytest

from explain.classifier import Classifier
from explain.cli import main
from explain.errors import DataError, UserError
from explain.evaluation import (
    RANDOM,
    EvalItem,
    ResultLog,
    Settings,
    bootstrap_interval,
    leaderboard_html,
    leaderboard_lines,
    load_items,
    run_evaluation,
    sidecar_path,
    summarize,
)

TEXTS = [
    "The battery died after two days, what a waste of money.",
    "Great sound, terrible price!",
    "It's not bad, but I wouldn't buy it again.",
]
FAST = Settings(steps=5, random_rankings=2)


def items(n: int = 2) -> list[EvalItem]:
    return [EvalItem(f"t{i}", t) for i, t in enumerate(TEXTS[:n])]


def test_run_scores_every_method_and_the_random_baseline(tiny_bert, tmp_path):
    log = ResultLog(tmp_path / "r.items.jsonl")
    records = run_evaluation(tiny_bert, items(), ["occlusion"], FAST, log, progress=False)
    assert [(r["method"], r["item"]) for r in records] == [
        ("occlusion", "t0"),
        (RANDOM, "t0"),
        ("occlusion", "t1"),
        (RANDOM, "t1"),
    ]
    occ = records[0]
    assert occ["metrics"]["tau_loo"] == pytest.approx(1.0)  # occlusion IS leave-one-out
    assert len(occ["curves"]["deletion"]) == 21 and occ["seconds"] > 0 and occ["model_evaluations"] > 0
    assert "plausibility" not in occ["metrics"]  # no human ratings for these texts
    summary = summarize(records, ["occlusion"], FAST, model=tiny_bert.name, data="test", n_items=2)
    row = summary["methods"]["occlusion"]
    assert row["n_texts"] == 2 and row["tau_loo"]["mean"] == pytest.approx(1.0)
    assert row["comprehensiveness"]["low"] <= row["comprehensiveness"]["mean"] <= row["comprehensiveness"]["high"]
    assert summary["leaderboard"]["tau_loo"]["method"] == "occlusion"
    assert "seconds" not in summary["methods"][RANDOM]
    assert summary["agreement"] == {}  # one real method: nothing to compare
    assert summary["questions"] == ["the expected rating"]  # star labels: the rating is the default question


def test_rerun_skips_finished_items_and_a_killed_run_loses_only_the_item_in_progress(tiny_bert, tmp_path):
    path = tmp_path / "r.items.jsonl"
    first = run_evaluation(tiny_bert, items(), ["occlusion"], FAST, ResultLog(path), progress=False)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 + 2  # 4 (method, text) records + the leave-one-out drops of each text
    calls = tiny_bert.texts_evaluated
    again = run_evaluation(tiny_bert, items(), ["occlusion"], FAST, ResultLog(path), progress=False)
    assert tiny_bert.texts_evaluated == calls  # nothing was evaluated again
    assert [r["key"] for r in again] == [r["key"] for r in first]
    # simulate a kill while the last record was being written: drop it, leave half a line
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    resumed = run_evaluation(tiny_bert, items(), ["occlusion"], FAST, ResultLog(path), progress=False)
    assert tiny_bert.texts_evaluated > calls  # the lost item was computed again ...
    assert [r["key"] for r in resumed] == [r["key"] for r in first]
    assert resumed[-1]["metrics"] == pytest.approx(first[-1]["metrics"])
    assert len(ResultLog(path).records) == len(lines)  # ... and logged again on a fresh line
    assert json.loads(path.read_text().splitlines()[-1])["key"] == json.loads(lines[-1])["key"]
    calls = tiny_bert.texts_evaluated
    run_evaluation(tiny_bert, items(), ["occlusion"], FAST, ResultLog(path), progress=False)
    assert tiny_bert.texts_evaluated == calls


def test_changed_settings_are_recomputed(tiny_bert, tmp_path):
    path = tmp_path / "r.items.jsonl"
    run_evaluation(tiny_bert, items(1), ["occlusion"], FAST, ResultLog(path), progress=False)
    calls = tiny_bert.texts_evaluated
    run_evaluation(
        tiny_bert, items(1), ["occlusion"], Settings(steps=4, random_rankings=2), ResultLog(path), progress=False
    )
    assert tiny_bert.texts_evaluated > calls


def test_agreement_matrix_in_the_summary():
    def rec(method, text, scores):
        return {
            "key": f"{method}|{text}|fp",
            "kind": "explanation",
            "method": method,
            "item": text,
            "metrics": {"comprehensiveness": 0.1},
            "seconds": 1.0,
            "model_evaluations": 1,
            "curves": {"deletion": [1.0, 0.0]},
            "word_scores": scores,
        }

    records = [
        rec("a", "x", [1, 2, 3, 4]),
        rec("b", "x", [1, 2, 3, 4]),
        rec("c", "x", [4, 3, 2, 1]),
        rec("a", "y", [1, 2, 3]),
        rec("b", "y", [3, 2, 1]),
        rec("c", "y", [1, 2, 3]),
        {
            "key": "random|x|fp",
            "kind": "explanation",
            "method": RANDOM,
            "item": "x",
            "metrics": {"comprehensiveness": 0.0},
            "seconds": 0.0,
            "model_evaluations": 0,
            "curves": {"deletion": [0.5, 0.5]},
            "word_scores": None,
        },
    ]
    summary = summarize(records, ["a", "b", "c"], Settings(metrics=("comprehensiveness",)))
    for measure in ("spearman", "kendall", "top_k_overlap"):
        values = np.asarray(summary["agreement"][measure]["values"], dtype=float)
        np.testing.assert_allclose(values, values.T)
        np.testing.assert_allclose(np.diag(values), 1.0)
    spearman = summary["agreement"]["spearman"]
    assert spearman["methods"] == ["a", "b", "c"]
    assert spearman["values"][0][1] == pytest.approx(0.0)  # +1 on x, -1 on y
    assert spearman["values"][0][2] == pytest.approx(0.0) and spearman["values"][1][2] == pytest.approx(-1.0)
    assert summary["curves"]["by_method"]["a"]["deletion"] == [1.0, 0.0]
    assert summary["methods"]["a"]["seconds"]["mean"] == 1.0
    page = leaderboard_html(summary)
    assert page.count("<svg") == 3 and "Spearman rank correlation" in page and "top-10 overlap" in page
    assert page.count('<td style="background:') == 3 * 9  # three 3x3 agreement matrices


def test_bootstrap_interval():
    assert bootstrap_interval([0.3, 0.3, 0.3]) == (0.3, 0.3)
    assert bootstrap_interval([0.5]) == (0.5, 0.5)
    low, high = bootstrap_interval(list(np.linspace(0, 1, 50)))
    assert low < 0.5 < high and high - low < 0.25
    assert (low, high) == bootstrap_interval(list(np.linspace(0, 1, 50)))  # seeded
    assert bootstrap_interval([1.0, float("nan"), 1.0]) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval([])))


def test_html_is_self_contained_and_escaped(tiny_bert):
    records = run_evaluation(tiny_bert, items(1), ["occlusion"], FAST, progress=False)
    summary = summarize(records, ["occlusion"], FAST, model="<script>alert(1)</script>", data="a&b.csv", n_items=1)
    page = leaderboard_html(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&amp;b.csv" in page
    assert page.count("<svg") == 1 and page.count("<polyline") == 4  # deletion + insertion, method + random
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert any(line.startswith("best tau-LOO: occlusion") for line in leaderboard_lines(summary))
    assert "explains\nthe expected rating (faithfulness in stars)" in page and "Expected rating as" in page


def test_html_draws_rating_curves_on_a_star_axis(rated_classifier):
    """Deletion curves in stars (1-5) are drawn on an axis around them, not clamped to the top of a 0-1 axis."""
    text = "the screen is nice but the battery was terrible and support never answered my phone"
    records = run_evaluation(rated_classifier, [EvalItem("t", text)], ["occlusion"], FAST, progress=False)
    summary = summarize(records, ["occlusion"], FAST, model="m", data="d", n_items=1)
    deletion = summary["curves"]["by_method"]["occlusion"]["deletion"]
    assert max(deletion) - min(deletion) > 1.0  # deleting 'terrible' first moves the rating by stars
    page = leaderboard_html(summary)
    ys = [float(point.split(",")[1]) for points in re.findall(r'points="([^"]+)"', page) for point in points.split()]
    assert max(ys) - min(ys) > 0.25 * (max(ys) + min(ys)) / 2  # the curves span the plot, not one line


def test_html_names_the_predicted_class_when_that_is_the_question(tiny_bert):
    settings = dataclasses.replace(FAST, target="predicted")
    records = run_evaluation(tiny_bert, items(1), ["occlusion"], settings, progress=False)
    summary = summarize(records, ["occlusion"], settings, model="m", data="d", n_items=1)
    assert summary["questions"] and "the expected rating" not in summary["questions"]
    page = leaderboard_html(summary)
    assert "explains\nthe predicted class." in page and "Probability of the predicted class as" in page


def test_items_and_params(tmp_path):
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("id,review\n1,Great phone\n2,Bad case\n3,Fine\n")
    assert [i.text for i in load_items(str(csv_file), 2, "review")] == ["Great phone", "Bad case"]
    with pytest.raises(DataError, match="--text-col"):
        load_items(str(csv_file), 2, None)
    with pytest.raises(UserError):
        Settings(metrics=("accuracy",))
    assert sidecar_path(tmp_path / "res.json") == tmp_path / "res.items.jsonl"


@pytest.mark.default_model
def test_heldout_reviews_split_into_rated_sentences():
    found = load_items("default-heldout")
    assert len(found) > 20 and all(i.sentences and len(i.sentences) == len(i.ratings) for i in found)
    from explain.metrics import sentence_spans

    for item in found:
        assert item.text == " ".join(item.sentences)
        assert len(sentence_spans(item.text, item.sentences)) == len(item.sentences)


def test_cli_evaluate_writes_json_and_html_and_resumes(monkeypatch, capsys, tiny_bert_dir, tmp_path):
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("review\n" + "\n".join(f'"{t}"' for t in TEXTS[:2]) + "\n")
    out, html = tmp_path / "res.json", tmp_path / "board.html"
    args = [
        "explain",
        "evaluate",
        "--data",
        str(csv_file),
        "--text-col",
        "review",
        "--methods",
        "loo",
        "--n",
        "2",
        "--model",
        str(tiny_bert_dir),
        "--out",
        str(out),
        "--html",
        str(html),
        "--random",
        "2",
        "--metrics",
        "comprehensiveness,tau_loo",
    ]
    monkeypatch.setattr(sys, "argv", args)
    main()
    printed = capsys.readouterr().out
    summary = json.loads(out.read_text())
    assert set(summary["methods"]) == {"occlusion", RANDOM} and summary["n_items"] == 2
    assert summary["methods"]["occlusion"]["tau_loo"]["mean"] == pytest.approx(1.0)
    assert "tau-LOO" in printed and "Leaderboard" in printed and html.read_text().startswith("<!DOCTYPE html>")
    n_lines = len(sidecar_path(out).read_text().splitlines())
    assert summary["records_resumed"] == 0
    main()
    assert len(sidecar_path(out).read_text().splitlines()) == n_lines  # nothing recomputed
    assert json.loads(out.read_text())["records_resumed"] == n_lines  # and the summary says its time is a re-read
    monkeypatch.setattr(sys, "argv", args[:-2] + ["--metrics", "accuracy"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2


def test_truncated_texts_are_counted_not_warned_about(tiny_bert):
    long = EvalItem("long", "great battery " * 80)  # past the tiny model's 128 positions
    windowed = run_evaluation(  # the default reads it whole, in windows: nothing is cut
        tiny_bert, [long], ["occlusion"], Settings(steps=3, random_rankings=1, metrics=("comprehensiveness",))
    )
    assert windowed[0]["truncated"] is False and windowed[0]["n_words"] == 160
    cutting = Classifier(tiny_bert.model, tiny_bert.tokenizer, long="truncate")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TruncationWarning here would fail the test
        records = run_evaluation(
            cutting,
            [long],
            ["occlusion"],
            Settings(steps=3, random_rankings=1, metrics=("comprehensiveness",)),
            progress=False,
        )
    assert records[0]["truncated"] is True and records[0]["n_words"] < 160
    summary = summarize(records, ["occlusion"], Settings(metrics=("comprehensiveness",)), n_items=1)
    assert summary["truncated_texts"] == 1 and "1 text(s)" in leaderboard_html(summary)


def test_record_keys_hold_every_parameter_defaults_included():
    """A default written out is the same record; a changed value (or a changed default) is a new one."""
    implicit = Settings().fingerprint("m", "lime")
    assert Settings(params={"lime": {"mode": "delete"}}).fingerprint("m", "lime") == implicit
    assert Settings(params={"lime": {"mode": "mask"}}).fingerprint("m", "lime") != implicit
    assert Settings(params={"lime": {"num_samples": 64}}).fingerprint("m", "lime") != implicit
    assert Settings(params={"lime": {"mode": "mask"}}).fingerprint("m", "shap") == Settings().fingerprint("m", "shap")


def test_evaluate_returns_data_reports_progress_and_prints_nothing(tiny_bert, tmp_path, capsys):
    from explain.evaluation import EvaluateOptions, evaluate

    data = tmp_path / "r.csv"
    data.write_text("body\n" + "\n".join(f'"{t}"' for t in TEXTS[:2]) + "\n", encoding="utf-8")
    seen = []
    options = EvaluateOptions(
        data=str(data), methods="occlusion", n=5, out=tmp_path / "e.json", html=tmp_path / "e.html", text_col="body"
    )
    result = evaluate(tiny_bert, options, progress=lambda done, total, what: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]  # 2 texts x (occlusion + random)
    assert result.written == (tmp_path / "e.json", tmp_path / "e.html") and all(p.exists() for p in result.written)
    assert result.notes == (f"{data} has 2 texts; evaluating all of them",)
    assert result.summary["methods"]["occlusion"]["n_texts"] == 2
    assert json.loads((tmp_path / "e.json").read_text())["n_items"] == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
