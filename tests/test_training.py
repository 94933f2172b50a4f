import json
import random

import numpy as np
import pytest
from fakes import run_cli

from explain.classifier import Classifier
from explain.errors import DataError
from explain.training import (
    LEGACY_DEFAULT_CONFIG,
    Example,
    LabelSet,
    TrainingConfig,
    evaluate_labels,
    evaluate_stars,
    fine_tune,
    grouped_split,
    infer_labels,
    train_and_report,
    training_warnings,
)


def test_grouped_split_keeps_reviews_whole_and_is_deterministic():
    examples = [Example(f"s{i}", i % 5, f"r{i // 4}") for i in range(400)]
    train, test = grouped_split(examples, 0.2, seed=7)
    assert {e.group for e in train}.isdisjoint({e.group for e in test})
    assert 0.1 < len(test) / len(examples) < 0.3
    assert grouped_split(examples, 0.2, seed=7) == (train, test)


def test_evaluate_stars():
    m = evaluate_stars([1, 2, 5, 4], [1, 3, 5, 2])
    assert m["accuracy"] == 0.5 and m["mae_stars"] == 0.75
    assert np.array(m["confusion_matrix"])[2, 1] == 1 and np.array(m["confusion_matrix"]).sum() == 4


def test_evaluate_labels_matches_sklearn():
    from sklearn.metrics import f1_score, recall_score

    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 4, 200), rng.integers(0, 3, 200)  # label 3 never predicted
    labels = LabelSet(("0", "1", "2", "3", "4"), (0.0, 1.0, 2.0, 3.0, 4.0))  # label 4 never seen
    m = evaluate_labels(pred, gold, labels)
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert m["per_class_recall"]["1"] == pytest.approx(recall_score(gold, pred, labels=[1], average="macro"))
    assert m["per_class_recall"]["4"] is None and m["per_class_recall"]["3"] == 0.0
    assert m["mae"] == pytest.approx(np.abs(gold - pred).mean())
    shares = np.bincount(pred) / 200
    assert m["top_predicted"] == str(shares.argmax()) and m["top_predicted_share"] == pytest.approx(shares.max())


@pytest.mark.parametrize(
    "raw, kwargs, names, values, index",
    [
        (["1", "5", "3"], {"stars": True}, ("1 star", "2 stars", "3 stars", "4 stars", "5 stars"), None, [0, 4, 2]),
        (["1", "10", "7.0"], {}, tuple(str(i) for i in range(1, 11)), tuple(range(1, 11)), [0, 9, 6]),
        (["0", "4", "2"], {}, ("0", "1", "2", "3", "4"), (0, 1, 2, 3, 4), [0, 4, 2]),
        (["0.5", "2.5", "1"], {}, ("0.5", "1", "2.5"), (0.5, 1, 2.5), [0, 2, 1]),
        (
            ["Positive", "negative", " neutral"],
            {"order": ["negative", "neutral", "positive"]},
            ("negative", "neutral", "positive"),
            (-1, 0, 1),
            [2, 0, 1],
        ),
        (["1", "-1"], {"order": ["-1", "0", "1"]}, ("-1", "0", "1"), (-1, 0, 1), [2, 0]),
        (["great", "bad"], {"order": ["bad", "ok", "great"]}, ("bad", "ok", "great"), (1, 2, 3), [2, 0]),
    ],
)
def test_infer_labels(raw, kwargs, names, values, index):
    labels, idx = infer_labels(raw, **kwargs)
    assert labels.names == names and idx == index
    if values is not None:
        assert labels.values == tuple(map(float, values))


@pytest.mark.parametrize(
    "raw, kwargs, message",
    [
        (["good", "bad"], {}, "--label-order"),
        (["good", "meh"], {"order": ["bad", "good"]}, "'meh'"),
        (["1", "inf"], {}, "finite"),
        (["3", "3"], {}, "only one"),
        (["1", "9"], {"stars": True}, "stars 1-5"),
        ([str(i / 7) for i in range(30)], {}, "at most 20"),
        (["a", "b"], {"order": ["a", "A"]}, "two different"),
    ],
)
def test_infer_labels_errors(raw, kwargs, message):
    with pytest.raises(DataError, match=message):
        infer_labels(raw, **kwargs)


def test_fine_tune_learns_and_writes_atomically(tiny_bert_dir, tmp_path):
    train = [Example("love it great", 4), Example("awful broken junk", 0)] * 16
    out = tmp_path / "model"
    fine_tune(
        tiny_bert_dir,
        train,
        out,
        TrainingConfig(max_epochs=10, learning_rate=5e-3, batch_size=8, seed=1),
        progress=False,
        on_saved=lambda folder: {"checked": True},
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["checked"] is True and metrics["training"]["data_sha256"]
    clf = Classifier.from_pretrained(out)
    probs = clf.predict_proba(["love it great", "awful broken junk"])
    assert clf.labels[probs[0].argmax()] == "5 stars" and clf.labels[probs[1].argmax()] == "1 star"
    assert json.loads((out / "config.json").read_text())["label_values"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no partial folders left behind


def test_a_failed_build_leaves_nothing_loadable(tiny_bert_dir, tmp_path):
    def crash(folder):
        raise KeyboardInterrupt  # killed while writing metrics

    with pytest.raises(KeyboardInterrupt):
        fine_tune(
            tiny_bert_dir,
            [Example("ok", 2), Example("bad", 0)] * 2,
            tmp_path / "model",
            TrainingConfig(max_epochs=1),
            progress=False,
            on_saved=crash,
        )
    assert list(tmp_path.iterdir()) == []


WORDS = {
    0: "awful broken terrible junk refund waste",
    1: "fine okay average decent acceptable ordinary",
    2: "love great excellent perfect wonderful superb",
}


def imbalanced(n: int, shares=(0.08, 0.12, 0.80), seed: int = 0) -> list[Example]:
    """Short reviews whose words give their class away; 80 % of them positive."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = rng.choices(range(3), shares)[0]
        words = WORDS[label].split()
        out.append(Example(" ".join(rng.sample(words, 3)) + f" item{i % 7}", label, f"r{i}"))
    return out


SENTIMENT = LabelSet(("negative", "neutral", "positive"), (1.0, 2.0, 3.0))


def test_old_recipe_collapses_on_imbalanced_data_and_the_new_one_does_not(tiny_bert_dir, tmp_path):
    train, test = imbalanced(300), imbalanced(120, seed=1)
    lr = 2e-3
    old = train_and_report(
        tiny_bert_dir, train, test, SENTIMENT, tmp_path / "old",
        TrainingConfig(**{**LEGACY_DEFAULT_CONFIG.__dict__, "learning_rate": lr}), progress=False,
    )  # fmt: skip
    new = train_and_report(
        tiny_bert_dir, train, test, SENTIMENT, tmp_path / "new", TrainingConfig(learning_rate=lr), progress=False
    )
    o, n = old["heldout"]["model"], new["heldout"]["model"]
    assert o["top_predicted"] == "positive" and o["top_predicted_share"] >= 0.9  # collapsed ...
    assert any("collapsed" in w for w in old["warnings"])  # ... and says so
    assert n["top_predicted_share"] < 0.9 and n["macro_f1"] >= o["macro_f1"] + 0.3
    assert min(n["per_class_recall"].values()) > 0.5
    assert not any("collapsed" in w for w in new["warnings"])
    h = new["training"]["history"]
    assert all("validation" in r for r in h) and new["training"]["best_epoch"] in [r["epoch"] for r in h]
    assert new["heldout"]["majority"]["top_predicted_share"] == 1.0


def test_warnings_on_a_collapsed_model_that_loses_to_tfidf():
    gold = [0] * 10 + [1] * 10 + [2] * 80
    heldout = {
        "model": evaluate_labels([2] * 100, gold, SENTIMENT),
        "tfidf_logreg": evaluate_labels(gold[:95] + [0] * 5, gold, SENTIMENT),
    }
    warnings = training_warnings(heldout)
    assert len(warnings) == 2
    assert "100% of the held-out reviews in 'positive'" in warnings[0] and "TF-IDF" in warnings[1]
    heldout["model"] = heldout["tfidf_logreg"] = evaluate_labels(gold, gold, SENTIMENT)
    assert len(training_warnings(heldout)) == 1  # a tie does not beat the baseline
    heldout["tfidf_logreg"] = evaluate_labels([2] * 100, gold, SENTIMENT)
    assert training_warnings(heldout) == []


def test_same_seed_same_model(tiny_bert_dir, tmp_path):
    from safetensors.numpy import load_file

    data = imbalanced(60)
    cfg = TrainingConfig(max_epochs=2, learning_rate=2e-3)
    for name in ("a", "b"):
        fine_tune(tiny_bert_dir, data, tmp_path / name, cfg, progress=False, labels=SENTIMENT)
    a, b = (load_file(tmp_path / n / "model.safetensors") for n in "ab")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_time_budget_stops_training(tiny_bert_dir, tmp_path):
    m = train_and_report(
        tiny_bert_dir, imbalanced(200), imbalanced(20, seed=1), SENTIMENT, tmp_path / "m",
        TrainingConfig(max_epochs=50, learning_rate=2e-3, max_minutes=1e-9), progress=False,
    )  # fmt: skip
    # The budget (60 ns) has passed before the first step ends, on any machine: training stops after that
    # step, mid-epoch, instead of finishing the epoch (a fast machine once ran a whole epoch in 0.12 s).
    assert m["training"]["epochs_run"] == 1 and "time budget" in m["training"]["stopped"]
    assert m["training"]["history"][0]["steps"] == 1


def write_csv(path, rows, header=("text", "rating")):
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize("scale", ["1-10", "named"])
def test_cli_trains_and_predicts_other_label_sets(monkeypatch, capsys, tmp_path, tiny_bert_dir, scale):
    rng = random.Random(3)
    if scale == "1-10":
        words = {1: "awful junk broken", 4: "poor meh weak", 7: "good nice solid", 10: "superb perfect love"}
        extra = []
    else:
        words = {"negative": "awful junk broken", "neutral": "okay fine average", "positive": "superb perfect love"}
        extra = ["--label-order", "negative,neutral,positive"]
    rows = [(" ".join(rng.sample(w.split(), 2)), label) for _ in range(60) for label, w in words.items()]
    data = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "m"
    args = ["train", "--data", data, "--text-col", "text", "--label-col", "rating", "--base", tiny_bert_dir]
    args += ["--out", out, "--lr", "5e-3", "--epochs", "12", "--validation-fraction", "0", *extra]
    code, stdout, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "TF-IDF + logistic reg." in stdout and "majority class" in stdout and "confusion matrix" in stdout
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    if scale == "1-10":
        assert list(config["id2label"].values()) == [str(i) for i in range(1, 11)]
        assert config["label_values"] == [float(i) for i in range(1, 11)]
    else:
        assert list(config["id2label"].values()) == ["negative", "neutral", "positive"]
        assert config["label_values"] == [-1.0, 0.0, 1.0]
    assert metrics["data"]["sha256"] and metrics["heldout"]["model"]["accuracy"] > 0.6
    code, stdout, err = run_cli(monkeypatch, capsys, "predict", "-m", out, "--json", "superb perfect", "awful junk")
    assert code == 0, err
    predicted = [r["predicted"] for r in json.loads(stdout)]
    assert predicted == (["10", "1"] if scale == "1-10" else ["positive", "negative"])


@pytest.mark.parametrize(
    "rows, args, message",
    [
        ([("a", "good"), ("b", "bad")], ["--label-col", "rating"], "--label-order"),
        ([("a", "1"), ("b", "inf")], ["--stars-col", "rating"], "finite"),
        ([("a", "1"), ("b", "9")], ["--stars-col", "rating"], "whole number of stars from 1 to 5"),
        ([("a", "1"), ("b", "2")], ["--stars-col", "rating", "--label-col", "rating"], "not both"),
        ([("a", "1"), ("b", "")], ["--label-col", "rating"], "is empty"),
    ],
)
def test_cli_label_mistakes_are_one_line(monkeypatch, capsys, tmp_path, rows, args, message):
    data = write_csv(tmp_path / "r.csv", rows)
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "--data", data, "--text-col", "text", "--out", tmp_path / "m", *args
    )
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_soft_labels_teach_how_sure_people_were(tiny_bert_dir, tmp_path):
    """The same text labelled 4 stars, once as sure (one-hot) and once as people split 50/50 between 4 and 5 stars
    (with class weights on, as `explain train` has them: a class only ever half-meant must still count):
    trained to the split, the model's 4- and 5-star probabilities come out close; trained to the sure label, not."""
    text, other = "nice enough product", "awful broken junk"
    split = (0.0, 0.0, 0.0, 0.5, 0.5)
    probs = {}
    for name, soft in (("sure", (0.0, 0.0, 0.0, 1.0, 0.0)), ("split", split)):
        train = [Example(text, 3, soft=soft), Example(other, 0, soft=(1.0, 0.0, 0.0, 0.0, 0.0))] * 16
        cfg = TrainingConfig(max_epochs=25, learning_rate=5e-3, batch_size=8, seed=1, validation_fraction=0.0)
        fine_tune(tiny_bert_dir, train, tmp_path / name, cfg, progress=False)
        probs[name] = Classifier.from_pretrained(tmp_path / name).predict_proba([text])[0]
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())["training"]
        assert metrics["targets"].startswith("soft")
    assert abs(probs["split"][3] - probs["split"][4]) < 0.2
    assert probs["sure"][3] - probs["sure"][4] > 0.5
    with pytest.raises(DataError, match="soft labels must have 5 values"):
        fine_tune(tiny_bert_dir, [Example(text, 3, soft=(0.5, 0.5))] * 4, tmp_path / "bad", progress=False)


def test_soft_labels_change_the_data_hash():
    from explain.training import data_hash

    labels = LabelSet.stars()
    sure = [Example("ok", 3, soft=(0.0, 0.0, 0.0, 1.0, 0.0))]
    split = [Example("ok", 3, soft=(0.0, 0.0, 0.0, 0.5, 0.5))]
    assert data_hash(sure, labels) != data_hash(split, labels) != data_hash([Example("ok", 3)], labels)
