"""The dashboard's panels, run headless with Streamlit's AppTest on a tiny model (no browser)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from explain.classifier import Classifier

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
REVIEW = "I hate very cold, and cloudy winter days"
TIMEOUT = 120


@pytest.fixture
def app(tiny_bert_dir, monkeypatch) -> AppTest:
    """The dashboard with the tiny BERT as its default model (and no extra models)."""
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS_FILE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    submit(at, REVIEW)
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, review: str) -> AppTest:
    """Type a review in the sidebar and press Explain."""
    at.sidebar.text_area(key="review").input(review)
    return at.sidebar.button(key="explain_button").click().run()


def all_html(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.main.get("html")]


def html_blocks(at: AppTest) -> list[str]:
    """The coloured explanations on the page."""
    return [b for b in all_html(at) if 'class="rx-explanation"' in b]


def tiny_probabilities(tiny_bert_dir) -> np.ndarray:
    return Classifier.from_pretrained(tiny_bert_dir).predict_proba([REVIEW])[0]


def test_explain_panel(app, tiny_bert_dir):
    probs = tiny_probabilities(tiny_bert_dir)
    line = all_html(app)[0]  # the answer first
    assert 'class="rx-answer"' in line and f'data-label="{int(probs.argmax()) + 1} star' in line
    assert f"{float(probs @ np.arange(1, 6)):.1f} stars expected" in line and "occlusion, " in line
    labels = [f"{i} star" + ("s" if i > 1 else "") for i in range(1, 6)]
    assert app.subheader[0].value == f"Prediction: {labels[int(probs.argmax())]}"
    assert f"{probs.max():.1%}" in app.caption[0].value
    assert len(app.get("vega_lite_chart")) == 1  # the bar chart over the stars
    coloured = html_blocks(app)
    assert len(coloured) == 1 and 'data-method="occlusion"' in coloured[0]
    for word in ("hate", "cold", "cloudy", "winter"):
        assert f">{word}</span>" in coloured[0]
    stage_tables = [df.value for df in app.dataframe]
    tokens = list(stage_tables[0]["token"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "cloudy" in "".join(tokens).replace("##", "")
    assert list(stage_tables[2]["probability"]) == pytest.approx(probs.tolist(), abs=1e-6)


def test_examples_fill_the_review_box(app):
    box = app.sidebar.selectbox(key="example")
    seed = next(o for o in box.options if o.startswith("Seed: I really loved"))
    box.select(seed).run()
    assert app.sidebar.text_area(key="review").value == "I really loved that movie"
    assert any(o.startswith("Held-out, people gave") for o in box.options)  # real reviews from held-out data


def test_model_picker_offers_only_allowed_models(tiny_bert_dir, tiny_roberta_dir, monkeypatch):
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.setenv("REVIEW_EXPLAINER_MODELS", f"tiny roberta={tiny_roberta_dir}")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    picker = at.sidebar.selectbox(key="model")
    assert picker.options == ["default (MiniLM-L6, 1-5 stars)", "tiny roberta"]
    picker.select(str(tiny_roberta_dir)).run()
    assert not at.exception and not at.error
    assert 'data-method="occlusion"' in html_blocks(at)[0]
    tokens = list(at.dataframe[0].value["token"])
    assert tokens[0] == "<s>"  # RoBERTa's tokenizer: the picked model really is in use


def test_unlisted_model_is_refused(tiny_bert_dir, monkeypatch):
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    from explain.errors import UserError

    allowed_models, resolve = (
        dashboard_module("allowed_models").allowed_models,
        dashboard_module("allowed_models").resolve,
    )

    with pytest.raises(UserError, match="not on this dashboard's list"):
        resolve("/etc")
    env = {"REVIEW_EXPLAINER_MODELS": "a=/m/a, /m/b\n# comment\nhub/id,/m/b"}
    assert [(c.label, c.source) for c in allowed_models(env)] == [
        ("default (MiniLM-L6, 1-5 stars)", None),
        ("a", "/m/a"),
        ("/m/b", "/m/b"),
        ("hub/id", "hub/id"),
    ]


def test_attributions_panel(app):
    app.session_state["attr_methods"] = ["occlusion"]  # skip the slower default methods on the first run
    app.switch_page("panels/attributions.py").run()
    assert not app.exception, app.exception
    assert not app.warning
    target = app.selectbox(key="attr_target")
    assert target.value == "rating"  # the default question: what moved the expected rating
    before = html_blocks(app)[0]
    assert 'data-level="word"' in before and "what moved the rating" in before
    assert re.search(r"full colour at [0-9.e-]+ stars", before)  # the numeric scale, in the rating's unit
    target.select(2).run()
    after = html_blocks(app)[0]
    assert after != before and "why 3 stars" in after and "probability" in after
    app.selectbox(key="attr_contrast").select(4).run()
    assert "why 3 stars rather than 5 stars" in html_blocks(app)[0]
    app.radio(key="attr_level").set_value("subword tokens").run()
    tokens_html = html_blocks(app)[0]
    assert 'data-level="token"' in tokens_html and ">[CLS]</span>" in tokens_html
    assert len(app.get("vega_lite_chart")) == 1  # the ranked top-words chart
    blocks = all_html(app)
    table = next(b for b in blocks if 'class="rx-diagnostics"' in b)
    evaluations = re.search(r"texts the model scored</span></td><td[^>]*>(\d+)<", table)
    assert evaluations and int(evaluations.group(1)) > 0
    assert 'title="Wall-clock time' in table  # each row's meaning on hover
    for developer_name in (">fx<", "forward_share", "model_evaluations", "base_values"):
        assert developer_name not in table
    assert re.search(r"removed at a time</span></td><td[^>]*>word<", table)
    app.radio(key="attr_level").set_value("sentences").run()  # per sentence, occlusion removes sentences
    assert 'data-level="sentence"' in html_blocks(app)[0]
    assert any("occlusion remove whole sentences" in c.value for c in app.caption)
    table = next(b for b in all_html(app) if 'class="rx-diagnostics"' in b)
    assert re.search(r"removed at a time</span></td><td[^>]*>sentence<", table)
    chart = str(app.get("vega_lite_chart")[0].proto)  # the ranked chart ranks sentences, not words
    assert f"1. {REVIEW}" in chart


def test_attributions_show_every_chosen_method(app):
    from explain.methods import methods

    names = [m.name for m in methods() if m.budget is None][:3]  # the quick ones (no sampling budget)
    app.session_state["attr_methods"] = names
    app.switch_page("panels/attributions.py").run()
    assert not app.exception, app.exception
    shown = [m.group(1) for h in html_blocks(app) if (m := re.search(r'data-method="([^"]+)"', h))]
    assert not app.error, [e.value for e in app.error]  # a failing method would show an error instead
    assert shown == names
    assert [s.value for s in app.subheader] == names


def test_attention_panel(app):
    app.switch_page("panels/attention.py").run()
    assert not app.exception, app.exception
    frames = app.get("iframe")
    assert len(frames) == 2  # head view and model view
    for frame in frames:
        body = frame.proto.srcdoc
        assert "RequireJS 2.3.6" in body and "https://d3js.org v5.7.0" in body
        assert not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", body)
    headings = [s.value for s in app.subheader]
    assert headings[:2] == ["Head view", "Model view"]
    charts = app.get("vega_lite_chart")
    assert len(charts) == ("Attention rollout" in headings) + ("Gradient-weighted attention" in headings)
    for chart in charts:  # every token row and column labelled at >= 14 px, colours over the off-diagonal range
        spec = json.loads(chart.proto.spec)
        assert spec["height"]["step"] >= 14 and spec["width"]["step"] >= 14
        assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False
        assert spec["encoding"]["color"]["scale"]["clamp"] is True
    app.multiselect(key="att_layers").set_value([1]).run()
    assert '"include_layers": [1]' in app.get("iframe")[0].proto.srcdoc


def test_a_long_review_gets_attention_views_per_window_and_part(app):
    submit(app, "Great phone, I love it. " * 40 + "Awful support, never again.")
    app.switch_page("panels/attention.py").run()
    assert not app.exception, app.exception
    windows = app.selectbox(key="att_window")
    assert len(windows.options) > 1
    windows.set_value(len(windows.options) - 1).run()
    assert not app.exception, app.exception
    # the tiny model's windows (128 tokens) are over the views' 96: each window is shown one part at a time
    parts = app.selectbox(key="att_part")
    assert len(parts.options) == 2
    parts.set_value(parts.options[-1]).run()
    assert not app.exception, app.exception
    frames = app.get("iframe")
    assert len(frames) == 2 and "never" in frames[0].proto.srcdoc  # the review's end, in its last window's last part


def test_compare_panel(app):
    app.session_state["cmp_methods"] = ["occlusion"]
    app.switch_page("panels/compare.py").run()
    assert any("at least two" in i.value for i in app.info)
    from explain.methods import methods

    second = next(m.name for m in methods() if m.name != "occlusion" and m.budget is None)
    app.multiselect(key="cmp_methods").set_value(["occlusion", second]).run()
    assert not app.exception, app.exception
    assert len(html_blocks(app)) == 2
    scores = app.dataframe[0].value
    assert list(scores.columns[:3]) == ["word", "occlusion", second]
    assert list(scores["word"]) == ["I", "hate", "very", "cold", ",", "and", "cloudy", "winter", "days"]
    verdict = [m.value for m in app.markdown if m.value.startswith(("**Trust", "**No method"))]
    assert len(verdict) == 1  # one sentence from the library's verdict
    faithfulness = app.dataframe[-1].value
    assert faithfulness.loc["occlusion", "tau_loo"].endswith("(reference)")  # occlusion is leave-one-out itself
    assert not faithfulness.loc[second, "tau_loo"].endswith("(reference)")
    assert any(i.startswith("random ranking") for i in faithfulness.index)
    assert any("in stars of the expected rating" in c.value for c in app.caption)  # the unit of the numbers


def csv_upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.switch_page("panels/batch.py").run()
    at.file_uploader(key="batch_file").set_value((name, data, "text/csv")).run()
    return at


def test_batch_panel(app):
    from explain.store import ExplanationStore

    data = (
        f'id,review,stars\nA1,"{REVIEW}",2\nA2,"Great, would buy again",5\nA3,"=HYPERLINK(""x"")",3\n'
        'A4,"The screen is fine",five\nA5,,4\n'
    ).encode()
    csv_upload(app, "reviews.csv", data)
    assert app.selectbox(key="batch_text_col").value == "review"
    assert app.selectbox(key="batch_stars_col").value == "stars"
    assert app.selectbox(key="batch_method").value == "occlusion"
    app.button(key="batch_run").click().run()
    assert not app.exception, app.exception
    warnings = [w.value for w in app.warning]
    assert any("row 4: stars value 'five' is not a number" in w for w in warnings)  # reported, the batch goes on
    assert any("row 5: no text" in w for w in warnings)
    table = app.dataframe[0].value
    assert list(table.columns) == [
        "row",
        "predicted",
        "confidence",
        "surprise",
        "top words",
        "question",
        "method",
        "id",
        "review",
        "stars",
    ]  # fmt: skip  (results first: "top words" is on screen without scrolling)
    assert sorted(table["id"]) == ["A1", "A2", "A3", "A4"]  # every input column kept, bad stars row explained too
    assert set(table["method"]) == {"occlusion"}
    assert set(table["question"]) == {  # the default question, in words, with its unit and direction
        "what moved the rating (stars; + raises the rating, - lowers the rating)"
    }
    assert any("Skipped rows (1)" in e.label for e in app.expander)  # row 5, no text: shown, with its reason
    surprise = table["surprise"].tolist()
    given = {"A1": 2, "A2": 5, "A3": 3}
    for row in table.itertuples():
        if row.id in given:
            assert row.surprise == abs(given[row.id] - int(row.predicted.split()[0]))
    known = [x for x in surprise if x == x]
    assert known == sorted(known, reverse=True)  # most surprising first
    top = table.set_index("id")["top words"]
    assert "," not in [w.split(" (")[0] for w in top["A1"].split(", ")]  # no punctuation
    assert not {"and", "very", "I"} & {w.split(" (")[0] for w in top["A1"].split(", ")}  # no stopwords
    assert any("Predicted stars equal the given stars" in c.value for c in app.caption)
    downloads = {b.proto.label: b for b in app.get("download_button")}
    assert set(downloads) == {"Download CSV", "Download JSON"}
    with ExplanationStore() as store:
        before = sum(1 for _ in store.rows(method="occlusion"))
    app.button(key="batch_report").click().run()
    assert not app.exception, app.exception
    with ExplanationStore() as store:  # the report reuses the stored explanations: none computed again
        assert sum(1 for _ in store.rows(method="occlusion")) == before
    downloads = {b.proto.label: b for b in app.get("download_button")}
    assert "Download HTML report" in downloads


def test_batch_rejects_bad_files_with_a_message(app, monkeypatch):
    csv_upload(app, "latin1.csv", "text\ncaf\xe9 cr\xe8me\n".encode("latin-1"))
    assert not app.exception and "not UTF-8" in app.error[0].value
    csv_upload(app, "empty.csv", b"")
    assert not app.exception and "no header row" in app.error[0].value
    csv_upload(app, "blank.csv", b"text,stars\n,3\n")
    app.button(key="batch_run").click().run()
    assert not app.exception and "has no non-empty text" in app.error[0].value


def test_batch_upload_size_limit(app):
    big = b"text\n" + b"a long review line\n" * 300_000  # > 5 MB
    csv_upload(app, "big.csv", big)
    assert not app.exception and "the limit is 5 MB" in app.error[0].value


def test_long_review_is_read_in_windows_and_says_so(app):
    submit(app, "Great phone, I love it. " * 40 + "Awful support, never again.")
    assert not app.exception, app.exception
    assert any("longer than the model's limit" in i.value and "windows" in i.value for i in app.info)
    assert not any("longer than the model's limit" in w.value for w in app.warning)
    # sentences first, the words one click away
    assert [s.value for s in app.main.subheader if "mattered" in s.value] == ["Which sentences mattered"]
    first, *rest = html_blocks(app)
    assert 'data-level="sentence"' in first and first.count('class="rx-sentence"') == 41
    assert any('data-level="word"' in block for block in rest)


def test_empty_review_asks_for_text(app):
    submit(app, "   ")
    assert not app.exception and any("Type a review" in i.value for i in app.info)


def dashboard_module(name: str):
    """A helper module of the dashboard (they import each other by plain name, as Streamlit runs them)."""
    import importlib
    import sys

    sys.path.insert(0, str(APP.parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(APP.parent))


def test_heatmap_colours_span_the_off_diagonal_range():
    charts = dashboard_module("charts")
    matrix = np.array([[1.0, 0.01, 0.02], [0.015, 0.98, 0.005], [0.03, 0.0, 0.99]])
    assert charts.off_diagonal_range(matrix) == (0.0, 0.03)
    spec = charts.heatmap_chart(matrix, ["[CLS]", "good", "[SEP]"], "t").to_dict()
    assert spec["encoding"]["color"]["scale"]["domain"] == [0.0, 0.03]
    assert spec["height"] == {"step": charts.ROW_PX} and charts.ROW_PX >= 14


def test_batch_downloads(tiny_bert):
    from explain.explanation import Explanation
    from explain.methods import explain

    batch_io = dashboard_module("batch_io")
    texts = [REVIEW, "=SUM(A1:A9) great"]
    exps = [explain(tiny_bert, t, method="occlusion") for t in texts]
    rows = [
        {"row": i + 1, "text": t, "predicted": e.target_label, "top words": ", ".join(w for w, _ in e.top_words(2))}
        for i, (t, e) in enumerate(zip(texts, exps, strict=True))
    ]
    skipped = ({"row": 3, "skipped": "row 3: no text in 'text'; skipped", "text": ""},)
    result = batch_io.BatchResult(("run",), "occlusion", rows, [e.to_dict() for e in exps], (), (), skipped)
    lines = batch_io.csv_bytes(result).decode().splitlines()
    assert lines[0] == "row,text,predicted,top words,skipped" and lines[2].startswith("2,'=SUM(A1:A9) great,")
    assert lines[3] == "3,,,,row 3: no text in 'text'; skipped"  # the skipped row, with its reason
    on_screen = batch_io.csv_bytes(result, [1, 0]).decode().splitlines()
    assert on_screen[1:3] == [lines[2], lines[1]]  # downloads follow the on-screen order
    records = json.loads(batch_io.json_bytes(result, [1, 0]))
    assert [r["method"] for r in records] == ["occlusion"] * 3 and records[2]["explanation"] is None
    assert records[0]["text"] == texts[1] and records[2]["skipped"].startswith("row 3")
    back = Explanation.from_dict(records[0]["explanation"])
    np.testing.assert_allclose(back.word_scores, exps[1].word_scores)
    assert batch_io.guess_column(["id", "Review", "Rating"], "text") == 1
    assert batch_io.guess_column(["id", "Review", "Rating"], "stars") == 2


def test_cli_dashboard_runs_streamlit_on_the_app(monkeypatch, tiny_bert_dir):
    from typer.testing import CliRunner

    import explain.cli.models
    from explain.cli import app as cli

    calls = []
    monkeypatch.setattr(explain.cli.models, "run_until_signalled", lambda cmd, env: calls.append((cmd, env)) or 0)
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.setenv("REVIEW_EXPLAINER_MODELS", "/models/a")
    result = CliRunner().invoke(cli, ["dashboard", "--port", "8610", "--model", "/models/b"])
    assert result.exit_code == 0, result.output
    ((cmd, env),) = calls
    assert Path(cmd[1]) == APP.with_name("serve.py") and cmd[2] == "run" and Path(cmd[3]) == APP
    options = dict(zip(cmd[4::2], cmd[5::2], strict=True))
    assert options["--server.port"] == "8610" and options["--browser.gatherUsageStats"] == "false"
    assert options["--server.address"] == "localhost" and options["--server.headless"] == "true"
    assert env["REVIEW_EXPLAINER_MODELS"] == "/models/a,/models/b"
    assert options["--logger.hideWelcomeMessage"] == "false"
    assert options["--server.maxUploadSize"] == "5"  # the server refuses bigger uploads before reading them
    calls.clear()
    assert CliRunner().invoke(cli, ["dashboard", "--address", "0.0.0.0"]).exit_code == 0
    # on a wildcard address Streamlit's banner would look up this machine's public IP from outside: hidden
    assert dict(zip(calls[0][0][4::2], calls[0][0][5::2], strict=True))["--logger.hideWelcomeMessage"] == "true"


def test_cli_dashboard_builds_a_missing_default_model_before_serving(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import explain.cli.models
    import explain.default_model as default_model
    from explain.cli import app as cli

    events = []
    monkeypatch.delenv("REVIEW_EXPLAINER_DEFAULT_MODEL", raising=False)
    monkeypatch.setenv("REVIEW_EXPLAINER_CACHE", str(tmp_path))  # an empty cache: a fresh machine
    monkeypatch.setattr(default_model, "build_default_model", lambda path, progress: events.append(("build", path)))
    monkeypatch.setattr(explain.cli.models, "run_until_signalled", lambda cmd, env: events.append(("serve", None)) or 0)
    result = CliRunner().invoke(cli, ["dashboard", "--port", "8611"])
    assert result.exit_code == 0, result.output
    assert [e for e, _ in events] == ["build", "serve"]  # built first, then served
    assert events[0][1] == tmp_path / "models" / default_model.MODEL_VERSION
    assert "building it once now, before serving" in result.output


def test_a_fresh_machine_shows_the_default_model_build_on_the_page(monkeypatch, tmp_path, tiny_bert_dir):
    """`streamlit run dashboard/app.py` on an empty cache: the page builds the default model with its progress
    and time left, says when it is done, then answers."""
    import shutil

    import explain.default_model as default_model

    steps = []

    def fake_build(path, progress):  # stands in for the 5-minute build: reports 3 steps, leaves the tiny model
        for done in (1, 2, 3):
            progress(done, 3)
            steps.append(done)
        shutil.copytree(tiny_bert_dir, path)

    monkeypatch.delenv("REVIEW_EXPLAINER_DEFAULT_MODEL", raising=False)
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    monkeypatch.setenv("REVIEW_EXPLAINER_CACHE", str(tmp_path))  # an empty cache: a fresh machine
    monkeypatch.setattr(default_model, "build_default_model", fake_build)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["review"] = REVIEW
    at.run()
    assert not at.exception, at.exception
    assert steps == [1, 2, 3] and (tmp_path / "models" / default_model.MODEL_VERSION / "config.json").exists()
    assert any("The default model was built in" in s.value for s in at.success)
    assert 'class="rx-answer"' in all_html(at)[0]  # then the page answers as usual
    at.run()  # a rerun finds the model built: no second build
    assert steps == [1, 2, 3]


def test_the_url_sets_the_review_and_options(tiny_bert_dir, monkeypatch):
    """A shared link (?review=...&attr_methods=...) opens the same view: the review box and options come from it."""
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["review"] = "Battery died after a week"
    at.query_params["attr_methods"] = "occlusion"
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.text_area(key="review").value == "Battery died after a week"
    probs = Classifier.from_pretrained(tiny_bert_dir).predict_proba(["Battery died after a week"])[0]
    assert at.subheader[0].value.endswith(f"{int(probs.argmax()) + 1} star" + ("s" if probs.argmax() else ""))
    at.switch_page("panels/attributions.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="attr_methods").value == ["occlusion"]


def test_whatif_panel(app, tiny_bert_dir):
    app.switch_page("panels/whatif.py").run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == ["Smallest change", "Edit the review"]
    pills = app.get("button_group")[0]
    words = REVIEW.replace(",", "").split()
    assert [o.content for o in pills.proto.options] == words  # every word but punctuation can be clicked away
    pills.set_value([1]).run()  # remove "hate"
    assert not app.exception, app.exception
    edited = REVIEW.replace("hate ", " ")
    boxes = [t for t in app.text_area if t.key and t.key.startswith("whatif_text_")]
    assert boxes[-1].value == edited.replace("  ", "  ")
    probs = Classifier.from_pretrained(tiny_bert_dir).predict_proba([REVIEW, boxes[-1].value])
    stars = probs @ np.arange(1, 6)
    before, after = app.metric[0], app.metric[1]
    assert before.value.endswith(f"({stars[0]:.1f} expected)") and after.value.endswith(f"({stars[1]:.1f} expected)")
    diff = next(h for h in all_html(app) if "rx-word-diff" in h)
    assert 'data-op="-" style="color:#b2182b;text-decoration:line-through">hate</span>' in diff
