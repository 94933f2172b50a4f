"""Where `explain train` starts: the default star model's head re-mapped to ordered labels, or a base checkpoint."""

import json
import random

import numpy as np
import pytest
import torch
from fakes import run_cli

from explain.classifier import Classifier
from explain.default_model import MODEL_ENV, base_model_dir
from explain.errors import DataError
from explain.training import (
    Example,
    LabelSet,
    TrainingConfig,
    choose_start,
    fine_tune,
    head_map,
    labels_ordered,
    load_start,
)

SENTIMENT = LabelSet(("negative", "neutral", "positive"), (-1.0, 0.0, 1.0))
TOPICS = LabelSet(("shipping", "price", "quality"), (1.0, 2.0, 3.0), ordered=False)
TEXTS = [
    "the screen is nice and the sound is good",
    "terrible battery and support never answered",
    "a very good hotel room with quite nice staff",
    "the price was okay but terrible sound after two days",
    "movie night with good sound and a nice screen",
    "terrible",
]


@pytest.fixture(scope="module")
def star_dir(rated_classifier, tmp_path_factory):
    """The tiny rated BERT ('terrible' -> 1 star, else 5 stars) saved as a star model folder."""
    folder = tmp_path_factory.mktemp("star-model")
    rated_classifier.model.config.label_values = [1.0, 2.0, 3.0, 4.0, 5.0]
    rated_classifier.model.save_pretrained(folder)
    rated_classifier.tokenizer.save_pretrained(folder)
    return folder


def _probs(model, tokenizer, texts):
    with torch.inference_mode():
        return torch.softmax(model.eval()(**tokenizer(texts, padding=True, return_tensors="pt")).logits, -1).numpy()


def test_head_map_interpolates_on_the_normalised_value_scale():
    stars = [1, 2, 3, 4, 5]
    assert np.array_equal(head_map(stars, [0, 25, 50, 75, 100]), np.eye(5))  # 5 evenly spaced labels: as is
    assert np.array_equal(head_map(stars, [-1, 0, 1]), np.eye(5)[[0, 2, 4]])  # 1, 3 and 5 stars
    assert np.allclose(head_map(stars, [0, 1]), np.eye(5)[[0, 4]])
    ten = head_map(stars, range(1, 11))  # label 2 of 1-10 sits 1/9 of the way: 4/9 of the way from 1 to 2 stars
    assert np.allclose(ten.sum(1), 1) and np.allclose(ten[1, :2], [5 / 9, 4 / 9])
    assert np.allclose(ten @ np.arange(5), 4 * np.arange(10) / 9)  # positions rise evenly
    uneven = head_map(stars, [0.5, 1.0, 2.5])  # 0.25 of the way: row 2 stars
    assert np.allclose(uneven, np.eye(5)[[0, 1, 4]])
    with pytest.raises(DataError, match="increasing"):
        head_map(stars, [3, 1, 2])


def test_labels_ordered():
    assert labels_ordered(SENTIMENT) and labels_ordered(LabelSet.stars())
    assert not labels_ordered(TOPICS)
    assert not labels_ordered(LabelSet(("a", "b"), (2.0, 1.0)))


def test_remapped_head_keeps_the_star_models_reading_before_training(star_dir, rated_classifier):
    stars = rated_classifier.predict_proba(TEXTS)
    star_rating = stars @ np.arange(1, 6)
    tok, model = load_start(str(star_dir), SENTIMENT, remap_head=True)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert model.config.label_values == [-1.0, 0.0, 1.0]
    probs = _probs(model, tok, TEXTS)
    negative = ["terrible" in t for t in TEXTS]
    assert [p.argmax() == (0 if neg else 2) for p, neg in zip(probs, negative, strict=True)] == [True] * len(TEXTS)
    assert [s.argmax() == (0 if neg else 4) for s, neg in zip(stars, negative, strict=True)] == [True] * len(TEXTS)
    rating, negative = probs @ np.array([-1.0, 0.0, 1.0]), np.array(negative)
    assert rating[negative].max() < -0.9 < 0.9 < rating[~negative].min()  # every negative text below every other
    assert star_rating[negative].max() < 1.1 < 4.9 < star_rating[~negative].min()
    assert np.corrcoef(rating, star_rating)[0, 1] > 0.99
    # Five labels on another evenly spaced scale: the very same probabilities.
    five = LabelSet(("0", "1", "2", "3", "4"), (0.0, 1.0, 2.0, 3.0, 4.0))
    tok, model = load_start(str(star_dir), five, remap_head=True)
    assert np.allclose(_probs(model, tok, TEXTS), stars, atol=1e-5)
    # Without re-mapping the head is new: it does not know that 'terrible' is negative.
    torch.manual_seed(0)
    tok, model = load_start(str(star_dir), SENTIMENT, remap_head=False)
    right = np.where(negative, 0, 2)
    assert probs[np.arange(len(TEXTS)), right].min() > 0.9
    assert _probs(model, tok, TEXTS)[np.arange(len(TEXTS)), right].max() < 0.9


def test_choose_start(star_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(MODEL_ENV, str(star_dir))
    start = choose_start(SENTIMENT)
    assert (start.checkpoint, start.remap_head, start.kind) == (str(star_dir), True, "default star model")
    assert start.max_epochs < TrainingConfig().max_epochs
    unordered = choose_start(TOPICS)
    assert (unordered.checkpoint, unordered.remap_head) == (str(base_model_dir()), False)
    assert choose_start(SENTIMENT, start="minilm").checkpoint == str(base_model_dir())
    given = choose_start(SENTIMENT, base=tmp_path)
    assert (given.checkpoint, given.remap_head, given.kind) == (str(tmp_path), False, "--base checkpoint")
    for kwargs, message in [
        ({"base": tmp_path, "start": "default"}, "not both"),
        ({"start": "stars"}, "one of"),
    ]:
        with pytest.raises(DataError, match=message):
            choose_start(SENTIMENT, **kwargs)
    with pytest.raises(DataError, match="ordered"):
        choose_start(TOPICS, start="default")


WORDS = {0: "awful broken terrible junk refund waste", 1: "fine okay average decent", 2: "love great superb perfect"}


def _reviews(n, seed=0):
    rng = random.Random(seed)
    return [Example(" ".join(rng.sample(WORDS[i % 3].split(), 3)), i % 3, f"r{i}") for i in range(n)]


def test_freeze_layers_keeps_the_lowest_layers(star_dir, tmp_path):
    from safetensors.numpy import load_file

    config = TrainingConfig(max_epochs=2, learning_rate=5e-3, batch_size=8, validation_fraction=0, freeze_layers=1)
    fine_tune(star_dir, _reviews(48), tmp_path / "m", config, progress=False, labels=SENTIMENT)
    before, after = load_file(star_dir / "model.safetensors"), load_file(tmp_path / "m" / "model.safetensors")
    frozen = [k for k in before if "embeddings" in k or ".layer.0." in k]
    trained = [k for k in before if ".layer.1." in k]
    assert frozen and trained
    assert all(np.array_equal(before[k], after[k]) for k in frozen)
    assert not all(np.array_equal(before[k], after[k]) for k in trained)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["training"]["freeze_layers"] == 1 and metrics["training"]["start"]["head"] == "new"
    with pytest.raises(DataError, match="has 2 layers"):
        fine_tune(star_dir, _reviews(12), tmp_path / "n", TrainingConfig(max_epochs=1, freeze_layers=3), progress=False)


def write_csv(path, rows):
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("text", "rating"), *rows])
    return path


@pytest.mark.parametrize("how", ["auto", "base"])
def test_cli_starts_from_the_star_model_unless_base_is_given(monkeypatch, capsys, tmp_path, star_dir, how):
    monkeypatch.setenv(MODEL_ENV, str(star_dir))
    rng = random.Random(5)
    words = {"negative": "terrible awful junk broken", "neutral": "okay fine average", "positive": "superb love nice"}
    rows = [(" ".join(rng.sample(w.split(), 2)), label) for _ in range(40) for label, w in words.items()]
    data = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "m"
    args = ["train", "--data", data, "--text-col", "text", "--label-col", "rating", "--out", out, "--lr", "5e-3"]
    args += ["--label-order", "negative,neutral,positive", "--validation-fraction", "0"]
    code, stdout, err = run_cli(monkeypatch, capsys, *args, *(["--base", star_dir] if how == "base" else []))
    assert code == 0, err
    t = json.loads((out / "metrics.json").read_text())["training"]
    if how == "auto":
        assert "Started from the default star model" in stdout and "head re-mapped" in stdout
        assert t["start"]["kind"] == "default star model" and t["max_epochs"] == 4
    else:
        assert "Started from the --base checkpoint" in stdout and "head new" in stdout
        assert t["start"]["kind"] == "--base checkpoint" and t["max_epochs"] == 10
    assert t["start"]["checkpoint"] == str(star_dir) and t["base"] == str(star_dir)
    clf = Classifier.from_pretrained(out)
    assert clf.labels == ["negative", "neutral", "positive"]
    code, _, err = run_cli(monkeypatch, capsys, *args, "--start", "minilm", "--base", star_dir, "--overwrite")
    assert code == 2 and "not both" in err and "Traceback" not in err


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta"])
def test_remap_and_freeze_on_each_architecture(request, arch):
    from explain.training.recipe import _freeze

    folder = request.getfixturevalue(f"tiny_{arch}_dir")
    stars = request.getfixturevalue(f"tiny_{arch}").predict_proba(TEXTS)
    five = LabelSet(("0", "25", "50", "75", "100"), (0.0, 25.0, 50.0, 75.0, 100.0))
    tok, model = load_start(str(folder), five, remap_head=True)
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert np.allclose(torch.softmax(model.eval()(**enc).logits, -1).numpy(), stars, atol=1e-5)
    _, model = load_start(str(folder), SENTIMENT, remap_head=True)
    with torch.inference_mode():
        three = torch.softmax(model.eval()(**enc).logits, -1).numpy()
    rows = stars[:, [0, 2, 4]] / stars[:, [0, 2, 4]].sum(1, keepdims=True)  # logits of rows 1, 3, 5 stars
    assert np.allclose(three, rows, atol=1e-5)
    assert _freeze(model, 1) == 1
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert any("embeddings" in n for n in frozen) and any(".layer.0." in n for n in frozen)
    assert not any(".layer.1." in n or "classifier" in n for n in frozen)
