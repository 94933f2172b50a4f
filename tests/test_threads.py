"""One Classifier shared by threads: the same probabilities, alignments and diagnostics as one thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from explain import explain

TEXTS = [
    "I really loved that movie",
    "I hate very cold, and cloudy winter days",
    "The battery died after two days and support never answered my emails. " * 3,
    "ok",
    "Great sound, terrible price!",
]


def test_threads_sharing_a_classifier_get_the_single_thread_results(tiny_bert):
    expected = {t: tiny_bert.predict_proba([t])[0] for t in TEXTS}
    words = {t: tiny_bert.align(t).words for t in TEXTS}
    wrong: list[str] = []
    start = threading.Barrier(8)

    def predict(worker: int) -> None:
        start.wait()
        for i in range(40):
            batch = [TEXTS[(worker + i + k) % len(TEXTS)] for k in range(3)]
            for text, p in zip(batch, tiny_bert.predict_proba(batch), strict=True):
                if not np.allclose(p, expected[text], atol=1e-5):
                    wrong.append(f"predict {text[:20]!r}")

    def aligner(worker: int) -> None:
        start.wait()
        for i in range(40):
            text = TEXTS[(worker + i) % len(TEXTS)]
            if tiny_bert.align(text).words != words[text]:
                wrong.append(f"align {text[:20]!r}")
            tiny_bert.tokenize([text, "x"])  # padding on: the state that used to leak into predictions

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda w: (predict if w % 2 else aligner)(w), range(8)))
    assert wrong == []


def test_diagnostics_count_only_their_own_thread(tiny_bert):
    alone = explain(tiny_bert, TEXTS[1], method="occlusion").diagnostics["model_evaluations"]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: explain(tiny_bert, TEXTS[1], method="occlusion"), range(8)))
    assert [e.diagnostics["model_evaluations"] for e in found] == [alone] * 8
