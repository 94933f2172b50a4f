"""The amortized method: a learned head that answers in one forward pass (known answers, refusals, resuming)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import NEGATIVE_WORD, rated_salads
from fakes import run_cli

from explain.amortize import FitResult, choose_teacher, fit_head, has_head, head_info
from explain.classifier import Classifier
from explain.errors import DataError, UserError
from explain.methods import explain
from explain.store import ExplanationStore
from explain.word_head import ForeignHeadError, NoHeadError, head_path

REVIEW = f"The screen is nice but the battery was {NEGATIVE_WORD} and support never answered."


def test_the_head_learns_to_score_the_negative_word_lowest(rated_classifier, tmp_path):
    """A model that learned one word costs 4 stars: the head, fitted on other texts with SHAP as teacher, scores
    that word lowest on a review it never saw, and its fidelity to SHAP is measured on held-out texts."""
    path = tmp_path / "head.pt"
    with ExplanationStore(":memory:") as store:
        result = fit_head(
            rated_classifier,
            rated_salads(48, seed=5),
            chosen=choose_teacher("shap", {"max_evals": 64}),
            store=store,
            path=path,
        )
    assert result.info.teacher == "shap" and result.info.teacher_params == {"max_evals": 64}
    assert result.info.fitted_on + result.info.fidelity_reviews == 48 and result.labels_computed == 48
    assert -1 <= result.info.fidelity <= 1  # Spearman on held-out salads (low: most of their words are noise)
    exp = explain(rated_classifier, REVIEW, method="amortized", head=str(path))
    assert exp.words[int(np.argmin(exp.word_scores))] == NEGATIVE_WORD
    assert exp.word_scores.min() < -0.5  # stars: the word costs stars, in the rating's unit
    assert exp.unit == "stars" and exp.explains == "rating"
    assert "learned approximation of shap (max_evals=64); fidelity" in exp.diagnostics["approximation"]
    np.testing.assert_allclose(exp.probabilities, rated_classifier.predict_proba([REVIEW])[0], atol=1e-6)
    assert exp.diagnostics["model_evaluations"] == 1  # one forward pass


def test_a_head_fitted_for_another_model_is_refused(tiny_bert, tiny_distilbert, tmp_path):
    bert_head = head_path(tiny_bert)
    assert bert_head.is_file() and has_head(tiny_bert)
    with pytest.raises(ForeignHeadError, match="another model"):
        explain(tiny_distilbert, "great sound", method="amortized", head=str(bert_head))
    with pytest.raises(ForeignHeadError, match="another model"):  # nor overwritten by a fit for another model
        fit_head(tiny_distilbert, ["great", "awful sound"], store=ExplanationStore(":memory:"), path=bert_head)


def test_a_model_without_a_head_says_how_to_fit_one(tiny_bert_dir, monkeypatch, tmp_path):
    from explain.word_head import HEADS_ENV

    monkeypatch.setenv(HEADS_ENV, str(tmp_path / "none"))
    clf = Classifier.from_pretrained(tiny_bert_dir)
    assert not has_head(clf)
    with pytest.raises(NoHeadError, match="explain amortize"):
        explain(clf, "great sound", method="amortized")


def test_a_killed_fit_resumes_without_recomputing_teacher_labels(tiny_bert, tmp_path, monkeypatch):
    import explain.amortize.teacher as teacher_module

    calls = []
    real = teacher_module.explain

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(teacher_module, "explain", counted)
    texts = rated_salads(12, seed=9)
    cache, path = tmp_path / "cache.sqlite", tmp_path / "head.pt"

    def killed(done: int, total: int, what: str) -> None:
        if what.startswith("teacher labels") and done == 5:
            raise KeyboardInterrupt  # Ctrl+C after the fifth label

    with ExplanationStore(cache) as store, pytest.raises(KeyboardInterrupt):
        fit_head(tiny_bert, texts, chosen=choose_teacher("occlusion"), store=store, path=path, progress=killed)
    assert len(calls) == 5 and not path.exists()  # nothing half-written
    with ExplanationStore(cache) as store:
        result = fit_head(tiny_bert, texts, chosen=choose_teacher("occlusion"), store=store, path=path)
    assert isinstance(result, FitResult) and path.is_file()
    assert (result.labels_computed, result.labels_cached) == (7, 5)
    assert len(calls) == 12 and len(set(calls)) == 12  # each text labelled once over both runs
    with ExplanationStore(cache) as store:  # a third fit computes nothing
        again = fit_head(tiny_bert, texts, chosen=choose_teacher("occlusion"), store=store, path=path)
    assert (again.labels_computed, again.labels_cached, len(calls)) == (0, 12, 12)


def test_a_long_review_is_windowed_and_every_word_scored(tiny_bert):
    text = " ".join(["great battery", "terrible screen", "fine price"] * 60)  # 360 words, model reads 126 tokens
    exp = explain(tiny_bert, text, method="amortized")
    assert exp.diagnostics["windows"] > 1
    assert len(exp.word_scores) == len(exp.words) == 360
    assert np.all(np.isfinite(exp.word_scores)) and np.all(exp.word_scores != 0)
    np.testing.assert_allclose(exp.probabilities, tiny_bert.predict_proba([text])[0], atol=1e-6)


def test_bad_fits_are_user_errors(tiny_bert):
    store = ExplanationStore(":memory:")
    with pytest.raises(DataError, match="at least 2 reviews"):
        fit_head(tiny_bert, ["only one review"], store=store)
    with pytest.raises(UserError, match="class-agnostic"):
        choose_teacher("attention")
    with pytest.raises(UserError, match="every label"):
        choose_teacher("ig")


def test_head_info_says_what_it_approximates(tiny_bert):
    info = head_info(tiny_bert)
    assert info.teacher == "occlusion" and info.labels == tuple(tiny_bert.labels)
    assert info.description.startswith("learned approximation of occlusion; fidelity ")


@pytest.fixture
def reviews_csv(tmp_path):
    def write(name: str, body: str):
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


def test_amortize_command_fits_and_reports(monkeypatch, capsys, tiny_bert_dir, reviews_csv, tmp_path):
    rows = "\n".join(f'"{t}"' for t in rated_salads(10, seed=2))
    data = reviews_csv("r.csv", "body\n" + rows + "\n")
    out_file = tmp_path / "mine.pt"
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        *("amortize", "--model", tiny_bert_dir, "--data", data, "--text-col", "body", "--teacher", "occlusion"),
        *("--cache", tmp_path / "c.sqlite", "--out", out_file),
    )
    assert code == 0, err
    assert out_file.is_file() and "learned approximation of occlusion; fidelity" in out
    assert "10 computed, 0 from the cache" in out


@pytest.mark.parametrize(
    "body, extra, message",
    [
        ("text\nfine\nbad\n", [], "no column 'body'"),
        ("body\n", [], "no non-empty text"),
        ("body\none review only\n", [], "at least 2 reviews"),
        ("body\nfine\nbad\n", ["--teacher", "attention"], "class-agnostic"),
    ],
)
def test_amortize_mistakes_are_one_line_and_exit_2(
    monkeypatch, capsys, tiny_bert_dir, reviews_csv, tmp_path, body, extra, message
):
    data = reviews_csv("r.csv", body)
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        *("amortize", "--model", tiny_bert_dir, "--data", data, "--text-col", "body", "--cache", tmp_path / "c.sqlite"),
        *extra,
    )
    assert code == 2 and message in err and "Traceback" not in err
    assert err.lower().startswith("error:") and len(err.strip().splitlines()) == 1


@pytest.fixture
def unrated_model_dir(tmp_path):
    """A tiny BERT whose labels (sports, politics) have no order: it has no rating."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from explain.default_model import base_model_dir

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(base_model_dir())
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=2,
        id2label={0: "sports", 1: "politics"},
        label2id={"sports": 0, "politics": 1},
    )
    BertForSequenceClassification(config).save_pretrained(tmp_path / "unrated")
    tok.save_pretrained(tmp_path / "unrated")
    return tmp_path / "unrated"


def test_amortize_refuses_another_models_head_and_an_unrated_rating(
    monkeypatch, capsys, tiny_bert, tiny_distilbert_dir, unrated_model_dir, reviews_csv, tmp_path
):
    data = reviews_csv("r.csv", "body\nfine\nbad\nok then\n")
    common = ("amortize", "--data", data, "--text-col", "body", "--cache", tmp_path / "c.sqlite")
    code, _, err = run_cli(monkeypatch, capsys, *common, "--model", tiny_distilbert_dir, "--out", head_path(tiny_bert))
    assert code == 2 and "fitted for another model" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(monkeypatch, capsys, *common, "--model", unrated_model_dir, "--target", "rating")
    assert code == 2 and "no numeric order" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(monkeypatch, capsys, *common, "--model", unrated_model_dir, "--teacher", "occlusion")
    assert code == 0, err  # without the rating asked, an unrated model is fitted on its predicted classes


def test_every_renderer_says_it_is_a_learned_approximation(monkeypatch, capsys, tiny_bert, tiny_bert_dir, tmp_path):
    from explain.render.diagnostics import readable_diagnostics
    from explain.render.html import explanations_page

    page = tmp_path / "why.html"
    code, out, err = run_cli(
        monkeypatch, capsys, "why", "-m", tiny_bert_dir, "--method", "amortized", "--html", page, "great sound"
    )
    assert code == 0, err
    said = head_info(tiny_bert).description
    assert said.startswith("learned approximation of occlusion; fidelity ") and "on held-out reviews" in said
    assert f"note: {said}" in " ".join(out.split())  # the terminal
    assert said in page.read_text(encoding="utf-8")  # the HTML page
    exp = explain(tiny_bert, "great sound", method="amortized")
    rows = {row.label: row.value for row in readable_diagnostics(exp)}  # the dashboard's diagnostics table
    assert rows["learned approximation"] == said
    assert said in explanations_page([exp])
