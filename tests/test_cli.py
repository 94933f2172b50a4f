import json

import pytest
from fakes import run_cli


def test_predict_json(monkeypatch, capsys, tiny_bert_dir):
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "--model", tiny_bert_dir, "--json", "great", "awful")
    assert code == 0
    rows = json.loads(out)
    assert [r["text"] for r in rows] == ["great", "awful"]
    assert abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-5
    assert rows[0]["predicted"] == max(rows[0]["probabilities"], key=rows[0]["probabilities"].get)


def test_predict_table_marks_top_label(monkeypatch, capsys, tiny_bert_dir):
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "--model", tiny_bert_dir, "great")
    assert code == 0 and "<- predicted" in out and "5 stars" in out


def test_texts_from_stdin_and_file(monkeypatch, capsys, tiny_bert_dir, tmp_path):
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "-m", tiny_bert_dir, "--json", stdin="one\n\ntwo\n")
    assert code == 0 and [r["text"] for r in json.loads(out)] == ["one", "two"]
    csv_file = tmp_path / "r.csv"
    csv_file.write_text("body\nfine\n", encoding="utf-8")
    code, out, _ = run_cli(
        monkeypatch, capsys, "predict", "-m", tiny_bert_dir, "--json", "--file", csv_file, "--text-col", "body"
    )
    assert code == 0 and json.loads(out)[0]["text"] == "fine"


def test_trace_prints_three_stages(monkeypatch, capsys, tiny_bert_dir):
    code, out, _ = run_cli(
        monkeypatch, capsys, "trace", "-m", tiny_bert_dir, "I hate very cold, and cloudy winter days"
    )
    assert code == 0
    stages = [out.index(s) for s in ("Stage 1: Preprocessing", "Stage 2: Model inference", "Stage 3: Post-processing")]
    assert stages == sorted(stages)
    assert "101 -> [CLS]" in out and "token_type_ids" in out and "id2label" in out


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["predict", "   "], None, "empty"),
        (["predict", "-m", "/no/such/folder", "hi"], None, "does not exist"),
        (["predict", "-m", "someorg/some-model", "hi"], None, "hub"),
        (["predict", "--file", "/no/such.txt"], None, "no such file"),
        (["predict"], "", "no review text"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(monkeypatch, capsys, args, stdin, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = run_cli(monkeypatch, capsys, *args, stdin=stdin)
    assert code == 2
    assert message in err.lower() and "Traceback" not in err
    assert err.lower().startswith("error:")


@pytest.mark.parametrize(
    "args, message",
    [
        (["why", "hi", "--no-such-option"], "no such option"),
        (["why", "hi", "--top", "many"], "invalid value for '--top'"),
        (["evaluate", "--n", "0"], "--n"),
    ],
)
def test_usage_errors_show_usage_not_a_traceback(monkeypatch, capsys, args, message):
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert "Traceback" not in err and "error: " in err.lower() and message in err.lower()
    assert "usage:" in err.lower()


def test_csv_without_named_column(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    f = tmp_path / "r.csv"
    f.write_text("body\nfine\n", encoding="utf-8")
    code, _, err = run_cli(monkeypatch, capsys, "predict", "-m", tiny_bert_dir, "--file", f, "--text-col", "review")
    assert code == 2 and "no column 'review'" in err


def test_train_on_a_csv(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    f = tmp_path / "reviews.csv"
    f.write_text("text,stars\n" + "love it,5\nawful,1\n" * 10, encoding="utf-8")
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "--data",
        f,
        "--text-col",
        "text",
        "--stars-col",
        "stars",
        "--base",
        tiny_bert_dir,
        "--out",
        tmp_path / "m",
        "--epochs",
        "1",
        "--test-fraction",
        "0.3",
    )
    assert code == 0, err
    assert (tmp_path / "m" / "model.safetensors").exists() and "this model" in out and "majority class" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("text,stars\nok,9\n", encoding="utf-8")
    code, _, err = run_cli(
        monkeypatch,
        capsys,
        "train",
        "--data",
        bad,
        "--text-col",
        "text",
        "--stars-col",
        "stars",
        "--out",
        tmp_path / "m2",
    )
    assert code == 2 and "no row has stars from 1 to 5" in err  # 9 is reported as a row and left out


def test_why_writes_an_html_page(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    page = tmp_path / "why.html"
    texts = ["Great sound, terrible price", "Battery died <b>fast</b>"]
    code, _, err = run_cli(
        monkeypatch, capsys, "why", "-m", tiny_bert_dir, *texts, "--method", "occlusion,attention", "--html", page
    )
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and html.count("<section") == 2
    assert html.count('class="rx-explanation" data-method="occlusion"') == 2
    assert html.count('class="rx-explanation" data-method="attention"') == 2
    assert "<b>fast</b>" not in html and "&lt;b&gt;fast&lt;/b&gt;" in html  # review text is escaped
    assert "<script" not in html


def test_why_with_sentence_units_lists_sentences_not_words(monkeypatch, capsys, tiny_bert_dir):
    text = "The box arrived on Monday. The staff were rude. It rained."
    args = ("why", "-m", tiny_bert_dir, text, "--method", "occlusion")
    code, words, _ = run_cli(monkeypatch, capsys, *args)
    assert code == 0 and "top words:" in words and "removed" not in words
    code, out, _ = run_cli(monkeypatch, capsys, *args, "-p", "occlusion.units=sentence")
    assert code == 0, out
    assert "scored with whole sentences removed (3 sentences)" in out and "long review" not in out
    assert "top words:" not in out  # a sentence's score is spread evenly over its words: no word stands out
    code, _, err = run_cli(monkeypatch, capsys, *args, "-p", "occlusion.units=paragraph")
    assert code == 2 and "units must be one of auto, word, sentence (got 'paragraph')" in err
    assert "Traceback" not in err


def test_ctrl_c_in_batch_says_what_is_safe_and_exits_130(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    import explain.corpus.run as corpus_run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus_run, "run_corpus", interrupted)
    reviews = tmp_path / "r.txt"
    reviews.write_text("fine\ngood\n", encoding="utf-8")
    cache = tmp_path / "c.sqlite"
    code, _, err = run_cli(monkeypatch, capsys, "batch", reviews, "-m", tiny_bert_dir, "--cache", cache)
    assert code == 130
    assert f"interrupted; 0 result(s) are safe in {cache}" in " ".join(err.split())
