import numpy as np
import pytest
import torch

from explain.classifier import Classifier, TruncationWarning, plan_batches
from explain.errors import EmptyTextError, ModelNotFoundError, UnknownLabelError

TEXTS = [
    "I really loved that movie",
    "I hate very cold, and cloudy winter days",
    "ok",
    "The battery died after two days, what a waste of money. " * 3,
    "I really loved that movie",
]


def test_labels_in_id_order(tiny_classifier):
    assert tiny_classifier.labels == ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]


def test_predict_proba_shape_and_rows_sum_to_one(tiny_classifier):
    probs = tiny_classifier.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(probs[0], probs[4])  # duplicates share one evaluation


def test_probabilities_do_not_depend_on_batch_mates(tiny_classifier):
    batched = tiny_classifier.predict_proba(TEXTS)
    for text, row in zip(TEXTS, batched, strict=True):
        alone = tiny_classifier.predict_proba([text])[0]
        np.testing.assert_allclose(row, alone, atol=1e-5)


def test_small_token_budget_gives_same_answer(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir, max_tokens_per_batch=16, max_batch_size=2)
    ref = Classifier.from_pretrained(tiny_bert_dir)
    np.testing.assert_allclose(clf.predict_proba(TEXTS), ref.predict_proba(TEXTS), atol=1e-5)
    assert clf.forward_calls > ref.forward_calls


def test_three_stages_match_predict_proba(tiny_classifier):
    enc = tiny_classifier.tokenize(TEXTS[:3])
    logits = tiny_classifier.infer(enc).logits
    probs = tiny_classifier.postprocess(logits)
    np.testing.assert_allclose(probs, tiny_classifier.predict_proba(TEXTS[:3]), atol=1e-5)


def test_token_type_ids_only_where_the_model_has_them(tiny_bert, tiny_distilbert, tiny_roberta):
    enc = tiny_bert.tokenize(["hi there", "hi"])
    expected = tiny_bert.tokenizer(["hi there", "hi"], padding=True, return_tensors="np")["token_type_ids"]
    np.testing.assert_array_equal(np.asarray(enc.token_type_ids), expected)  # one segment: all zeros, padded
    assert np.asarray(enc.token_type_ids).shape == np.asarray(enc.input_ids).shape == (2, 4)
    assert tiny_distilbert.tokenize(["hi"]).token_type_ids is None
    assert tiny_roberta.tokenize(["hi"]).token_type_ids is None


def test_infer_returns_attentions_for_every_layer(tiny_classifier):
    enc = tiny_classifier.tokenize(["I really loved that movie"])
    out = tiny_classifier.infer(enc, output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2
    n = enc.input_ids.shape[1]
    assert out.attentions[0].shape == (1, 4, n, n)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, 4, n))
    assert len(out.hidden_states) == 3


def test_trace_holds_every_stage(tiny_bert):
    trace = tiny_bert.trace("I hate very cold, and cloudy winter days")
    assert trace.tokens[0] == "[CLS]" and trace.tokens[-1] == "[SEP]"
    assert trace.input_ids[0] == 101 and trace.id_to_token[101] == "[CLS]"
    assert trace.token_type_ids == [0] * len(trace.input_ids)
    assert trace.attention_mask == [1] * len(trace.input_ids)
    assert list(trace.predictions) == tiny_bert.labels
    assert trace.predictions["1 star"] == round(trace.probabilities[0], 3)
    assert abs(sum(trace.probabilities) - 1) < 1e-6
    assert not trace.truncated


def test_long_text_is_truncated_with_a_warning(tiny_classifier):
    long_text = "great product " * 400
    clf = Classifier(tiny_classifier.model, tiny_classifier.tokenizer, long="truncate")
    with pytest.warns(TruncationWarning):
        trace = clf.trace(long_text)
    assert trace.truncated and len(trace.input_ids) == clf.max_length
    with pytest.warns(TruncationWarning):
        assert clf.predict_proba([long_text]).shape == (1, 5)


def test_empty_text_is_a_user_error(tiny_bert):
    with pytest.raises(EmptyTextError):
        tiny_bert.trace("   ")
    assert tiny_bert.predict_proba([""]).shape == (1, 5)  # explainers may mask everything


def test_label_index_accepts_names_ids_and_rejects_unknown(tiny_bert):
    assert tiny_bert.label_index("2 stars") == 1
    assert tiny_bert.label_index("5 STARS") == 4
    assert tiny_bert.label_index(0) == 0
    with pytest.raises(UnknownLabelError, match="1 star, 2 stars"):
        tiny_bert.label_index("6 stars")


def test_missing_folder_and_non_model_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Classifier.from_pretrained(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        Classifier.from_pretrained(tmp_path)


def test_plan_batches_respects_token_budget():
    lengths = [5, 50, 7, 20, 6, 49]
    batches = plan_batches(lengths, max_tokens=60, max_rows=10)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 60 or len(b) == 1


def test_pickle_only_folder_gets_a_warning(tiny_bert_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_bert_dir, folder)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.warns(UserWarning, match="only pickle weights"):
        clf = Classifier.from_pretrained(folder)
    ref = Classifier.from_pretrained(tiny_bert_dir)
    np.testing.assert_allclose(clf.predict_proba(TEXTS[:2]), ref.predict_proba(TEXTS[:2]), atol=1e-6)


def test_remote_code_never_runs_without_the_flag(tiny_bert_dir, tmp_path):
    import json
    import shutil

    from explain.errors import UnsafeModelError

    folder = tmp_path / "remote"
    shutil.copytree(tiny_bert_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModelForSequenceClassification": "modeling_evil.EvilModel",
    }
    (folder / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    (folder / "config.json").write_text(json.dumps(config))
    clf = Classifier.from_pretrained(folder)  # a known architecture: the built-in class, not the folder's code
    assert type(clf.model).__module__.startswith("transformers.")
    config["model_type"] = "evil-custom"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeModelError, match="trust-remote-code"):
        Classifier.from_pretrained(folder)
