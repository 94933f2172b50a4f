import numpy as np
import pytest

from explain.data import parse_ground_truth, read_reviews_csv, stars_from_rating
from explain.errors import DataError, InputWarning


@pytest.mark.parametrize(
    "rating, stars",
    [(-4, 1), (-2.0, 1), (-1.99, 2), (-0.5, 2), (-0.49, 3), (0.49, 3), (0.5, 4), (1.99, 4), (2.0, 5), (4, 5)],
)
def test_star_cutoffs(rating, stars):
    assert stars_from_rating(rating) == stars


def test_parse_ground_truth_groups_sentences_by_review():
    raw = "12_3\t-2.5\tIt broke &amp; died.\r\n12_1\t1.2\tNice box.\r\n7\t3.0\tGreat!\r\nbad line\r\n"
    rows = parse_ground_truth(raw, "amazon")
    assert [(r.group, r.position, r.stars) for r in rows] == [
        ("amazon:12", 3, 1),
        ("amazon:12", 1, 4),
        ("amazon:7", 0, 5),
    ]
    assert rows[0].text == "It broke & died."


def test_read_reviews_csv(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text('review,stars\n"Great, really",5\n,3\nawful,1.0\n', encoding="utf-8")
    reviews = read_reviews_csv(f, "review", "stars")
    assert [(r.text, r.stars) for r in reviews] == [("Great, really", 5), ("awful", 1)]


def test_read_reviews_csv_errors(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("body,score\nhello,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'review'.*'body', 'score'"):
        read_reviews_csv(f, "review")
    with pytest.warns(InputWarning, match="not a number; they are kept without stars"):
        assert read_reviews_csv(f, "body", "score")[0].stars is None
    with pytest.raises(DataError, match="no such CSV"):
        read_reviews_csv(tmp_path / "missing.csv", "body")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataError, match="UTF-8"):
        read_reviews_csv(tmp_path / "bin.csv", "body")


def test_raters_votes_give_shares_and_how_sure_the_mean_is():
    from explain.raters import mean_star_chances, parse_votes, standard_error, star_shares

    votes = parse_votes("\ufeff1_1\t-0.9\t0.76811\t[0, -1, 0, -2, -3]\n1_2\t0.5\t0.1\t[1, 2]\nbroken line\n")
    assert votes == {"1_1": (0, -1, 0, -2, -3), "1_2": (1, 2)}
    assert star_shares(votes["1_1"]) == (0.4, 0.2, 0.4, 0.0, 0.0)
    assert standard_error([1, 1, 1]) == 0.0 and standard_error([3]) == 0.0
    far = mean_star_chances(3.5, 0.15)  # far above the 2.0 cut-off: sure of 5 stars
    near = mean_star_chances(2.0, 0.15)  # on the cut-off between 4 and 5 stars: split
    assert far[4] > 0.999 and abs(near[3] - near[4]) < 1e-9 and abs(sum(near) - 1) < 1e-9
    assert mean_star_chances(-1.0, 0.0) == (0.0, 1.0, 0.0, 0.0, 0.0)


def test_vader_sentences_carry_their_raters():
    from explain.data import vader_sentences

    sentences = vader_sentences(("amazon",))
    assert all(len(s.votes) >= 10 for s in sentences)
    close = [s for s in sentences if abs(sum(s.votes) / len(s.votes) - s.rating) < 0.01]
    assert len(close) > 0.95 * len(sentences)  # the raters' file is the ground truth's source


def test_default_training_examples_teach_whole_reviews_from_training_groups_only():
    from explain.data import stars_from_rating, vader_sentences
    from explain.default_model import PASSES, SENTENCES_PER_CORPUS, default_split, training_examples

    train, test = default_split()
    test_groups = {ex.group for ex in test}
    assert not test_groups & {ex.group for ex in train}  # grouped per review / editorial
    for corpus in ("amazon", "tweets", "movies", "nyt"):  # every corpus is held out in part
        assert any(g.startswith(corpus + ":") for g in test_groups)
    examples = training_examples(train)
    assert all(ex.group not in test_groups for ex in examples)
    assert all(abs(sum(ex.soft) - 1) < 1e-6 for ex in examples)
    sentence_texts = {ex.text for ex in train}
    passages = [ex for ex in examples if ex.text not in sentence_texts]
    assert len(passages) > 500 and {ex.group.split(":")[0] for ex in passages} == {"amazon", "nyt"}
    # a passage is consecutive sentences of one review, rated the mean of their human means
    by_group: dict[str, list] = {}
    for s in vader_sentences(("amazon", "nyt")):
        by_group.setdefault(s.group, []).append(s)
    for ex in passages[:50]:
        items = sorted(by_group[ex.group], key=lambda s: s.position)
        runs = [items[i:j] for i in range(len(items)) for j in range(i + 2, len(items) + 1)]
        match = next(r for r in runs if " ".join(s.text for s in r) == ex.text)
        assert ex.label == stars_from_rating(sum(s.rating for s in match) / len(match)) - 1
        assert int(np.argmax(ex.soft)) == ex.label or max(ex.soft) < 0.6  # unsure only near a cut-off
    n_amazon = sum(1 for ex in examples if ex.text in sentence_texts and ex.group.startswith("amazon:"))
    assert n_amazon == PASSES["amazon"] * sum(1 for ex in train if ex.group.startswith("amazon:"))
    n_movies = sum(1 for ex in examples if ex.group.startswith("movies:"))
    assert n_movies == SENTENCES_PER_CORPUS["movies"]
