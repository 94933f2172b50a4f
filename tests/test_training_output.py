"""`explain train --out`: never destroys user data; output problems are found before training (issue 14.1)."""

import json

import pytest
from fakes import run_cli

from explain import training
from explain.training import MODEL_MARKER


@pytest.fixture
def reviews_csv(tmp_path):
    f = tmp_path / "reviews.csv"
    f.write_text("text,stars\n" + "love it,5\nawful,1\n" * 6, encoding="utf-8")
    return f


def train_cli(monkeypatch, capsys, csv, base, out, *extra):
    return run_cli(
        monkeypatch,
        capsys,
        "train",
        "--data",
        csv,
        "--text-col",
        "text",
        "--stars-col",
        "stars",
        "--base",
        base,
        "--out",
        out,
        "--epochs",
        "1",
        "--test-fraction",
        "0.3",
        *extra,
    )


@pytest.fixture
def no_training(monkeypatch):
    """Refusals must come before any training: training now fails the test."""

    def boom(*args, **kwargs):
        raise AssertionError("training started although the output was refused")

    monkeypatch.setattr(training, "_train", boom)


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    assert "Traceback" not in err and err.lower().startswith("error:")
    assert len(err.strip().splitlines()) <= 2  # one line (rich may wrap a long path)
    for w in words:
        assert w in err, err


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_with_user_files_is_never_deleted(
    monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir, no_training
):
    mine = tmp_path / "thesis"
    (mine / "chapters").mkdir(parents=True)
    (mine / "notes.txt").write_text("years of work")
    (mine / "chapters" / "one.md").write_text("# One")
    before = snapshot(mine)
    for extra in ((), ("--overwrite",)):
        code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, mine, *extra)
        assert_one_line_error(code, err, "not a model written by review-explainer")
        assert snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.csv", "thesis"]  # no temp folders left


@pytest.mark.parametrize("empty", [False, True])
def test_out_dot_is_refused(monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir, no_training, empty):
    work = tmp_path / "work"
    work.mkdir()
    if not empty:
        (work / "data.csv").write_text("precious")
    monkeypatch.chdir(work)
    for out in (".", "..", str(work)):
        code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out, "--overwrite")
        assert_one_line_error(code, err, "current folder")
    assert (work / "data.csv").exists() != empty and work.exists()


def test_out_that_is_a_file_or_unwritable_fails_before_training(
    monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir, no_training
):
    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"keep me")
    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, a_file, "--overwrite")
    assert_one_line_error(code, err, "is a file")
    assert a_file.read_bytes() == b"keep me"
    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, a_file / "inside")
    assert_one_line_error(code, err, "cannot write the model")


def test_unwritable_parent_fails_before_training(
    monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir, no_training
):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, locked / "m")
        assert_one_line_error(code, err, "cannot write the model")
    finally:
        locked.chmod(0o700)


def test_own_model_replaced_only_with_overwrite(monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir):
    out = tmp_path / "m"
    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out)
    assert code == 0, err
    marker = json.loads((out / MODEL_MARKER).read_text())
    assert set(marker["files"]) == {p.name for p in out.iterdir()} - {MODEL_MARKER}
    assert "model.safetensors" in marker["files"] and "metrics.json" in marker["files"]
    first = snapshot(out)

    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out)
    assert_one_line_error(code, err, "--overwrite")
    assert snapshot(out) == first

    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out, "--overwrite", "--seed", "5")
    assert code == 0, err
    assert snapshot(out) != first and (out / MODEL_MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "reviews.csv"]

    (out / "my-notes.txt").write_text("mine")  # the user added a file: the folder is no longer only ours
    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out, "--overwrite")
    assert_one_line_error(code, err, "my-notes.txt")
    assert (out / "my-notes.txt").read_text() == "mine"


def test_an_empty_existing_folder_is_used(monkeypatch, capsys, tmp_path, reviews_csv, tiny_bert_dir):
    out = tmp_path / "empty"
    out.mkdir()
    code, _, err = train_cli(monkeypatch, capsys, reviews_csv, tiny_bert_dir, out)
    assert code == 0, err
    assert (out / "model.safetensors").exists()
