import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from explain.classifier import Classifier
from explain.errors import UserError
from explain.methods import explain
from explain.store import ExplanationStore, StoreError, cached_explain, fingerprint, make_key


def test_fingerprint_same_weights_same_value_across_loads(tiny_bert, tiny_bert_dir, tiny_distilbert):
    again = Classifier.from_pretrained(tiny_bert_dir)
    again.predict_proba(["tokenizer state changes after a call"])
    assert fingerprint(again) == fingerprint(tiny_bert)
    assert fingerprint(tiny_distilbert) != fingerprint(tiny_bert)


def test_fingerprint_changes_with_one_weight(tiny_bert_dir):
    clf = Classifier.from_pretrained(tiny_bert_dir)
    before = fingerprint(clf)
    changed = Classifier.from_pretrained(tiny_bert_dir)
    with torch.no_grad():
        changed.model.classifier.bias[0] += 1e-6
    assert fingerprint(changed) != before


def test_key_fills_defaults_and_resolves_aliases(tiny_bert):
    base = make_key(tiny_bert, "good", "occlusion")
    assert make_key(tiny_bert, "good", "loo", {"mode": "delete"}) == base
    assert make_key(tiny_bert, "good", "occlusion", {"mode": "mask"}) != base
    assert make_key(tiny_bert, "good", "occlusion", target="2 stars") != base
    assert make_key(tiny_bert, "good", "occlusion", target="2 stars").target == 1
    assert make_key(tiny_bert, "good!", "occlusion").text_hash != base.text_hash
    with pytest.raises(UserError, match="no parameter"):
        make_key(tiny_bert, "good", "occlusion", {"modes": "mask"})


def test_put_get_round_trip_and_no_duplicates(tiny_bert, tmp_path):
    path = tmp_path / "c.sqlite"
    exp = explain(tiny_bert, "The battery died fast.", method="occlusion")
    key = make_key(tiny_bert, exp.text, "occlusion")
    with ExplanationStore(path) as store:
        assert store.get(key) is None and key not in store
        assert store.put(key, exp) is True
        assert store.put(key, exp) is False
        assert len(store) == 1
    with ExplanationStore(path) as reopened:  # persisted
        got = reopened.get(key)
        assert np.allclose(got.word_scores, exp.word_scores) and got.words == exp.words
        assert np.allclose(got.probabilities, exp.probabilities)
        assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_hit_makes_no_model_calls(tiny_bert, tmp_path):
    with ExplanationStore(tmp_path / "c.sqlite") as store:
        first = cached_explain(store, tiny_bert, "Great sound, terrible price!", "occlusion")
        calls = tiny_bert.texts_evaluated
        assert calls > 0
        second = cached_explain(store, tiny_bert, "Great sound, terrible price!", "occlusion")
        assert tiny_bert.texts_evaluated == calls
        assert np.array_equal(second.word_scores, first.word_scores)
        cached_explain(store, tiny_bert, "Great sound, terrible price!", "occlusion", mode="mask")
        assert tiny_bert.texts_evaluated > calls  # other parameters: a miss
        assert len(store) == 2


def test_not_a_database_is_a_user_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable explanation cache"):
        ExplanationStore(bad)
    with pytest.raises(StoreError, match="does not exist"):
        ExplanationStore(tmp_path / "missing" / "c.sqlite")


WRITER = textwrap.dedent("""
    import sys
    from explain.store import ExplanationStore, StoreKey
    store = ExplanationStore(sys.argv[1], timeout=60)
    offset = int(sys.argv[2])
    for i in range(offset, offset + 150):
        store.put(StoreKey("m", "occlusion", "{}", -1, -1, f"h{i:04d}"), {"i": i, "pad": "x" * 2000})
""")


def test_concurrent_writers_do_not_corrupt_or_duplicate(tmp_path):
    path = tmp_path / "c.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(offset)]) for offset in (0, 100, 50)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with ExplanationStore(path) as store:
        assert store.integrity() == "ok"
        rows = list(store.rows())
        assert len(rows) == len(store) == 250  # keys 0..249, overlapping ranges stored once
        assert sorted(k.text_hash for k, _ in rows) == [f"h{i:04d}" for i in range(250)]
        assert all(payload["i"] == int(k.text_hash[1:]) for k, payload in rows)
