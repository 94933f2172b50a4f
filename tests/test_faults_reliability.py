"""Issue 27's probes: bounded budgets, atomic outputs, inert exports, no traceback left, the same checks on every path.

Each probe runs the real CLI (in-process through `run_cli`, or in a subprocess where memory or a file-size limit
is measured) on the tiny models of conftest.py, and asserts one line and exit code 2 (or, for stars, a warning per
row and exit code 0), nothing partial on disk and the previous output kept byte for byte.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import run_cli
from test_faults import PROGRESS_BAR, ROOT, assert_one_line_error, cli, sha

TWELVE_WORDS = "the battery died after two days and support never answered my emails"
HOSTILE = [
    "evil\x1b]52;c;ZWNobw==\x07 clipboard \x1b]0;PWNED\x07 title \x1b[2J clear \x07bell",
    "c1 \x9b31m red \u202eReversed\u202c and \u2066isolate\u2069 fine",
    "=cmd|' /C calc'!A0 \x1b[H plain words here",
]
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069")


def one_line(code: int, err: str, *fragments: str) -> str:
    messages = PROGRESS_BAR.sub("\n", err.replace("\r", "\n"))  # a progress bar is not a message
    lines = [line for line in messages.splitlines() if line.strip()]
    return assert_one_line_error(code, lines, *fragments)


def binary_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# ---------------------------------------------------------------------------- 1. one budget rule
@pytest.mark.parametrize(
    "method, param", [("lime", "num_samples"), ("shap", "max_evals"), ("ig", "n_steps")], ids=["lime", "shap", "ig"]
)
def test_a_huge_budget_is_refused_at_once_naming_the_parameter(tiny_bert, method, param):
    from explain import explain
    from explain.errors import InputTooLargeError
    from explain.methods import get_method
    from explain.methods.budget import budget_limit, window_share

    started = time.perf_counter()
    with pytest.raises(InputTooLargeError, match=rf"lower {param} \(at most [\d,]+ for this review\)") as caught:
        explain(tiny_bert, TWELVE_WORDS, method, **{param: 100_000_000})
    assert time.perf_counter() - started < 5  # refused before any work
    limit = budget_limit(get_method(method), window_share(tiny_bert, TWELVE_WORDS))
    assert f"at most {limit:,} " in str(caught.value)
    # the largest budget allowed is allowed, one more is not: one rule, counted the same way
    from explain.methods.budget import check_budget

    m = get_method(method)
    share = window_share(tiny_bert, TWELVE_WORDS)
    check_budget(m, m.check({param: limit}), share)
    with pytest.raises(InputTooLargeError):
        check_budget(m, m.check({param: limit + 1}), share)


def test_the_budget_counts_windows_so_long_reviews_allow_less(tiny_bert):
    from explain.methods import get_method
    from explain.methods.budget import budget_limit, window_share

    lime = get_method("lime")
    short, long = window_share(tiny_bert, TWELVE_WORDS), window_share(tiny_bert, " ".join([TWELVE_WORDS] * 60))
    assert short < 1 < long  # a short review is part of one window; a long one several
    assert budget_limit(lime, short) > 10 * budget_limit(lime, long)
    assert budget_limit(lime, long) == int(2000 // long)  # REVIEW_EXPLAINER_MAX_WINDOW_EVALS's default


def test_huge_lime_budget_stays_small_in_memory(tiny_bert_dir):
    """The issue's probe (11 GB in 90 s before): refused at once, peak RSS of the whole command measured."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "explain.cli", "why", "-m", str(tiny_bert_dir), "--method", "lime",
         "-p", "lime.num_samples=100000000", TWELVE_WORDS],
        cwd=ROOT, env=os.environ | {"HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode()
    assert os.waitstatus_to_exitcode(status) == 2, err
    assert "num_samples" in err and "Traceback" not in err
    assert usage.ru_maxrss < 2 * 1024 * 1024  # KiB: under 2 GB (the refusal itself costs nothing)
    assert proc.stdout.read() == b""  # refused before any output


@pytest.mark.parametrize("command", ["why", "report", "batch", "evaluate"])
def test_bad_parameters_and_budgets_are_refused_before_work_on_every_path(
    monkeypatch, capsys, tmp_path, tiny_bert_dir, command
):
    reviews = tmp_path / "r.txt"
    reviews.write_text(f"{TWELVE_WORDS}\ngreat phone\n", encoding="utf-8")
    rated = tmp_path / "r.csv"
    rated.write_text(f"text,stars\n{TWELVE_WORDS},1\ngreat phone,5\n", encoding="utf-8")
    where = {
        "why": ["why", "-m", tiny_bert_dir, "--method", "occlusion,lime", TWELVE_WORDS],
        "report": ["report", "-m", tiny_bert_dir, "--methods", "occlusion,lime", "--no-cache", "-o",
                   tmp_path / "r.json", "--file", reviews],
        "batch": ["batch", reviews, "-m", tiny_bert_dir, "--methods", "occlusion,lime", "--cache",
                  tmp_path / "c.sqlite"],
        "evaluate": ["evaluate", "-m", tiny_bert_dir, "--data", rated, "--text-col", "text", "--methods",
                     "occlusion,lime", "--out", tmp_path / "r.json"],
    }[command]  # fmt: skip
    code, out, err = run_cli(monkeypatch, capsys, *where, "-p", "occlusion.mode=bad")
    one_line(code, err, "occlusion", "mode 'bad'", "delete, mask")
    code, out, err = run_cli(monkeypatch, capsys, *where, "-p", "lime.num_samples=100000000")
    one_line(code, err, "lower num_samples", "REVIEW_EXPLAINER_MAX_WINDOW_EVALS")
    assert out == "" and not (tmp_path / "r.json").exists()
    assert not (tmp_path / "c.sqlite").exists() or _rows(tmp_path / "c.sqlite") == 0


def _rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM explanations").fetchone()[0]


def test_gauss_legendre_of_many_points_needs_no_square_matrix():
    from explain.methods.gradients import gauss_legendre

    for n in (1000, 1001, 5000):
        nodes, weights = gauss_legendre(n)
        assert nodes.shape == weights.shape == (n,) and nodes.min() > 0 and nodes.max() < 1
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert (weights * nodes**9).sum() == pytest.approx(0.1, abs=1e-12)  # exact for polynomials


# ---------------------------------------------------------------------------- 2. atomic outputs
def test_write_atomic_keeps_the_previous_file_when_the_disk_is_full(tmp_path, monkeypatch):
    import explain.atomic as atomic

    target = tmp_path / "report.json"
    target.write_bytes(b'{"valid": "previous report"}')
    before = sha(target)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as caught:
        atomic.write_atomic(target, "x" * 100_000)
    assert caught.value.errno == errno.ENOSPC
    assert sha(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    monkeypatch.undo()
    atomic.write_atomic(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("fmt", ["json", "html", "csv"])
def test_a_full_disk_during_a_report_keeps_the_previous_report_byte_for_byte(
    monkeypatch, capsys, tmp_path, tiny_bert_dir, fmt
):
    import explain.atomic as atomic

    out = tmp_path / f"prev.{fmt}"
    code, _, err = run_cli(monkeypatch, capsys, "report", "-m", tiny_bert_dir, "great phone", "--no-cache", "-o", out)
    assert code == 0, err
    before = sha(out)

    def full(fd):  # the data is written, then the disk is full when it is flushed to it
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    code, _, err = run_cli(monkeypatch, capsys, "report", "-m", tiny_bert_dir, "awful phone", "--no-cache", "-o", out)
    one_line(code, err, "no space left on the device")
    assert sha(out) == before and [p.name for p in tmp_path.iterdir()] == [out.name]  # nothing partial


def test_a_file_size_limit_during_a_report_keeps_the_previous_report(tmp_path, tiny_bert_dir):
    """A real failed write (the kernel refuses past RLIMIT_FSIZE), in a subprocess: the old report survives whole."""
    out = tmp_path / "prev.json"
    code, _, err = cli("report", "-m", tiny_bert_dir, "great phone", "--no-cache", "-o", out)
    assert code == 0, err
    before, size = sha(out), out.stat().st_size
    code, _, err = cli(
        "report", "-m", tiny_bert_dir, *[f"review {i} is long enough" for i in range(6)], "--no-cache", "-o", out,
        limit_fsize=size + 16,
    )  # fmt: skip
    assert_one_line_error(code, err)
    assert sha(out) == before and [p.name for p in tmp_path.iterdir()] == [out.name]
    json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KB tmpfs (root only): writes past it fail with the kernel's own ENOSPC."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    yield disk
    subprocess.run(["umount", disk], check=False)


def test_a_really_full_disk_keeps_the_previous_report(monkeypatch, capsys, small_disk, tiny_bert_dir):
    out = small_disk / "prev.json"
    code, _, err = run_cli(monkeypatch, capsys, "report", "-m", tiny_bert_dir, "great phone", "--no-cache", "-o", out)
    assert code == 0, err
    before = sha(out)
    with (small_disk / "filler").open("wb") as fh:  # leave less room than the next report needs
        fh.write(b"\0" * (256 * 1024 - out.stat().st_size * 3))
    reviews = [f"review {i}: the battery died after two days" for i in range(20)]
    code, _, err = run_cli(monkeypatch, capsys, "report", "-m", tiny_bert_dir, *reviews, "--no-cache", "-o", out)
    one_line(code, err, "no space left on the device")
    assert sha(out) == before and sorted(p.name for p in small_disk.iterdir()) == ["filler", "prev.json"]
    assert json.loads(out.read_text(encoding="utf-8"))["reviews"][0]["text"] == "great phone"


# ---------------------------------------------------------------------------- 3. no traceback left
@pytest.mark.parametrize("command", [["predict", "-"], ["why", "--method", "occlusion", "-"], ["report", "--no-cache"]])
def test_invalid_utf8_on_standard_input_is_one_line(monkeypatch, capsys, tmp_path, tiny_bert_dir, command):
    monkeypatch.chdir(tmp_path)
    binary_stdin(monkeypatch, b"fine review\ngood\xff\xfe broken\n")
    code, _, err = run_cli(monkeypatch, capsys, command[0], "-m", tiny_bert_dir, *command[1:])
    one_line(code, err, "standard input line 2 is not UTF-8")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def damaged_models(tmp_path_factory, tiny_bert_dir) -> dict[str, Path]:
    import shutil

    root = tmp_path_factory.mktemp("damaged")
    folders = {"empty": root / "empty"}
    folders["empty"].mkdir()
    for name, keep in (("header", 1000), ("half", None)):
        folder = folders[name] = root / name
        shutil.copytree(tiny_bert_dir, folder)
        weights = folder / "model.safetensors"
        os.truncate(weights, keep or weights.stat().st_size // 2)
    folders["remote"] = root / "remote"
    shutil.copytree(tiny_bert_dir, folders["remote"])
    config = json.loads((folders["remote"] / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.Evil"}
    (folders["remote"] / "config.json").write_text(json.dumps(config))
    folders["pickle"] = root / "pickle"
    shutil.copytree(tiny_bert_dir, folders["pickle"])
    (folders["pickle"] / "model.safetensors").unlink()

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {root / 'PWNED'}",))

    import torch

    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, folders["pickle"] / "pytorch_model.bin")
    folders["loop"] = root / "loop"
    os.symlink(root / "loop2", folders["loop"])
    os.symlink(folders["loop"], root / "loop2")
    return folders


@pytest.mark.parametrize("probe, fragment", [("header", "truncated"), ("half", "truncated"), ("loop", "link loop")])
def test_a_damaged_model_folder_is_one_line(monkeypatch, capsys, damaged_models, probe, fragment):
    code, _, err = run_cli(monkeypatch, capsys, "predict", "-m", damaged_models[probe], "great")
    line = one_line(code, err, fragment)
    assert "hub" not in line


@pytest.fixture
def stars_csv(tmp_path) -> Path:
    rows = ["great", "awful", "fine", "meh", "good", "bad", "super", "poor", "nice", "ugly"]
    f = tmp_path / "train.csv"
    f.write_text("text,stars\n" + "".join(f"{t} product,{i % 5 + 1}\n" for i, t in enumerate(rows)), encoding="utf-8")
    return f


@pytest.mark.parametrize(
    "base, fragment",
    [("empty", "no config.json"), ("half", "truncated"), ("remote", "auto_map"), ("pickle", "posix.system")],
)
def test_train_refuses_a_bad_base_before_training(
    monkeypatch, capsys, tmp_path, damaged_models, stars_csv, base, fragment
):
    out = tmp_path / "model"
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "--data", stars_csv, "--text-col", "text", "--stars-col", "stars",
        "--out", out, "--base", damaged_models[base],
    )  # fmt: skip
    one_line(code, err, fragment)
    assert not out.exists() and not (damaged_models["empty"].parent / "PWNED").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]  # no partial or .old-* folder


@pytest.mark.parametrize("lr", ["nan", "-1", "inf", "0"])
def test_train_refuses_a_learning_rate_that_is_not_positive_and_finite(
    monkeypatch, capsys, tmp_path, tiny_bert_dir, stars_csv, lr
):
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "--data", stars_csv, "--text-col", "text", "--stars-col", "stars",
        "--out", tmp_path / "m", "--base", tiny_bert_dir, "--lr", lr,
    )  # fmt: skip
    one_line(code, err, "--lr")
    assert not (tmp_path / "m").exists()


def test_a_diverged_model_is_never_written(tmp_path, tiny_bert_dir):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from explain.errors import InvalidValueError
    from explain.training.output import prepare_output, save_model

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir)
    with torch.no_grad():
        model.classifier.weight[0, 0] = float("nan")
    out = tmp_path / "m"
    tmp = prepare_output(out)
    with pytest.raises(InvalidValueError, match="NaN"):
        save_model(model, AutoTokenizer.from_pretrained(tiny_bert_dir), out, tmp, None, {}, False, False)
    assert list(tmp_path.iterdir()) == []


def test_json_output_never_holds_nan():
    from explain.inert import json_dumps

    text = json_dumps({"p": [float("nan"), 0.5, float("inf"), -float("inf")], "t": "a\x1b[2J\x9b\u202eb"})
    assert json.loads(text) == {"p": [None, 0.5, None, None], "t": "a\x1b[2J\x9b\u202eb"}
    assert "NaN" not in text and "Infinity" not in text
    assert not any(ch in text for ch in FORBIDDEN)  # escaped as \u001b, \u009b, \u202e


def test_train_out_on_a_mount_point_is_refused_before_training(monkeypatch, capsys, tmp_path, tiny_bert_dir, stars_csv):
    mount = next((Path(p) for p in ("/dev/shm", "/proc", "/sys") if os.path.ismount(p)), None)
    if mount is None:
        pytest.skip("no mount point to probe")
    code, _, err = run_cli(
        monkeypatch, capsys, "train", "--data", stars_csv, "--text-col", "text", "--stars-col", "stars",
        "--out", mount, "--base", tiny_bert_dir, "--overwrite",
    )  # fmt: skip
    one_line(code, err, "mount point")


# ---------------------------------------------------------------------------- 4. stars, the same everywhere
BAD_STARS = {"-1": "whole number", "0": "whole number", "7": "whole number", "3.5": "whole number",
             "1e308": "whole number", "abc": "not a number", "": "no stars", "inf": "finite"}  # fmt: skip


def test_parse_stars_is_one_reading():
    from explain.data import parse_stars

    assert [parse_stars(v) for v in ("1", " 5 ", "4.0")] == [(1, None), (5, None), (4, None)]
    for raw in BAD_STARS:
        stars, why = parse_stars(raw)
        assert stars is None and why


def test_report_keeps_rows_with_bad_stars_without_stars(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    f = tmp_path / "r.csv"
    f.write_text("text,stars\n" + "".join(f"review {i},{v}\n" for i, v in enumerate(["5", *BAD_STARS])))
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        monkeypatch, capsys, "report", "-m", tiny_bert_dir, "--file", f, "--text-col", "text",
        "--stars-col", "stars", "--no-cache", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("5 row(s) have stars that are not a whole number of stars from 1 to 5" in w for w in warnings), err
    assert any("not a number" in w and "(abc)" in w for w in warnings) and any("have no stars" in w for w in warnings)
    given = [r["stars"] for r in json.loads(out.read_text())["reviews"]]
    assert given == [5] + [None] * len(BAD_STARS)


def test_train_and_dashboard_read_stars_the_same_way(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    from explain.data import read_review_rows

    body = "text,stars\n" + "".join(f"review {i},{v}\n" for i, v in enumerate(["5", "1", *BAD_STARS]))
    _, rows = read_review_rows(body.encode(), "text", "stars")
    assert [r.review.stars for r in rows] == [5, 1] + [None] * len(BAD_STARS)
    assert all(r.problem and "explained without given stars" in r.problem for r in rows[2:])
    f = tmp_path / "t.csv"
    f.write_text(body + "".join(f"more {i},{i % 5 + 1}\n" for i in range(8)), encoding="utf-8")
    from explain.training import csv_examples

    with pytest.warns(UserWarning, match=f"{len(BAD_STARS)} row\\(s\\) without stars from 1 to 5 are left out"):
        labels, train, test, _ = csv_examples(f, "text", "stars", None, None, 0.0, 13)
    assert len(train) == 10 and not test


# ---------------------------------------------------------------------------- 5. inert exports
@pytest.fixture(scope="module")
def hostile_report(tiny_bert, tmp_path_factory):
    from explain.data import Review
    from explain.report import build_report
    from explain.store import ExplanationStore

    with ExplanationStore(":memory:") as store:
        return build_report(tiny_bert, [Review(t, 1) for t in HOSTILE], ["occlusion"], store, attention_views=1)


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_exports_carry_no_control_bytes(hostile_report, fmt):
    from explain.report import render

    text = render(hostile_report, fmt)
    assert not [ch for ch in FORBIDDEN if ch in text]
    assert not any(0 < ord(ch) < 32 and ch not in "\n\t" or 0x7F <= ord(ch) <= 0x9F for ch in text)
    assert "clipboard" in text and "Reversed" in text  # the words are kept, only the controls go


def test_json_export_keeps_the_controls_escaped(hostile_report):
    from explain.report import render

    text = render(hostile_report, "json")
    assert not [ch for ch in FORBIDDEN if ch in text]
    assert [r["text"] for r in json.loads(text)["reviews"]] == HOSTILE  # escaped, not lost


def test_cli_exports_of_a_hostile_corpus_are_inert(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    f = tmp_path / "evil.csv"
    import csv

    with f.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["text", "stars"], *[[t, 2] for t in HOSTILE]])
    for suffix in ("csv", "html"):
        out = tmp_path / f"report.{suffix}"
        code, _, err = run_cli(
            monkeypatch, capsys, "report", "-m", tiny_bert_dir, "--file", f, "--text-col", "text",
            "--stars-col", "stars", "--no-cache", "-o", out,
        )  # fmt: skip
        assert code == 0, err
        data = out.read_bytes()
        assert b"\x1b" not in data and b"\x07" not in data
        decoded = data.decode("utf-8")
        assert "\x9b" not in decoded and "\u202e" not in decoded


# ---------------------------------------------------------------------------- 6. messages
def test_messages_say_what_is_wrong(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(monkeypatch, capsys, "batch", "nope.csv", "-m", tiny_bert_dir)
    one_line(code, err, "no such file", "nope.csv")
    code, _, err = run_cli(monkeypatch, capsys, "predict", "-m", tiny_bert_dir, "--file", tmp_path)
    one_line(code, err, "is a folder")
    code, _, err = run_cli(monkeypatch, capsys, "report", "-m", tiny_bert_dir, "great", "--no-cache", "-o", "r.xyz")
    one_line(code, err, ".xyz", ".html, .json or .csv")
    assert list(tmp_path.iterdir()) == []


def test_counts_are_what_this_run_computed(tiny_bert):
    """A concurrent run that stored a result first does not make this run's work vanish from its count."""
    from explain.corpus import run_corpus
    from explain.store import ExplanationStore

    texts = [f"review number {i} is fine" for i in range(6)]
    with ExplanationStore(":memory:") as store:
        real_put = store.put
        store.put = lambda key, result: real_put(key, result) and False  # as if another run got there first
        stats = run_corpus(tiny_bert, texts, ["occlusion"], store)
    assert (stats.computed, stats.raced, stats.cached, len(stats.failed)) == (6, 6, 0, 0)
    with ExplanationStore(":memory:") as store:
        stats = run_corpus(tiny_bert, texts, ["occlusion"], store)
        again = run_corpus(tiny_bert, texts, ["occlusion"], store)
    assert (stats.computed, stats.raced) == (6, 0) and (again.computed, again.cached) == (0, 6)


def test_the_dashboards_budget_boxes_carry_the_librarys_maximum(tiny_bert_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_dashboard import APP, REVIEW, TIMEOUT, submit

    from explain.classifier import Classifier
    from explain.methods import get_method
    from explain.methods.budget import budget_limit, window_share

    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    submit(at, REVIEW)
    at.session_state["attr_methods"] = ["lime"]
    at.switch_page("panels/attributions.py").run()
    assert not at.exception, at.exception
    box = at.number_input(key="attr_lime_num_samples")
    most = budget_limit(get_method("lime"), window_share(Classifier.from_pretrained(tiny_bert_dir), REVIEW))
    assert box.max == most and 1000 < most < 100_000 and box.value == 1000


def test_predict_json_prints_null_never_nan(monkeypatch, capsys, tmp_path, tiny_bert_dir):
    """A model whose weights are NaN (written by another tool) predicts NaN: the JSON says null, and parses."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir)
    with torch.no_grad():
        model.classifier.bias.fill_(float("nan"))
    model.save_pretrained(tmp_path / "nan")
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path / "nan")
    code, out, err = run_cli(monkeypatch, capsys, "predict", "-m", tmp_path / "nan", "--json", "great phone")
    assert code == 0, err
    assert "NaN" not in out
    row = json.loads(out)[0]
    assert set(row["probabilities"].values()) == {None} and row["expected_rating"] is None


def test_lime_streams_its_samples_to_the_engine(tiny_bert, monkeypatch):
    """LIME's masked texts reach the engine as a stream, read a chunk at a time, never as one list of them all."""
    import types

    real = tiny_bert.predict_proba
    received = []

    def recording(texts):
        received.append(texts)
        return real(texts)

    monkeypatch.setattr(tiny_bert, "predict_proba", recording)
    from explain import explain

    explain(tiny_bert, TWELVE_WORDS, "lime", num_samples=3000)
    streamed = [t for t in received if isinstance(t, types.GeneratorType)]
    assert len(streamed) == 1 and not [t for t in received if isinstance(t, list) and len(t) > 1]
