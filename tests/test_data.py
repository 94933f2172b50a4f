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
