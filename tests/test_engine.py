"""The evaluation engine: dedup, batch planning, input order, exactness, chunking, threads, speed flags."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from explain.classifier import Classifier, TruncationWarning
from explain.engine import Engine, EngineOptions, deduplicate, plan_batches
from explain.errors import UserError

TEXTS = [
    "I really loved that movie",
    "I hate very cold, and cloudy winter days",
    "ok",
    "The battery died after two days, what a waste of money. " * 3,
    "I really loved that movie",
    "Great sound, terrible price!",
    "[MASK] sound, [MASK] price!",
    "",
    "ok",
    "five stars",
]


def sensitive(folder, **options) -> Classifier:
    """A tiny model whose probabilities move with the words (weights scaled up 10x): tolerances then mean something."""
    classifier = Classifier.from_pretrained(folder, **options)
    with torch.no_grad():
        for name, weight in classifier.model.named_parameters():
            if weight.dim() == 2 and "embeddings" not in name:
                weight.mul_(10.0)
    return classifier


def one_at_a_time(classifier: Classifier, texts: list[str]) -> np.ndarray:
    """Each text alone through the eager model's three stages (no batching, no padding, no engine)."""
    rows = []
    for text in texts:
        enc = classifier.tokenize([text]) if text.strip() else None
        if enc is None:  # tokenize() refuses empty texts; the engine accepts them (explainers mask everything)
            ids = classifier.tokenizer([text], return_tensors="pt")
            enc_inputs = {k: v for k, v in ids.items() if k in classifier.engine.input_names}
            with torch.inference_mode():
                logits = classifier.model(**enc_inputs).logits
        else:
            logits = classifier.infer(enc).logits
        rows.append(classifier.postprocess(logits)[0])
    return np.stack(rows)


# ---------------------------------------------------------------- pure functions


def test_deduplicate_keeps_first_seen_order_and_maps_every_input():
    unique, rows = deduplicate(["b", "a", "b", "c", "a"])
    assert unique == ["b", "a", "c"]
    assert rows.tolist() == [0, 1, 0, 2, 1]
    assert [unique[r] for r in rows] == ["b", "a", "b", "c", "a"]


@pytest.mark.parametrize("max_tokens,max_rows", [(60, 10), (16, 3), (1000, 2), (5, 100)])
def test_plan_batches_bounds(max_tokens, max_rows):
    rng = random.Random(0)
    lengths = [rng.randint(1, 40) for _ in range(200)]
    batches = plan_batches(lengths, max_tokens=max_tokens, max_rows=max_rows)
    assert sorted(i for b in batches for i in b) == list(range(200))  # every text exactly once
    for b in batches:
        assert len(b) <= max_rows
        assert len(b) * max(lengths[i] for i in b) <= max_tokens or len(b) == 1
    # length-bucketed: batches come in ascending length, never interleaved
    spans = [(min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in batches]
    assert all(spans[k][1] <= spans[k + 1][0] for k in range(len(spans) - 1))


def test_plan_batches_fills_batches_up_to_the_budget():
    assert plan_batches([10] * 10, max_tokens=40, max_rows=100) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert plan_batches([], max_tokens=40, max_rows=4) == []


def test_plan_batches_padding_cap_splits_mixed_lengths():
    lengths = [10] * 20 + [20] * 20
    assert len(plan_batches(lengths, max_tokens=1000, max_rows=100)) == 1  # 40 x 20 fits, 25% padding
    capped = plan_batches(lengths, max_tokens=1000, max_rows=100, max_padding=0.1)
    assert [sorted({lengths[i] for i in b}) for b in capped] == [[10], [20]]
    # small batches are never cut for padding (fewer than max_tokens // 8 padded tokens so far)
    assert len(plan_batches([1, 2, 3, 4, 8], max_tokens=1000, max_rows=100, max_padding=0.0)) == 1


def test_invalid_options_are_user_errors():
    with pytest.raises(UserError, match="max_tokens_per_batch"):
        EngineOptions(max_tokens_per_batch=0)
    with pytest.raises(UserError, match="threads"):
        EngineOptions(threads=0)
    with pytest.raises(UserError, match="precision"):
        EngineOptions(precision="float8")


def test_quantize_refused_on_gpu(tiny_bert):
    with pytest.raises(UserError, match="CPU only"):
        Engine(tiny_bert.model, tiny_bert.tokenizer, 126, device="cuda", options=EngineOptions(quantize=True))


# ---------------------------------------------------------------- the engine on the tiny models


def test_exact_against_one_text_calls(tiny_classifier):
    """Batched, padded, fused-attention probabilities equal each text alone through the eager model within 1e-5."""
    clf = tiny_classifier
    np.testing.assert_allclose(clf.predict_proba(TEXTS), one_at_a_time(clf, TEXTS), atol=1e-5)


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_exact_on_a_sensitive_model_with_tiny_batches(request, arch):
    """Probabilities that actually vary, many small mixed-length batches: still within 1e-5 of one-text calls."""
    clf = sensitive(request.getfixturevalue(f"tiny_{arch}_dir"), max_tokens_per_batch=24, max_batch_size=3)
    probs = clf.predict_proba(TEXTS)
    assert probs.std(axis=0).max() > 0.01  # the texts get different answers
    np.testing.assert_allclose(probs, one_at_a_time(clf, TEXTS), atol=1e-5)
    assert clf.forward_calls > 3


def test_input_order_is_kept(tiny_bert):
    order = list(range(len(TEXTS)))
    random.Random(1).shuffle(order)
    probs = tiny_bert.predict_proba(TEXTS)
    shuffled = tiny_bert.predict_proba([TEXTS[i] for i in order])
    np.testing.assert_array_equal(shuffled, probs[order])


def test_each_distinct_text_is_evaluated_once(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    texts = ["good", "bad", "good", "good", "meh", "bad"] * 50
    probs = clf.predict_proba(texts)
    assert clf.texts_evaluated == 3
    np.testing.assert_array_equal(probs[0], probs[2])
    assert probs.shape == (300, 5)


def test_chunks_bound_what_is_tokenized_at_once(tiny_bert_dir, monkeypatch):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    reference = clf.predict_proba(TEXTS)
    clf.engine.configure(chunk_size=3)
    seen: list[int] = []
    tokenize = clf.engine.tokenize
    monkeypatch.setattr(clf.engine, "tokenize", lambda texts: seen.append(len(texts)) or tokenize(texts))
    np.testing.assert_allclose(clf.predict_proba(TEXTS), reference, atol=1e-6)
    distinct = len(set(TEXTS))
    assert seen == [3] * (distinct // 3) + ([distinct % 3] if distinct % 3 else [])


def test_forward_rows_respect_batch_bounds(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir, max_tokens_per_batch=40, max_batch_size=4)
    shapes: list[tuple[int, ...]] = []
    handle = clf.engine.inference_model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        clf.predict_proba([f"review number {i} " * (1 + i % 7) for i in range(40)])
    finally:
        handle.remove()
    assert len(shapes) > 10
    assert all(rows <= 4 and (rows * seq <= 40 or rows == 1) for rows, seq in shapes)
    assert clf.forward_calls == len(shapes) and clf.texts_evaluated == 40


def test_padding_is_on_the_right_with_segment_ids(tiny_bert):
    engine = tiny_bert.engine
    features, lengths, cut = engine.tokenize(["hello", "a much longer review text"])
    inputs = engine.pad(features, lengths, [0, 1])
    assert cut == [False, False] and set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert inputs["attention_mask"].tolist()[0] == [1] * lengths[0] + [0] * (lengths[1] - lengths[0])
    assert inputs["input_ids"][0, : lengths[0]].tolist() == features["input_ids"][0]
    assert (inputs["input_ids"][0, lengths[0] :] == tiny_bert.tokenizer.pad_token_id).all()
    assert inputs["token_type_ids"].abs().sum() == 0


def test_models_without_segments_get_none(tiny_distilbert):
    features, lengths, _ = tiny_distilbert.engine.tokenize(["hello"])
    assert set(tiny_distilbert.engine.pad(features, lengths, [0])) == {"input_ids", "attention_mask"}


def test_truncation_warns_once_per_call(tiny_bert):
    clf = Classifier(tiny_bert.model, tiny_bert.tokenizer, long="truncate")
    with pytest.warns(TruncationWarning, match="1 text"):
        probs = clf.predict_proba(["great product " * 400, "fine"])
    assert probs.shape == (2, 5)


def test_threads_setting_applies_during_prediction_only(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir, threads=1)
    before = torch.get_num_threads()
    inside: list[int] = []
    handle = clf.engine.inference_model.register_forward_pre_hook(lambda *_: inside.append(torch.get_num_threads()))
    try:
        clf.predict_proba(["one", "two"])
    finally:
        handle.remove()
    assert inside == [1]
    assert torch.get_num_threads() == before


def test_view_shares_weights_and_keeps_eager_attention(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    view = clf.engine.inference_model
    assert view is not clf.model
    assert all(a is b for a, b in zip(view.parameters(), clf.model.parameters(), strict=True))
    assert view.config._attn_implementation == "sdpa"
    assert clf.model.config._attn_implementation == "eager"  # attention methods still get weights
    before = clf.predict_proba(["a good phone"])
    with torch.no_grad():
        clf.model.classifier.bias.add_(torch.tensor([5.0, 0, 0, 0, 0]))  # an in-place edit is seen
    assert clf.predict_proba(["a good phone"])[0, 0] > before[0, 0] + 0.1


def test_eager_and_fused_attention_agree(tiny_classifier):
    fused = tiny_classifier.predict_proba(TEXTS)
    tiny_classifier.engine.configure(fused_attention=False)
    try:
        np.testing.assert_allclose(tiny_classifier.predict_proba(TEXTS), fused, atol=1e-5)
    finally:
        tiny_classifier.engine.configure(fused_attention=True)


# ---------------------------------------------------------------- speed flags (not exact; stated tolerances)

INT8_TOLERANCE = 0.05  # max |p_int8 - p_fp32| on the 10x-scaled tiny models; the default model: benchmarks/README.md
BF16_TOLERANCE = 0.05


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_int8_quantization_is_close_but_not_identical(request, arch):
    folder = request.getfixturevalue(f"tiny_{arch}_dir")
    exact, quantized = sensitive(folder), sensitive(folder, quantize=True)
    assert not quantized.engine.options.exact
    p, q = exact.predict_proba(TEXTS), quantized.predict_proba(TEXTS)
    diff = np.abs(p - q).max()
    assert 0 < diff < INT8_TOLERANCE
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-5)
    modules = list(quantized.engine.inference_model.modules())
    assert not any(type(m) is torch.nn.Linear for m in modules)
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in modules) > 0
    assert any(type(m) is torch.nn.Linear for m in quantized.model.modules())  # gradient methods keep float32


def test_bfloat16_autocast_is_close(tiny_bert_dir):
    exact, half = sensitive(tiny_bert_dir), sensitive(tiny_bert_dir, precision="bfloat16")
    diff = np.abs(exact.predict_proba(TEXTS) - half.predict_proba(TEXTS)).max()
    assert 0 < diff < BF16_TOLERANCE


def test_compile_flag_wraps_the_inference_model(tiny_bert_dir):
    """Only the wiring: compiling itself takes too long for a unit test (benchmarks/README.md measures it)."""
    clf = Classifier.from_pretrained(tiny_bert_dir, compile=True)
    assert type(clf.engine.inference_model).__name__ == "OptimizedModule"
    assert type(clf.model).__name__ == "BertForSequenceClassification"
