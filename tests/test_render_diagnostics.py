"""Diagnostics in plain words (explain.render.diagnostics)."""

from __future__ import annotations

from explain.methods import explain
from explain.render.diagnostics import readable_diagnostics, score_unit


def test_diagnostics_are_plain_words_with_meanings(tiny_bert):
    exp = explain(tiny_bert, "I hate cold winter days", method="occlusion", target="predicted")
    rows = {r.label: r for r in readable_diagnostics(exp)}
    assert int(rows["texts the model scored"].value) == exp.diagnostics["model_evaluations"] > 0
    assert rows["time"].value == f"{exp.diagnostics['seconds']:.2f} s"
    assert rows["time spent in the model"].value.endswith(" %")
    assert rows["question"].value == exp.question
    assert all(r.meaning for r in rows.values())
    assert not {"fx", "forward_share", "model_evaluations", "seconds"} & set(rows)
    assert score_unit(exp) == "probability"


def test_lists_and_internal_sizes_are_left_out(tiny_bert):
    exp = explain(tiny_bert, "I hate cold winter days", method="ig", n_steps=8, target=0)
    rows = readable_diagnostics(exp)
    labels = [r.label for r in rows]
    assert "internal batch size" not in labels and "internal_batch_size" not in labels
    assert "explained output" in labels and "completeness gap" in labels
    assert not any(r.value.startswith("[") for r in rows)
    assert score_unit(exp) == "logit"


def test_units_follow_the_question(tiny_bert):
    assert score_unit(explain(tiny_bert, "cold days", method="occlusion")) == "stars"  # the rating
    assert score_unit(explain(tiny_bert, "cold days", method="rollout")) == "attention weight"
