import json

import numpy as np
import pytest

from explain.classifier import Classifier
from explain.training import Example, TrainingConfig, evaluate_stars, fine_tune, grouped_split


def test_grouped_split_keeps_reviews_whole_and_is_deterministic():
    examples = [Example(f"s{i}", 1 + i % 5, f"r{i // 4}") for i in range(400)]
    train, test = grouped_split(examples, 0.2, seed=7)
    assert {e.group for e in train}.isdisjoint({e.group for e in test})
    assert 0.1 < len(test) / len(examples) < 0.3
    assert grouped_split(examples, 0.2, seed=7) == (train, test)


def test_evaluate_stars():
    m = evaluate_stars([1, 2, 5, 4], [1, 3, 5, 2])
    assert m["accuracy"] == 0.5 and m["mae_stars"] == 0.75
    assert np.array(m["confusion_matrix"])[2, 1] == 1 and np.array(m["confusion_matrix"]).sum() == 4


def test_fine_tune_learns_and_writes_atomically(tiny_bert_dir, tmp_path):
    train = [Example("love it great", 5), Example("awful broken junk", 1)] * 16
    out = tmp_path / "model"
    fine_tune(
        tiny_bert_dir,
        train,
        out,
        TrainingConfig(epochs=10, learning_rate=5e-3, batch_size=8, seed=1),
        progress=False,
        on_saved=lambda folder: {"checked": True},
    )
    assert json.loads((out / "metrics.json").read_text())["checked"] is True
    clf = Classifier.from_pretrained(out)
    probs = clf.predict_proba(["love it great", "awful broken junk"])
    assert clf.labels[probs[0].argmax()] == "5 stars" and clf.labels[probs[1].argmax()] == "1 star"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no partial folders left behind


def test_a_failed_build_leaves_nothing_loadable(tiny_bert_dir, tmp_path):
    def crash(folder):
        raise KeyboardInterrupt  # killed while writing metrics

    with pytest.raises(KeyboardInterrupt):
        fine_tune(
            tiny_bert_dir,
            [Example("ok", 3)] * 4,
            tmp_path / "model",
            TrainingConfig(epochs=1),
            progress=False,
            on_saved=crash,
        )
    assert list(tmp_path.iterdir()) == []
