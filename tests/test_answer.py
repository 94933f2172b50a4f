"""The one-line answer (explain.answer): rating, close-call flag, consensus words, method and time."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest

from explain.answer import answer
from explain.classifier import Classifier
from explain.methods import explain
from explain.metrics.consensus import CLOSE_CALL, close_call
from explain.metrics.effects import at_most, signed_amount

LABELS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")


def near_ties(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n probability vectors whose top two labels are within the margin, and n whose are not."""
    rng = np.random.default_rng(seed)
    tied, clear = [], []
    while len(tied) < n or len(clear) < n:
        p = rng.dirichlet(np.ones(5))
        top = np.sort(p)[::-1]
        gap = top[0] - top[1]
        if gap <= CLOSE_CALL and len(tied) < n:
            tied.append(p)
        elif gap > CLOSE_CALL + 1e-9 and len(clear) < n:
            clear.append(p)
    return np.array(tied), np.array(clear)


def test_close_calls_are_flagged_in_every_near_tie():
    tied, clear = near_ties(300)
    assert all(close_call(p, LABELS) for p in tied)  # 100 % of near ties flagged
    assert not any(close_call(p, LABELS) for p in clear)


def test_the_answer_line_says_rating_close_call_words_and_method(tiny_bert):
    text = "I hate very cold, and cloudy winter days"
    occlusion = explain(tiny_bert, text, method="occlusion")
    ig = explain(tiny_bert, text, method="ig", n_steps=8)
    probs = tiny_bert.predict_proba([text])[0]
    a = answer([occlusion, ig], tiny_bert.rating_unit)
    assert a.predicted == int(probs.argmax())
    assert a.expected == pytest.approx(float(probs @ np.arange(1, 6)))
    line = a.sentence()
    assert line.startswith(f"{LABELS[a.predicted]} ({a.expected:.1f} stars expected) · ")
    seconds = occlusion.diagnostics["seconds"] + ig.diagnostics["seconds"]
    assert line.endswith(f" · occlusion, ig, {seconds:.2f} s")
    assert (a.close_call is not None) == ("close call" in line)
    assert "close call" not in a.words  # said once, as the flag
    said = ("lowered the rating", "raised the rating", "disagree", "no single word moves")
    assert any(s in a.words for s in said)


def test_a_close_call_is_the_line_s_flag(tiny_bert):
    text = "fine"
    exp = explain(tiny_bert, text, method="occlusion")
    tied = np.array([0.30, 0.02, 0.03, 0.32, 0.33])
    a = answer([replace(exp, probabilities=tied)], "stars")
    assert a.close_call == "close call: 5 stars 0.33 nearly tied with 4 stars 0.32"
    assert a.sentence().startswith("5 stars (3.4 stars expected) · close call: 5 stars 0.33 nearly tied")


def test_one_method_is_not_repeated_in_the_words(tiny_bert):
    """With one method there is no agreement to count, and the method is named once, at the line's end."""
    exp = explain(tiny_bert, "I hate very cold, and cloudy winter days", method="occlusion")
    a = answer([exp], tiny_bert.rating_unit)
    assert "occlusion" not in a.words and " of 1 " not in a.words
    assert a.sentence().endswith(f" · occlusion, {exp.diagnostics['seconds']:.2f} s")


# ---------------------------------------------------------------- the noise floor, on a model with a known answer
class LexiconClassifier(Classifier):
    """A model whose answer is known: the expected rating is 1 + 4 * sigmoid(bias + the weights of the words
    present), spread over the two nearest star labels. A bias of 6 saturates it near 5 stars, where removing
    any one word moves the rating by a few hundredths of a star at most."""

    def __init__(self, model, tokenizer, weights: dict[str, float], bias: float):
        super().__init__(model, tokenizer, name="lexicon")
        self.weights, self.bias = weights, bias

    def rating(self, text: str) -> float:
        found = re.findall(r"\w+", text.lower())
        z = self.bias + sum(self.weights.get(w, 0.0) for w in found)
        return 1 + 4 / (1 + math.exp(-z))

    def predict_proba(self, texts):
        texts = list(texts)
        self.texts_evaluated += len(texts)
        out = np.zeros((len(texts), 5))
        for row, text in enumerate(texts):
            r = self.rating(text) - 1  # 0..4: between label floor(r) and the next one
            low = min(int(r), 3)
            out[row, low], out[row, low + 1] = low + 1 - r, r - low
        return out


def lexicon(tiny_bert, weights, bias) -> LexiconClassifier:
    return LexiconClassifier(tiny_bert.model, tiny_bert.tokenizer, weights, bias)


def removal(clf: LexiconClassifier, text: str, word: str) -> float:
    """The rating's drop without `word` (the benchmark's check, by hand)."""
    return clf.rating(text) - clf.rating(re.sub(rf"\b{word}\b", "", text, flags=re.IGNORECASE))


SATURATED = "Absolutely perfect, best purchase ever and it works flawlessly."


def test_a_saturated_rating_names_no_word(tiny_bert):
    """At 4.99 stars every word moves the rating by less than the 0.05-star floor: the line says so, and names
    nothing, although occlusion's scores have signs (noise-sized ones)."""
    clf = lexicon(tiny_bert, {"perfect": 1.0, "best": 0.7, "flawlessly": 0.5, "absolutely": 0.3}, bias=3.0)
    exp = explain(clf, SATURATED, method="occlusion")
    assert clf.rating(SATURATED) > 4.8
    biggest = max(abs(removal(clf, SATURATED, w)) for w in ("perfect", "best", "flawlessly", "absolutely"))
    assert 0.001 < biggest < 0.05
    assert np.abs(exp.word_scores).max() == pytest.approx(biggest, abs=1e-9)  # occlusion sees these tiny effects
    a = answer([exp], clf.rating_unit)
    assert a.named == () and a.floor == pytest.approx(0.05) and a.checked
    assert a.words == (
        f"no single word moves this {clf.rating(SATURATED):.1f}-star rating by more than "
        f"{at_most(biggest, 'stars')} (the floor is 0.05 stars); the whole review does"
    )


def test_an_ordinary_review_names_each_word_with_its_effect_in_stars(tiny_bert):
    """A word that moves the rating is named, quoted, with its effect; stopwords never are (even with an
    effect), negations are; a word below the floor is not."""
    weights = {"died": -2.0, "not": -1.0, "the": -1.5, "nice": 0.8, "box": 0.01}
    clf = lexicon(tiny_bert, weights, bias=4.0)
    text = "The battery died, the box is nice but not sturdy."
    exp = explain(clf, text, method="occlusion")
    a = answer([exp], clf.rating_unit)
    named = dict(a.named)
    assert set(named) == {"died", "not", "nice"}  # "the" moves it too, but is a stopword; "box" is below the floor
    for word, effect in a.named:
        assert effect == pytest.approx(removal(clf, text, word), abs=1e-6)  # occlusion alone: its removal effect
    assert [w for w, _ in a.named] == ["died", "not", "nice"]  # lowered first, each most important first
    assert a.words == (
        f'"died" ({signed_amount(named["died"], "stars")}) and "not" ({signed_amount(named["not"], "stars")}) '
        f'lowered the rating; "nice" ({signed_amount(named["nice"], "stars")}) raised the rating'
    )
    assert all(exp.words[i] == w for i, (w, _) in zip(a.named_at, a.named, strict=True))


def test_methods_that_disagree_name_nothing_and_say_so(tiny_bert):
    clf = lexicon(tiny_bert, {"died": -2.0}, bias=1.0)
    text = "The battery died after two days."
    occ = explain(clf, text, method="occlusion")
    flipped = replace(occ, method="shap", word_scores=-occ.word_scores, token_scores=-occ.token_scores)
    a = answer([occ, flipped], clf.rating_unit)
    assert a.named == ()
    assert a.words == 'methods disagree on "died"'


def test_a_method_whose_sign_removal_contradicts_is_never_trusted(tiny_bert):
    """Two methods agree that "died" raised the rating, but removing it raises the rating: not named."""
    clf = lexicon(tiny_bert, {"died": -2.0}, bias=1.0)
    text = "The battery died after two days."
    occ = explain(clf, text, method="occlusion")
    wrong = [
        replace(occ, method=m, word_scores=-occ.word_scores, token_scores=-occ.token_scores) for m in ("shap", "lime")
    ]
    a = answer(wrong, clf.rating_unit, classifier=clf)  # removal effects measured with the model
    assert a.checked and a.named == ()
    assert a.words == 'methods disagree on "died"'
    unchecked = answer(wrong, clf.rating_unit)  # nothing to check against: the methods' word is taken
    assert not unchecked.checked and [w for w, _ in unchecked.named] == ["died"]


def test_the_effect_shown_is_the_methods_mean_and_agrees_with_removal(tiny_bert):
    clf = lexicon(tiny_bert, {"died": -2.0, "great": 1.0}, bias=0.5)
    text = "Great screen, but the battery died."
    occ = explain(clf, text, method="occlusion")
    half = replace(occ, method="shap", word_scores=occ.word_scores / 2, token_scores=occ.token_scores / 2)
    a = answer([occ, half], clf.rating_unit, classifier=clf)
    for (word, effect), i in zip(a.named, a.named_at, strict=True):
        assert effect == pytest.approx(0.75 * occ.word_scores[i])
        assert np.sign(effect) == np.sign(removal(clf, text, word))
    assert {w for w, _ in a.named} == {"died", "Great"}


def test_a_class_question_uses_a_probability_floor(tiny_bert):
    clf = lexicon(tiny_bert, {"perfect": 1.0}, bias=6.0)
    exp = explain(clf, "Perfect phone.", method="occlusion", target="5 stars")
    a = answer([exp], clf.rating_unit)
    assert a.unit == "probability" and a.floor == pytest.approx(0.01) and a.named == ()
    assert a.words.startswith("no single word moves the probability of 5 stars (")


def test_explain_why_prints_the_rule_s_line_for_one_method(monkeypatch, capsys, tiny_bert_dir):
    """The CLI shows the same line as the library, for one method too (the random tiny model moves nothing)."""
    from fakes import run_cli

    code, out, _ = run_cli(
        monkeypatch, capsys, "why", "-m", tiny_bert_dir, "Great phone, awful battery", "--method", "occlusion"
    )
    clf = Classifier.from_pretrained(tiny_bert_dir)
    expected = answer([explain(clf, "Great phone, awful battery", method="occlusion")], clf.rating_unit).words
    assert code == 0 and f"Answer: {expected}" in " ".join(out.split())


def test_a_repeated_word_is_named_once(tiny_bert):
    clf = lexicon(tiny_bert, {"died": -1.5}, bias=2.0)
    text = "It died. Then it died again, and the new one died too."
    a = answer([explain(clf, text, method="occlusion")], clf.rating_unit)
    assert [w for w, _ in a.named] == ["died"] and a.words.count('"died"') == 1
