import json

import numpy as np
import pytest

from explain.explanation import Explanation, aggregate, spread
from explain.words import Alignment

ALIGN = Alignment(
    tokens=("[CLS]", "cloud", "##y", "day", "[SEP]"),
    token_offsets=((0, 0), (0, 5), (5, 6), (7, 10), (0, 0)),
    special=(True, False, False, False, True),
    words=("cloudy", "day"),
    word_offsets=((0, 6), (7, 10)),
    token_to_word=(-1, 0, 0, 1, -1),
)
LABELS = ("1 star", "2 stars", "3 stars")


def make(**overrides) -> Explanation:
    values = dict(
        text="cloudy day",
        model="m",
        method="x",
        labels=LABELS,
        target=0,
        probabilities=np.array([0.5, 0.3, 0.2]),
        alignment=ALIGN,
        token_scores=np.array([0.0, 0.2, 0.1, -0.4, 0.0]),
        word_scores=np.array([0.3, -0.4]),
    )
    values.update(overrides)
    return Explanation(**values)


def test_aggregation_strategies():
    tok = np.array([0.0, 0.2, -0.5, 0.4, 0.0])
    np.testing.assert_allclose(aggregate(tok, ALIGN.token_to_word, 2, "sum"), [-0.3, 0.4])
    np.testing.assert_allclose(aggregate(tok, ALIGN.token_to_word, 2, "mean"), [-0.15, 0.4])
    np.testing.assert_allclose(aggregate(tok, ALIGN.token_to_word, 2, "absmax"), [-0.5, 0.4])


def test_spread_keeps_word_sums():
    words = np.array([0.3, -0.4])
    tok = spread(words, ALIGN.token_to_word)
    np.testing.assert_allclose(tok, [0, 0.15, 0.15, -0.4, 0])
    np.testing.assert_allclose(aggregate(tok, ALIGN.token_to_word, 2, "sum"), words)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"token_scores": np.zeros(4)}, "token_scores has shape"),
        ({"word_scores": np.zeros(3)}, "word_scores has shape"),
        ({"probabilities": np.ones(2)}, "probabilities has shape"),
        ({"target": 5}, "target 5"),
        ({"contrast": 0}, "contrast 0"),
        ({"word_scores": np.array([np.nan, 0.0])}, "NaN"),
        ({"label_token_scores": np.zeros((5, 2))}, "label_token_scores"),
    ],
)
def test_inconsistent_explanations_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        make(**bad)


def test_scores_are_read_only_and_inputs_not_aliased():
    scores = np.array([0.3, -0.4])
    exp = make(word_scores=scores)
    scores[0] = 99.0
    assert exp.word_scores[0] == 0.3
    with pytest.raises(ValueError):
        exp.word_scores[0] = 1.0


def test_for_label_and_contrast_from_label_scores():
    lts = np.array([[0, 0, 0], [0.2, 0.1, 0.0], [0.1, 0.0, 0.3], [-0.4, 0.2, 0.1], [0, 0, 0]])
    exp = make(label_token_scores=lts, token_scores=lts[:, 0], word_scores=[0.3, -0.4])
    other = exp.for_label(1, contrast=2)
    np.testing.assert_allclose(other.word_scores, [0.1 - 0.3, 0.2 - 0.1])
    assert other.question == "why 2 stars rather than 3 stars"
    with pytest.raises(ValueError, match="scored only"):
        make().for_label(1)


def test_json_round_trip_and_top_words():
    exp = make(diagnostics={"seconds": np.float32(0.5), "curve": np.arange(3)}, params={"n": 3})
    data = json.loads(json.dumps(exp.to_dict()))
    back = Explanation.from_dict(data)
    assert back.to_dict() == data
    assert exp.top_words(1) == [("day", -0.4)]
    assert exp.top_words(1, positive=True) == [("cloudy", 0.3)]
