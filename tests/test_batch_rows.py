"""Reading a review table that keeps every column and reports bad rows; top content words; surprise."""

from __future__ import annotations

import pytest

from explain.corpus import STOPWORDS, content_top_words, stars_surprise
from explain.data import csv_header, read_review_rows
from explain.errors import DataError
from explain.methods import explain


def test_every_column_is_kept_and_bad_rows_are_reported():
    data = b'id, text ,stars,shop\n1,"Good, fast",5,x\n2,,3,y\n3,Broke,five,z\n4,"Fine\nreally",4.4,w\n'
    columns, rows = read_review_rows(data, "text", "stars")
    assert columns == ["id", "text", "stars", "shop"]
    assert [r.row for r in rows] == [1, 2, 3, 4]
    assert rows[0].cells == {"id": "1", "text": "Good, fast", "stars": "5", "shop": "x"}
    assert rows[0].review.stars == 5 and rows[0].problem is None
    assert rows[1].review is None and rows[1].problem == "row 2: no text in 'text'; skipped"
    assert rows[2].review.text == "Broke" and rows[2].review.stars is None
    assert "row 3: stars value 'five' is not a number" in rows[2].problem
    assert rows[3].review.text == "Fine\nreally" and rows[3].review.stars is None  # 4.4 is not a whole star
    assert "stars value '4.4' is not a whole number of stars from 1 to 5" in rows[3].problem


def test_unreadable_tables_say_why():
    with pytest.raises(DataError, match="not UTF-8"):
        csv_header("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="no header row"):
        csv_header(b"")
    with pytest.raises(DataError, match="no column 'review'"):
        read_review_rows(b"text\nfine\n", "review")
    with pytest.raises(DataError, match="no non-empty text"):
        read_review_rows(b"text,stars\n,3\n", "text", "stars")


def test_content_top_words_skip_punctuation_and_stopwords_but_keep_negations(tiny_bert):
    exp = explain(tiny_bert, "I did not like it, and the screen is very dim!", method="occlusion")
    words = [w for w, _ in content_top_words(exp, k=20)]
    assert words and not {",", "!"} & set(words)
    assert not {w.lower() for w in words} & STOPWORDS
    assert "not" in words  # negations flip stars: never a stopword
    everything = [w for w, _ in content_top_words(exp, k=20, skip_stopwords=False)]
    assert {"I", "the"} <= set(everything) and "," not in everything
    scores = [abs(s) for _, s in content_top_words(exp, k=20, skip_stopwords=False)]
    assert scores == sorted(scores, reverse=True)


def test_stars_surprise():
    labels = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")
    assert stars_surprise(labels, 0, 5) == 4.0
    assert stars_surprise(labels, 3, 4) == 0.0
    assert stars_surprise(labels, 3, None) is None
    assert stars_surprise(("negative", "positive"), 1, 5) is None
