"""Faults a careless or hostile user can cause, each run through the real CLI in a subprocess.

Every probe must end with exit code 2 and exactly one line on standard error (no traceback), or, where
the fault is recoverable (blank rows, a damaged cache of ours), finish with one warning line per fault;
and nothing already stored may be lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
PROGRESS_BAR = re.compile(r"explain \[\w+\]:[^\n]*?(?:expl/s|s/expl)[^\]\n]*\]")
ESCAPES = "evil\x1b]0;PWNED\x07 title \x1b[2J\x1b[H clear \x1b]52;c;ZWNobw==\x07 clipboard \x9b31m c1 \x08\x7fend"


def cli(*args, env: dict | None = None, stdin: str | None = None, limit_fsize: int | None = None, timeout=600):
    """Run `python -m explain.cli ARGS` from the repository root; (exit code, stdout, stderr lines)."""
    full_env = os.environ | {"HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "COLUMNS": "200"} | (env or {})

    def limits() -> None:  # runs in the child: a small "disk" for the file-size fault
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    proc = subprocess.run(
        [sys.executable, "-m", "explain.cli", *map(str, args)],
        cwd=ROOT,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        preexec_fn=limits if limit_fsize else None,
    )
    messages = PROGRESS_BAR.sub("\n", proc.stderr.replace("\r", "\n"))  # the batch progress bar is not a message
    return proc.returncode, proc.stdout, [line for line in messages.splitlines() if line.strip()]


def assert_one_line_error(code: int, err: list[str], *fragments: str) -> str:
    assert code == 2, err
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and err[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM explanations").fetchone()[0]


# ---------------------------------------------------------------------------- models built here
@pytest.fixture(scope="module")
def head_probes(tmp_path_factory, tiny_bert_dir) -> dict[str, Path]:
    """A base BertModel (no head), a masked LM, a head of the wrong size and a malicious pickle."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel

    root = tmp_path_factory.mktemp("heads")
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)
    shape = dict(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(3)
    folders = {}
    for name, model in (
        ("base", BertModel(BertConfig(**shape))),
        ("mlm", BertForMaskedLM(BertConfig(**shape))),
        ("three_labels", BertForSequenceClassification(BertConfig(**shape, num_labels=3))),
    ):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        folders[name] = root / name
    # a 3-label head under a 5-label config
    mismatched = root / "mismatched"
    shutil.copytree(folders["three_labels"], mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    labels = {str(i): f"{i + 1} stars" for i in range(5)}
    config |= {"id2label": labels, "label2id": {v: int(k) for k, v in labels.items()}}
    (mismatched / "config.json").write_text(json.dumps(config))
    folders["mismatched"] = mismatched
    # pickle weights that would run a command if torch loaded them without weights_only
    evil = root / "evil"
    shutil.copytree(tiny_bert_dir, evil)
    (evil / "model.safetensors").unlink()
    marker = root / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, evil / "pytorch_model.bin")
    folders["evil"], folders["marker"] = evil, marker
    # a config of a model type that has no sequence-classification class
    vision = root / "vision"
    shutil.copytree(tiny_bert_dir, vision)
    (vision / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 32}))
    folders["vision"] = vision
    return folders


# ---------------------------------------------------------------------------- input files and values
def test_invalid_utf8_in_file(tiny_bert_dir, tmp_path):
    f = tmp_path / "reviews.txt"
    f.write_bytes(b"fine review\n\xff\xfe broken\n")
    code, _, err = cli("predict", "-m", tiny_bert_dir, "--file", f)
    assert_one_line_error(code, err, "reviews.txt:2", "not UTF-8")


def test_repeated_csv_header_names_the_column(tiny_bert_dir, tmp_path):
    f = tmp_path / "dup.csv"
    f.write_text("text,stars,text\nlove it,5,hate it\n", encoding="utf-8")
    code, _, err = cli("predict", "-m", tiny_bert_dir, "--file", f, "--text-col", "text")
    assert_one_line_error(code, err, "'text' more than once")


@pytest.mark.parametrize(
    "env, args, fragments",
    [
        ({"REVIEW_EXPLAINER_MAX_ROWS": "abc"}, ["predict", "hi"], ["REVIEW_EXPLAINER_MAX_ROWS='abc'"]),
        ({"REVIEW_EXPLAINER_MAX_CHARS": "0"}, ["predict", "hi"], ["at least 1"]),
        ({}, ["why", "hi", "--top", "-1"], ["--top", "usage:"]),
        ({"REVIEW_EXPLAINER_MAX_CHARS": "40"}, ["predict", "x" * 41], ["41 characters", "limit is 40"]),
        ({}, ["predict", "\u200b\u200d\ufeff"], ["no words"]),
        ({}, ["predict", "-", "\x00\x00\x01\x1b"], ["no words"]),  # NULs come on standard input
        ({}, ["why", "--method", "ig", "-", "\u200b\x00"], ["no words"]),
        ({}, ["trace", "\u200b\u2060"], ["no words"]),
    ],
)
def test_bad_values_are_one_line(tiny_bert_dir, env, args, fragments):
    stdin = args.pop() if "-" in args else None
    code, _, err = cli(*args[:1], "-m", tiny_bert_dir, *args[1:], env=env, stdin=stdin)
    assert_one_line_error(code, err, *fragments)


def test_blank_rows_and_bad_stars_are_counted_and_kept_out(tiny_bert_dir, tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("text,stars\nlove it,5\n,3\n  ,2\ngreat,inf\nok,nan\nawful,1\n", encoding="utf-8")
    out_file = tmp_path / "r.json"
    code, _, err = cli(
        "report", "-m", tiny_bert_dir, "--file", f, "--text-col", "text", "--stars-col", "stars",
        "--no-cache", "-o", out_file, "--methods", "occlusion",
    )  # fmt: skip
    assert code == 0, err
    warnings = [line for line in err if line.startswith("warning:")]
    assert any("2 row(s) had blank text" in w and "line 3, 4" in w for w in warnings), err
    assert any("2 row(s) have stars that are not a finite number" in w and "5 (inf), 6 (nan)" in w for w in warnings)
    assert not any("Traceback" in line for line in err)
    report = json.loads(out_file.read_text())
    assert len(report["reviews"]) == 4  # blank rows skipped, bad-stars rows explained
    given = [r.get("stars") for r in report["reviews"]]
    assert given == [5, None, None, 1]


def test_train_leaves_rows_with_bad_stars_out_with_a_warning(tmp_path, tiny_bert_dir):
    f = tmp_path / "r.csv"
    good = "".join(f"review {i} text,{i % 5 + 1}\n" for i in range(8))
    f.write_text(f"text,stars\n{good}meh,inf\nhm,abc\nugh,7\n", encoding="utf-8")
    code, _, err = cli(
        "train", "--data", f, "--text-col", "text", "--stars-col", "stars", "--out", tmp_path / "m",
        "--base", tiny_bert_dir, "--epochs", "1", "--test-fraction", "0", "--validation-fraction", "0",
    )  # fmt: skip
    assert code == 0, err
    warnings = [line for line in err if line.startswith("warning:")]
    assert any("not a finite number" in w and "10 (inf)" in w for w in warnings), err
    assert any("not a number" in w and "11 (abc)" in w for w in warnings), err
    assert any("3 row(s) without stars from 1 to 5 are left out of training" in w for w in warnings), err
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["training"]


# ---------------------------------------------------------------------------- models
@pytest.mark.parametrize("probe", ["base", "mlm"])
def test_untrained_head_is_refused_with_the_missing_weights(head_probes, probe):
    code, _, err = cli("predict", "-m", head_probes[probe], "great")
    line = assert_one_line_error(code, err, "classifier.weight", "--allow-untrained-head")
    if probe == "mlm":
        assert "bert.pooler.dense.weight" in line


def test_untrained_head_allowed_warns_on_every_output(head_probes):
    code, out, err = cli("predict", "-m", head_probes["base"], "--allow-untrained-head", "--json", "great", "bad")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 2 and all("untrained classification head" in r["warning"] for r in rows)
    assert sum("untrained classification head" in line for line in err) == 2  # at load, and after the output
    code, out, err = cli("why", "-m", head_probes["base"], "--allow-untrained-head", "--method", "occlusion", "great")
    assert code == 0 and any("untrained classification head" in line for line in err)


def test_mismatched_head_is_refused(head_probes):
    code, _, err = cli("predict", "-m", head_probes["mismatched"], "great")
    assert_one_line_error(code, err, "size mismatch")


def test_malicious_pickle_is_refused_in_one_line(head_probes):
    code, _, err = cli("predict", "-m", head_probes["evil"], "great")
    assert_one_line_error(code, err, "pickle", "posix.system")
    assert not head_probes["marker"].exists()


def test_not_a_classifier_error_is_short(head_probes):
    code, _, err = cli("predict", "-m", head_probes["vision"], "great")
    line = assert_one_line_error(code, err, "not a sequence-classification checkpoint")
    assert len(line) < 400 and "AlbertConfig" not in line


# ---------------------------------------------------------------------------- terminal output
@pytest.mark.parametrize("command", [["predict"], ["why", "--method", "occlusion"], ["trace"]])
def test_no_terminal_escapes_reach_stdout(tiny_bert_dir, command):
    code, out, err = cli(*command, "-m", tiny_bert_dir, ESCAPES)
    assert code == 0, err
    for bad in ("\x1b", "\x07", "\x9b", "\x08", "\x7f"):  # the printable rest of a sequence is harmless text
        assert bad not in out
    assert "clipboard" in out


def test_predict_json_is_streamed_one_row_per_line(tiny_bert_dir):
    texts = [f"review number {i} {ESCAPES}" for i in range(600)]
    code, out, err = cli("predict", "-m", tiny_bert_dir, "--json", stdin="\n".join(texts))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 602  # a row per line, written as computed
    rows = json.loads(out)
    assert [r["text"] for r in rows] == texts  # escaped in JSON, not lost
    assert "\x1b" not in out and "\x9b" not in out


# ---------------------------------------------------------------------------- outputs and the cache
def test_unwritable_outputs_fail_before_the_work(tiny_bert_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, _, err = cli("why", "-m", tiny_bert_dir, "great", "--html", blocker / "why.html")
    assert_one_line_error(code, err, "does not exist")
    code, _, err = cli("report", "-m", tiny_bert_dir, "great", "--no-cache", "-o", tmp_path)
    assert_one_line_error(code, err, "is a folder")
    code, _, err = cli("batch", tmp_path / "none.txt", "-m", tiny_bert_dir, "--cache", blocker / "c.sqlite")
    assert_one_line_error(code, err)


def _batch(tiny_bert_dir, tmp_path, texts, cache, **kwargs):
    f = tmp_path / "reviews.txt"
    f.write_text("\n".join(texts), encoding="utf-8")
    return cli("batch", f, "-m", tiny_bert_dir, "--methods", "attention", "--cache", cache, **kwargs)


def test_foreign_sqlite_file_is_refused_untouched(tiny_bert_dir, tmp_path):
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    before = sha(foreign)
    code, _, err = _batch(tiny_bert_dir, tmp_path, ["great"], foreign)
    assert_one_line_error(code, err, "another program", "users", "left untouched")
    assert sha(foreign) == before and sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "reviews.txt"]


def test_damaged_cache_is_set_aside_and_a_new_one_started(tiny_bert_dir, tmp_path):
    cache = tmp_path / "c.sqlite"
    texts = [f"review {i}: " + "great value but terrible support " * 15 for i in range(40)]
    code, _, err = _batch(tiny_bert_dir, tmp_path, texts, cache)
    assert code == 0, err
    assert stored_rows(cache) == 40
    data = bytearray(cache.read_bytes())
    assert data[:16] == b"SQLite format 3\x00" and len(data) > 8 * 4096
    data[4 * 4096 : 7 * 4096] = b"\x55" * (3 * 4096)  # pages damaged, header intact
    cache.write_bytes(bytes(data))
    damaged = sha(cache)
    code, _, err = _batch(tiny_bert_dir, tmp_path, texts[:3], cache)
    assert code == 0, err
    notes = [line for line in err if "was damaged" in line]
    assert len(notes) == 1 and notes[0].startswith("warning:") and "moved to" in notes[0], err
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("c.sqlite.damaged-") and p.suffix != "-wal"]
    assert [sha(p) for p in aside if not p.name.endswith(("-wal", "-shm"))] == [damaged]  # kept, byte for byte
    assert stored_rows(cache) == 3


def test_damaged_file_of_unknown_origin_is_left_alone(tiny_bert_dir, tmp_path):
    cache = tmp_path / "c.sqlite"
    with sqlite3.connect(cache) as db:
        db.execute("CREATE TABLE explanations (a)")
    data = bytearray(cache.read_bytes())
    data[100:4096] = b"\x99" * (4096 - 100)  # the schema page itself
    cache.write_bytes(bytes(data))
    before = sha(cache)
    code, _, err = _batch(tiny_bert_dir, tmp_path, ["great"], cache)
    assert_one_line_error(code, err, "damaged SQLite file", "left untouched")
    assert sha(cache) == before


def test_full_disk_names_the_cache_and_keeps_what_was_committed(tiny_bert_dir, tmp_path):
    cache = tmp_path / "c.sqlite"
    texts = [f"review {i}: " + "the screen is sharp and bright " * 15 for i in range(60)]
    code, _, err = _batch(tiny_bert_dir, tmp_path, texts[:5], cache)
    assert code == 0 and stored_rows(cache) == 5
    wal = Path(f"{cache}-wal")
    size = max(cache.stat().st_size, wal.stat().st_size if wal.exists() else 0)
    code, _, err = _batch(tiny_bert_dir, tmp_path, texts, cache, limit_fsize=max(size, 64 * 1024) + 96 * 1024)
    assert_one_line_error(code, err, str(cache), "is the disk full", "run the same command again")
    kept = stored_rows(cache)
    assert 5 < kept < 60
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    code, _, err = _batch(tiny_bert_dir, tmp_path, texts, cache)
    assert code == 0, err
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT text_hash) FROM explanations").fetchone() == (60, 60)


def test_batch_skips_oversized_and_empty_rows_and_goes_on(tiny_bert_dir, tmp_path):
    cache = tmp_path / "c.sqlite"
    texts = ["great phone", "y" * 200, "\u200b\u200b", "awful phone"]
    code, out, err = _batch(tiny_bert_dir, tmp_path, texts, cache, env={"REVIEW_EXPLAINER_MAX_CHARS": "100"})
    assert code == 0, err
    skipped = [line for line in err if line.startswith("skipped:")]
    assert len(skipped) == 2 and "review 2 has 200 characters" in skipped[0] and "review 3 has no words" in skipped[1]
    assert stored_rows(cache) == 2


# ---------------------------------------------------------------------------- the dashboard process
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dashboard_stops_its_streamlit_child(sig, tmp_path):
    import psutil

    port = _free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "REVIEW_EXPLAINER_MAX_UPLOAD_MB": "3"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "explain.cli", "dashboard", "--port", str(port), "--address", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _serving(port) and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.5)
        assert _serving(port), "the dashboard never started serving"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children and any("dashboard/serve.py" in " ".join(c.cmdline()) for c in children)  # Streamlit's CLI
        assert any("--server.maxUploadSize" in c.cmdline() and "3" in c.cmdline() for c in children)
        parent.send_signal(sig)
        parent.wait(timeout=30)
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive and not _serving(port)
        assert parent.returncode == 128 + sig
    finally:
        for p in [parent]:
            if p.poll() is None:
                p.kill()


# ---------------------------------------------------------------------------- the helpers, in process
@pytest.mark.parametrize(
    "raw, shown",
    [
        ("ok\x1b]0;retitled\x07 text", "ok text"),
        ("a\x1b[2J\x1b[Hb", "ab"),
        ("copy\x1b]52;c;ZWNobw==\x1b\\ done", "copy done"),
        ("n\x00u\x9b31ml\tx\ny", "nul\tx\ny"),
        ("r\u202eevil", "revil"),
        ("plain [red] text", "plain [red] text"),
    ],
)
def test_printable_removes_escape_sequences_and_controls(raw, shown):
    from explain.render.terminal import printable

    assert printable(raw) == shown


def test_check_text_refuses_texts_without_words(monkeypatch):
    from explain.errors import EmptyTextError, InputTooLargeError
    from explain.limits import check_text

    for empty in ("", "   ", "\u200b\u200c\u200d\ufeff", "\x00\x01", "\u0301\u0301"):
        with pytest.raises(EmptyTextError):
            check_text(empty)
    assert check_text("ok \u200b") == "ok \u200b"
    monkeypatch.setenv("REVIEW_EXPLAINER_MAX_CHARS", "5")
    with pytest.raises(InputTooLargeError, match="review 3 has 6 characters; the limit is 5"):
        check_text("abcdef", 2)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only file")
def test_a_healthy_read_only_cache_is_not_called_damaged(tmp_path):
    from explain.errors import StoreError
    from explain.store import ExplanationStore

    cache = tmp_path / "c.sqlite"
    ExplanationStore(cache).close()
    cache.chmod(0o444)
    with pytest.raises(StoreError, match="read-only") as caught:
        ExplanationStore(cache)
    assert "delete" not in str(caught.value)
