"""Integration tests on the real default model (built once into the cache by `explain build-default`)."""

import json

import numpy as np
import pytest

from explain.default_model import SEED_SENTENCES, default_model_dir, heldout_reviews

pytestmark = pytest.mark.default_model


def test_metrics_meet_the_targets():
    metrics = json.loads((default_model_dir() / "metrics.json").read_text())
    heldout = metrics["heldout_amazon"]
    assert heldout["accuracy"] >= 0.60 and heldout["mae_stars"] <= 0.50
    assert metrics["split"]["grouped_by"] == "review id"
    assert np.array(heldout["confusion_matrix"]).sum() == heldout["n"]


def test_seed_sentences(default_classifier):
    loved, hate = default_classifier.predict_proba(list(SEED_SENTENCES))
    assert loved.argmax() in (3, 4)
    assert hate[:2].sum() > hate[3:].sum()


def test_labels_and_attentions(default_classifier):
    assert default_classifier.labels == ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
    enc = default_classifier.tokenize([SEED_SENTENCES[1]])
    out = default_classifier.infer(enc, output_attentions=True)
    assert len(out.attentions) == 6 and out.attentions[0].shape[1] == 12


def test_heldout_reviews_are_not_in_training():
    from explain.default_model import default_split

    train, _ = default_split()
    train_groups = {e.group for e in train}
    reviews = heldout_reviews()
    assert len(reviews) > 30
    assert all(f"amazon:{r.review_id}" not in train_groups for r in reviews)
    assert all(len(r.sentences) == len(r.ratings) for r in reviews)


def test_metrics_cover_every_corpus_and_whole_reviews():
    metrics = json.loads((default_model_dir() / "metrics.json").read_text())
    for corpus in ("amazon", "tweets", "movies", "nyt"):
        held = metrics[f"heldout_{corpus}"]
        assert held["n"] > 500 and held["polar_accuracy"] > 0.7, corpus
    reviews = metrics["heldout_reviews"]
    assert reviews["n"] == len(heldout_reviews())
    assert reviews["linear"]["pearson"] >= 0.9 and reviews["stars"]["accuracy"] >= 0.6
    assert metrics["training"]["targets"].startswith("soft")
    assert metrics["split"]["n_passages"] > 500


def test_the_model_card_shows_the_built_models_figures():
    """README's and the manual's v3 figures are this build's metrics.json, rounded as shown (a deterministic
    build: a recipe change that moves them must update the card)."""
    from pathlib import Path

    metrics = json.loads((default_model_dir() / "metrics.json").read_text())
    reviews, amazon = metrics["heldout_reviews"], metrics["heldout_amazon"]
    shown = (
        f"{reviews['linear']['pearson']:.3f} / {reviews['stars']['accuracy']:.3f} / "
        f"{reviews['most_over_predicted_ratio']:.2f}x"
    )
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    card = (root / "docs" / "default-model.md").read_text()
    assert shown in readme, shown
    assert f"{amazon['accuracy']:.3f} / {amazon['mae_stars']:.3f}" in readme
    assert f"| Amazon sentences | 953 | {amazon['accuracy']:.3f} / {amazon['mae_stars']:.3f}" in card
    assert f"**{reviews['linear']['pearson']:.3f}**" in card
