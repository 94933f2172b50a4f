"""The first-token last layer: same logits and gradients as the full model, and a safe fallback."""

from __future__ import annotations

import copy

import pytest
import torch

from explain import first_token
from explain.classifier import Classifier
from explain.engine import shared_view
from explain.first_token import FirstTokenLayer, first_token_view

TEXTS = ["Great sound, terrible price!", "ok", "The battery died after two days, what a waste of money."]


def sensitive(folder) -> Classifier:
    """2-D weights redrawn at std 0.2 so logits move with the words (a tolerance then means something)."""
    classifier = Classifier.from_pretrained(folder)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in (p for p in classifier.model.parameters() if p.dim() == 2):
            weight.normal_(0.0, 0.2, generator=generator)
    return classifier


def padded(clf: Classifier) -> dict[str, torch.Tensor]:
    enc = clf.tokenizer(TEXTS, padding=True, return_tensors="pt")
    return {k: v for k, v in enc.items() if k in clf.engine.input_names}


@pytest.fixture(params=["bert", "distilbert", "roberta"])
def clf(request) -> Classifier:
    return sensitive(request.getfixturevalue(f"tiny_{request.param}_dir"))


def test_exact_view_runs_the_first_token_layer_with_the_same_logits(clf):
    view = clf.engine.exact_model
    assert any(isinstance(m, FirstTokenLayer) for m in view.modules())
    assert not any(isinstance(m, FirstTokenLayer) for m in clf.model.modules())  # the classifier's model is whole
    inputs = padded(clf)
    with torch.inference_mode():
        full, fast = clf.model(**inputs).logits, view(**inputs).logits
    assert full.std(dim=0).max() > 0.05  # the texts get different logits
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=0)


def test_gradients_through_the_first_token_layer_are_the_full_models(clf):
    inputs = padded(clf)
    ids = inputs.pop("input_ids")

    def grad(model):
        embeds = clf.model.get_input_embeddings()(ids).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(model(inputs_embeds=embeds, **inputs).logits[:, 1].sum(), embeds)
        return g

    full = grad(clf.model)
    assert full.abs().max() > 1e-3
    torch.testing.assert_close(grad(clf.engine.exact_model), full, atol=1e-5 * float(full.abs().max()), rtol=1e-4)


def test_unknown_layout_or_failed_check_keeps_the_full_layer(tiny_bert, monkeypatch):
    view = shared_view(tiny_bert.model)
    layers = view.bert.encoder.layer
    last = layers[-1]
    monkeypatch.setattr(first_token, "CHECK_TOLERANCE", -1.0)  # no difference passes
    assert first_token_view(view, ("input_ids", "attention_mask", "token_type_ids")) is False
    assert layers[-1] is last
    monkeypatch.undo()
    odd = copy.deepcopy(view)
    del odd.bert.encoder.layer[-1].intermediate  # a layout it does not know
    assert first_token_view(odd) is False


def test_option_turns_it_off(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    clf.engine.configure(first_token=False)
    assert not any(isinstance(m, FirstTokenLayer) for m in clf.engine.exact_model.modules())
    clf.engine.configure(first_token=True)
    assert any(isinstance(m, FirstTokenLayer) for m in clf.engine.exact_model.modules())
