"""Long texts: windows cover the whole text, texts that fit are untouched, the aggregation rule, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from explain.classifier import Classifier
from explain.engine import EngineOptions
from explain.errors import UserError
from explain.target import Target
from explain.windows import plan_windows, token_boundaries, window_weights
from explain.words import regex_words

FILLER = "The hotel is near the station. The room had a bed, a desk and a lamp. We stayed four nights. "
SHORT = ["I really loved that movie", "Great sound, terrible price!", "meh"]


def long_text(n: int = 12, ending: str = "The staff were rude and the food was awful.") -> str:
    return FILLER * n + ending


# ---------------------------------------------------------------- planning (no model)
@pytest.mark.parametrize("n,size,stride", [(10, 8, None), (300, 64, None), (301, 64, 20), (1000, 126, 126), (5, 8, 3)])
def test_windows_cover_every_token_and_overlap(n, size, stride):
    word = np.ones(n, dtype=bool)
    word[1::3] = False  # some tokens continue a word
    sentence = np.zeros(n, dtype=bool)
    sentence[::17] = True
    sentence &= word  # a sentence starts with a word
    windows = plan_windows(word, sentence, size, stride)
    assert windows[0].start == 0 and windows[-1].end == n
    assert all(w.n_tokens <= size for w in windows)
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.start < b.start <= a.end  # progress, no gap
        assert word[b.start]  # every window starts a word
    assert sum(w.weight for w in windows) == pytest.approx(1.0)


def test_windows_prefer_sentence_starts_within_a_stride():
    n = 400
    word = np.ones(n, dtype=bool)
    sentence = np.zeros(n, dtype=bool)
    sentence[[0, 40, 90, 150, 230, 290, 350]] = True
    windows = plan_windows(word, sentence, 128, 64)
    # next start: the last sentence start within [start + 32, start + 64], else exactly start + 64
    assert [w.start for w in windows] == [0, 40, 90, 150, 214, 278]


def test_weights_count_every_token_once_by_nearest_centre():
    spans = [(0, 10), (5, 15), (10, 18)]
    weights = window_weights(spans, 18)
    # centres 4.5, 9.5, 13.5: tokens 0-7 -> first (7 is nearer 4.5? no: |7-4.5|=2.5 > |7-9.5|=2.5 tie -> first)
    owner = []
    for t in range(18):
        inside = [k for k, (s, e) in enumerate(spans) if s <= t < e]
        centre = [(abs(t - (spans[k][0] + spans[k][1] - 1) / 2), k) for k in inside]
        owner.append(min(centre)[1])
    np.testing.assert_allclose(weights, np.bincount(owner, minlength=3) / 18)


def test_token_boundaries_words_and_sentences():
    text = "Good,bad. Fine\nok"
    offsets = [(0, 4), (4, 5), (5, 8), (8, 9), (10, 12), (12, 14), (15, 17)]  # Good , bad . Fi ##ne ok
    word, sentence = token_boundaries(text, offsets)
    assert word.tolist() == [True, True, True, True, True, False, True]
    assert sentence.tolist() == [True, False, False, False, True, False, True]


# ---------------------------------------------------------------- the engine on the tiny models
@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_texts_that_fit_are_bit_identical(request, arch):
    folder = request.getfixturevalue(f"tiny_{arch}_dir")
    windows = Classifier.from_pretrained(folder)
    truncate = Classifier.from_pretrained(folder, long="truncate")
    np.testing.assert_array_equal(windows.predict_proba(SHORT), truncate.predict_proba(SHORT))
    assert windows.windows(SHORT[0]) is None


def test_a_long_text_is_the_weighted_mean_of_its_windows(tiny_classifier):
    clf = tiny_classifier
    text = long_text()
    windowed = clf.windows(text)
    assert windowed is not None and len(windowed.windows) >= 3
    per_window = []
    for window in windowed.windows:  # each window alone through the classifier's own (eager) model
        features = clf.engine.window_features(windowed.ids[window.start : window.end])
        inputs = {k: torch.tensor([v]) for k, v in features.items() if k in clf.engine.input_names}
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        with torch.inference_mode():
            per_window.append(torch.softmax(clf.model(**inputs).logits[0], -1).numpy())
    expected = np.array([w.weight for w in windowed.windows]) @ np.array(per_window)
    np.testing.assert_allclose(clf.predict_proba([text])[0], expected, atol=1e-5)
    assert windowed.windows[0].start == 0 and windowed.windows[-1].end == len(windowed.ids)
    assert all(w.n_tokens <= clf.engine.window_size for w in windowed.windows)
    assert len(clf.engine.window_features([1, 2])["input_ids"]) == 2 + clf.max_length - clf.engine.window_size


def keyword_model(model, keyword_id: int) -> None:
    """Edit a tiny BERT in place so that every position attends to `keyword_id` when it is present and the first
    label's logit reads it: a known answer ("awful" raises "1 star") wherever the word stands in a long text."""
    eye = torch.eye(model.config.hidden_size)
    with torch.no_grad():
        embeddings = model.bert.embeddings
        for table in (embeddings.word_embeddings, embeddings.position_embeddings, embeddings.token_type_embeddings):
            table.weight[:, 0] = 0.0  # dimension 0 is the keyword's alone
        embeddings.word_embeddings.weight[keyword_id] = 0.0
        embeddings.word_embeddings.weight[keyword_id, 0] = 10.0
        for layer in model.bert.encoder.layer:
            attention = layer.attention.self
            attention.query.weight.zero_()
            attention.query.bias.fill_(1.0)
            attention.key.weight.zero_()
            attention.key.weight[:, 0] = 1.0  # a key's score is its dimension 0: far the largest for the keyword
            attention.key.bias.zero_()
            attention.value.weight.copy_(eye)
            attention.value.bias.zero_()
            layer.attention.output.dense.weight.copy_(eye)
            layer.attention.output.dense.bias.zero_()
            layer.output.dense.weight.zero_()
            layer.output.dense.bias.zero_()
        model.bert.pooler.dense.weight.copy_(eye)
        model.bert.pooler.dense.bias.zero_()
        model.classifier.weight.zero_()
        model.classifier.weight[0, 0] = 4.0
        model.classifier.bias.zero_()


@pytest.fixture(scope="module")
def keyword_bert(tiny_bert_dir) -> Classifier:
    """The tiny BERT made to give "1 star" for the word "awful" (see `keyword_model`)."""
    clf = Classifier.from_pretrained(tiny_bert_dir)
    keyword_model(clf.model, clf.tokenizer.convert_tokens_to_ids("awful"))
    return clf


WITHOUT = long_text(ending="The staff were rude and the food was.")


def test_long_text_reads_its_ending(keyword_bert):
    clf = keyword_bert
    with_keyword, without = clf.predict_proba([long_text(), WITHOUT])
    assert len(clf.windows(long_text()).windows) >= 3
    assert with_keyword[0] - without[0] > 0.2  # a word in the last window moves the whole text (0.36 vs 0.12)
    truncate = Classifier(clf.model, clf.tokenizer, long="truncate")
    np.testing.assert_allclose(truncate.predict_proba([long_text()])[0], truncate.predict_proba([WITHOUT])[0])


def test_alignment_covers_the_whole_text(tiny_classifier):
    text = long_text()
    alignment = tiny_classifier.align(text)
    assert len(alignment.tokens) > tiny_classifier.max_length
    assert [text[s:e] for s, e in regex_words(text)][-3:] == list(alignment.words[-3:])
    assert alignment.word_offsets[-1][1] == len(text)
    assert alignment.special[0] and alignment.special[-1] and sum(alignment.special) == 2


def test_truncate_mode_keeps_the_first_part_and_warns(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir, long="truncate")
    with pytest.warns(UserWarning, match="truncated"):
        clf.predict_proba([long_text()])
    assert clf.windows(long_text()) is None
    assert len(clf.align(long_text()).tokens) == clf.max_length


def test_long_option_is_checked():
    with pytest.raises(UserError, match="long must be one of"):
        EngineOptions(long="split")


def test_distinct_windows_are_evaluated_once_per_call(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    sentences = [f"Sentence number {i} says the room was fine. " for i in range(40)]
    text = "".join(sentences)
    n_windows = len(clf.windows(text).windows)
    variants = ["".join(sentences[:i] + sentences[i + 1 :]) for i in range(len(sentences))]
    before = clf.texts_evaluated
    clf.predict_proba([text] + variants)
    evaluated = clf.texts_evaluated - before
    total = n_windows + sum(len(clf.windows(v).windows) for v in variants)
    assert evaluated < 0.6 * total  # windows before (and, resynchronised, after) a deletion are shared


def _peak_python_bytes(clf: Classifier, text: str, n_variants: int) -> int:
    def variants():
        for i in range(n_variants):
            yield text.replace("desk", f"desk{i}", 1)

    tracemalloc.start()
    try:
        clf.predict_proba(variants())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_long_variants(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir, max_tokens_per_batch=512, max_batch_size=4)
    clf.engine.configure(chunk_chars=20_000)
    text = long_text(60)  # ~5,600 characters, ~1,300 tokens
    few = _peak_python_bytes(clf, text, 4)
    many = _peak_python_bytes(clf, text, 40)
    assert many < 1.5 * few, (few, many)  # 10x the variants (220 KB of text), about the same peak


# ---------------------------------------------------------------- methods on long texts
def test_ig_finds_the_keyword_at_the_end_and_stays_complete(keyword_bert):
    from explain import explain

    text = long_text()
    exp = explain(keyword_bert, text, "ig", target="1 star", n_steps=16)
    assert len(exp.words) == len(regex_words(text))  # every word of the whole text is scored
    assert exp.top_words(1)[0][0] == "awful" and exp.word_scores.argmax() == len(exp.words) - 2
    assert exp.diagnostics["windows"] >= 3


def test_ig_on_a_long_text_is_complete(tiny_bert):
    """Scores add up to f(x) - f(baseline) of the windowed output (the windows' weighted logits)."""
    from explain import explain

    exp = explain(tiny_bert, long_text(), "ig", target="3 stars", n_steps=16)
    assert exp.diagnostics["relative_delta"] < 0.01


def test_windowed_gradient_is_the_weighted_sum_of_the_windows_gradients(tiny_bert):
    from explain.methods.gradients import embed_text, embedding_gradient

    text = long_text()
    embedded = embed_text(tiny_bert, text)
    values = torch.arange(1.0, 6.0)
    for target, output in (
        (Target.of_label(2, 0), lambda logits: logits[2] - logits[0]),
        (Target.rating(values.tolist()), lambda logits: torch.softmax(logits, -1) @ values),  # stars: linear in probs
    ):
        grad, _ = embedding_gradient(tiny_bert, embedded, target)
        expected = np.zeros_like(grad)
        for window in embedded.windowed.windows:  # each window on its own, through the classifier's eager model
            inputs, positions = tiny_bert.window_inputs(embedded.windowed, window)
            ids = inputs.pop("input_ids")
            embeddings = tiny_bert.model.get_input_embeddings()(ids).detach().requires_grad_(True)
            logits = tiny_bert.model(inputs_embeds=embeddings, **inputs).logits[0]
            (g,) = torch.autograd.grad(output(logits), embeddings)
            expected[positions] += window.weight * g[0].double().numpy()
        np.testing.assert_allclose(grad, expected, atol=1e-6)
        assert np.abs(grad[-10:]).sum() > 0  # the last tokens, past the first window, get gradients


def test_units_words_then_sentences_then_chunks(tiny_bert, monkeypatch):
    from explain import words

    text = long_text()
    alignment = tiny_bert.align(text)
    assert words.perturbation_units(text, alignment).kind == "word"
    monkeypatch.setattr(words, "WORD_UNITS_UP_TO", 50)
    units = words.perturbation_units(text, alignment)
    assert units.kind == "sentence" and len(units) == 12 * 3 + 1
    assert [alignment.words[i] for i in range(*units.word_ranges[-1])] == [
        "The",
        "staff",
        "were",
        "rude",
        "and",
        "the",
        "food",
        "was",
        "awful",
        ".",
    ]
    assert units.word_ranges[0][0] == 0 and units.word_ranges[-1][1] == len(alignment.words)
    assert all(a[1] == b[0] for a, b in zip(units.word_ranges, units.word_ranges[1:], strict=False))
    np.testing.assert_allclose(units.spread(np.arange(len(units), dtype=float)).sum(), np.arange(len(units)).sum())
    monkeypatch.setattr(words, "SENTENCE_UNITS_UP_TO", 10)
    monkeypatch.setattr(words, "CHUNK_UNITS", 7)
    chunks = words.perturbation_units(text, alignment)
    assert chunks.kind == "chunk" and len(chunks) == 7 and chunks.word_ranges[-1][1] == len(alignment.words)


def test_occlusion_by_sentences_finds_the_last_sentence(keyword_bert, monkeypatch):
    from explain import explain, words

    monkeypatch.setattr(words, "WORD_UNITS_UP_TO", 50)
    text = long_text()
    exp = explain(keyword_bert, text, "occlusion", target="1 star")
    assert exp.diagnostics["unit"] == "sentence" and exp.diagnostics["units"] == 37
    last = slice(len(exp.words) - 10, len(exp.words))  # "The staff were rude and the food was awful ."
    assert exp.word_scores[last].sum() > 0.2  # removing it drops P(1 star) from 0.36 to ~0.12
    assert np.abs(exp.word_scores[: len(exp.words) - 10]).max() < 0.1 * exp.word_scores[last].sum()
    assert exp.word_scores.argmax() >= len(exp.words) - 10


def test_occlusion_on_words_finds_the_keyword_in_the_last_window(keyword_bert):
    from explain import explain

    exp = explain(keyword_bert, long_text(7), "occlusion", target="1 star")
    assert exp.diagnostics["unit"] == "word" and keyword_bert.windows(long_text(7)) is not None
    assert exp.top_words(1)[0][0] == "awful"


def test_a_long_review_over_the_window_budget_is_one_clear_error(tiny_bert, monkeypatch):
    from explain import explain
    from explain.limits import InputTooLargeError

    monkeypatch.setenv("REVIEW_EXPLAINER_MAX_WINDOW_EVALS", "100")
    with pytest.raises(InputTooLargeError, match="lower num_samples"):
        explain(tiny_bert, long_text(), "lime", num_samples=500)
    with pytest.raises(InputTooLargeError, match="lower n_steps"):
        explain(tiny_bert, long_text(), "ig")


@pytest.mark.parametrize("method", ["attention", "rollout", "grad_attn"])
def test_attention_methods_read_every_window(keyword_bert, method):
    from explain import explain

    text = long_text()
    exp = explain(keyword_bert, text, method, target="1 star")
    assert len(exp.token_scores) == len(keyword_bert.align(text).tokens)
    if method != "grad_attn":  # each window's [CLS] row sums to 1, and the window weights sum to 1
        assert exp.token_scores.sum() == pytest.approx(1.0)
        assert exp.top_words(1)[0][0] == "awful"  # every position attends to it, in the last window
    assert np.abs(exp.token_scores[-20:]).sum() > 0  # tokens past the first window are scored


def test_trace_shows_every_window_and_the_aggregation(tiny_bert):
    from explain.render.terminal import format_trace

    text = long_text()
    trace = tiny_bert.trace(text)
    windowed = tiny_bert.windows(text)
    assert len(trace.windows) == len(windowed.windows) and not trace.truncated
    np.testing.assert_allclose(trace.probabilities, tiny_bert.predict_proba([text])[0], atol=1e-5)
    shown = format_trace(trace)
    assert f"read whole in {len(windowed.windows)} overlapping windows" in shown
    assert shown.count("Stage 1: Preprocessing") == len(windowed.windows) and "Aggregation" in shown


def test_units_asked_for_at_any_length(tiny_bert):
    """`units="sentence"` removes sentences in a short review too (the sentence splitter of explain.sentences:
    "Mr." and "3.5" do not end one); `units="word"` keeps words above the automatic limit."""
    from explain import words
    from explain.errors import UserError

    text = "Mr. Smith paid 3.5 dollars.Terrible value! The box was fine"
    alignment = tiny_bert.align(text)
    units = words.perturbation_units(text, alignment, "sentence")
    assert units.kind == "sentence"
    assert [" ".join(alignment.words[a:b]) for a, b in units.word_ranges] == [
        "Mr . Smith paid 3 . 5 dollars .",
        "Terrible value !",
        "The box was fine",
    ]
    assert words.perturbation_units(long_text(), tiny_bert.align(long_text()), "word").kind == "word"
    with pytest.raises(UserError, match="units must be one of auto, word, sentence"):
        words.perturbation_units(text, alignment, "paragraph")


@pytest.mark.parametrize("method,params", [("occlusion", {}), ("lime", {"num_samples": 300})])
def test_sentence_units_score_the_sentence_that_matters(keyword_bert, method, params):
    from explain import explain

    text = "The box arrived on Monday. The staff were rude and the food was awful. It rained."
    exp = explain(keyword_bert, text, method, target="1 star", units="sentence", **params)
    assert exp.diagnostics["unit"] == "sentence" and exp.diagnostics["units"] == 3
    sentences = exp.sentences
    assert max(range(3), key=lambda i: sentences[i].score) == 1  # removing the second sentence drops P(1 star)
    assert sentences[1].score > 5 * max(abs(sentences[0].score), abs(sentences[2].score))
