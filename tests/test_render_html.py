"""HTML snippets: user text escaped, colours follow the sign, every word shown, nothing fetched."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from explain.classifier import Classifier, TruncationWarning
from explain.methods import new_explanation
from explain.render.html import (
    NEGATIVE_RGB,
    POSITIVE_RGB,
    explanation_html,
    prediction_bar_html,
    score_color,
    top_words_html,
)
from explain.target import Target

EVIL = 'Great <script>alert("x")</script> phone & "cheap" <img src=x onerror=alert(1)> cloudy'


class Spans(HTMLParser):
    """Collects (class, data-score, style, text) of every scored span, and every tag/attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[dict] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        a = dict(attrs)
        if tag == "span" and "data-score" in a:
            self._open = {
                "class": a.get("class"),
                "score": float(a["data-score"]),
                "style": a.get("style", ""),
                "title": a.get("title", ""),
                "text": "",
            }
            self.spans.append(self._open)

    def handle_endtag(self, tag):
        if tag == "span":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def parse(html: str) -> Spans:
    parser = Spans()
    parser.feed(html)
    return parser


def background(style: str) -> tuple[int, int, int] | None:
    m = re.search(r"background:rgb\((\d+),(\d+),(\d+)\)", style)
    return tuple(map(int, m.groups())) if m else None


@pytest.fixture(scope="module")
def evil_explanation(tiny_bert):
    """Scores alternate in sign over the words of a review full of markup."""
    a = tiny_bert.align(EVIL)
    scores = np.array([(-1.0) ** i * (i + 1) for i in range(len(a.words))])
    return new_explanation(tiny_bert, EVIL, "test", Target.of_label(1), word_scores=scores, alignment=a)


@pytest.mark.parametrize("level", ["word", "token"])
def test_user_text_is_escaped(evil_explanation, level):
    html = explanation_html(evil_explanation, level=level)
    p = parse(html)
    assert "script" not in p.tags and "img" not in p.tags
    assert "<script" not in html and "<img" not in html
    assert not any(name.startswith("on") for name, _ in p.attrs)  # no event handler attribute got through
    assert "&lt;" in html and "&amp;" in html


def test_every_word_present_in_order(evil_explanation):
    spans = parse(explanation_html(evil_explanation)).spans
    assert [s["text"] for s in spans] == list(evil_explanation.words)
    np.testing.assert_allclose([s["score"] for s in spans], evil_explanation.word_scores, rtol=1e-5)
    for s, word in zip(spans, evil_explanation.words, strict=True):
        assert s["title"].startswith(f"{word}: ")  # hover shows the word and its score


def test_colours_follow_the_sign_and_scale(evil_explanation):
    spans = parse(explanation_html(evil_explanation)).spans
    strongest = max(abs(s["score"]) for s in spans)
    for s in spans:
        rgb = background(s["style"])
        assert rgb is not None
        if s["score"] > 0:
            assert rgb[2] > rgb[0], s  # blue
        else:
            assert rgb[0] > rgb[2], s  # red
        if abs(s["score"]) == strongest:
            assert rgb == (POSITIVE_RGB if s["score"] > 0 else NEGATIVE_RGB)  # full colour at max |score|
    weakest = min(spans, key=lambda s: abs(s["score"]))
    assert sum(background(weakest["style"])) > sum(background(max(spans, key=lambda s: abs(s["score"]))["style"]))


def test_score_color_is_centred_at_zero():
    assert score_color(0.0, 1.0)[0] == "transparent"
    assert score_color(1.0, 1.0)[0] == "rgb({},{},{})".format(*POSITIVE_RGB)
    assert score_color(-2.0, 1.0)[0] == "rgb({},{},{})".format(*NEGATIVE_RGB)  # clipped at full colour
    assert score_color(0.5, 0.0)[0] == "transparent"  # all-zero explanation: nothing coloured


def test_token_level_shows_every_token(evil_explanation):
    p = parse(explanation_html(evil_explanation, level="token"))
    tokens = evil_explanation.tokens
    assert [s["text"] for s in p.spans] == list(tokens)
    special = [s for s in p.spans if s["class"] == "rx-special"]
    assert [s["text"] for s in special] == [
        t for t, sp in zip(tokens, evil_explanation.alignment.special, strict=True) if sp
    ]
    assert all(background(s["style"]) is None for s in special)  # specials are not coloured


def test_unknown_level_is_refused(evil_explanation):
    with pytest.raises(ValueError, match="level"):
        explanation_html(evil_explanation, level="paragraph")


def test_sentence_level_colours_each_sentence_by_its_words_sum(tiny_bert):
    text = "Great phone. Terrible battery, awful support! It is blue."
    a = tiny_bert.align(text)
    scores = np.array([{"Great": 2.0, "Terrible": -3.0, "awful": -1.0}.get(w, 0.0) for w in a.words])
    exp = new_explanation(tiny_bert, text, "test", Target.of_label(1), word_scores=scores, alignment=a)
    p = parse(explanation_html(exp, level="sentence"))
    assert [s["text"] for s in p.spans] == ["Great phone.", "Terrible battery, awful support!", "It is blue."]
    assert [s["score"] for s in p.spans] == [2.0, -4.0, 0.0]
    assert background(p.spans[1]["style"]) == NEGATIVE_RGB  # the largest |sum| is full colour
    assert background(p.spans[0]["style"])[2] > background(p.spans[0]["style"])[0]  # positive: blue
    assert background(p.spans[2]["style"]) is None


def test_text_past_truncation_is_marked_unseen(tiny_bert):
    text = " ".join(["word"] * 300) + " TAIL"
    cutting = Classifier(tiny_bert.model, tiny_bert.tokenizer, long="truncate")  # windows (the default) read it all
    with pytest.warns(TruncationWarning):
        exp = new_explanation(
            cutting, text, "test", Target.of_label(0), word_scores=np.ones(len(cutting.align(text).words))
        )
    html = explanation_html(exp)
    assert len(parse(html).spans) == len(exp.words) < 301
    assert re.search(r'<span class="rx-unseen"[^>]*>[^<]*TAIL</span>', html)


def test_snippets_fetch_nothing(evil_explanation, tiny_bert):
    pieces = [
        explanation_html(evil_explanation),
        explanation_html(evil_explanation, level="token"),
        prediction_bar_html(tiny_bert.labels, evil_explanation.probabilities),
        top_words_html(evil_explanation),
    ]
    for html in pieces:
        assert not re.search(r"https?:", html)
        assert not re.search(r"<(script|link|img|iframe|style)\b", html)


def test_prediction_bar(tiny_bert):
    probs = np.array([0.1, 0.6, 0.1, 0.15, 0.05])
    html = prediction_bar_html(["<b>1</b>", "2 stars", "3 stars", "4 stars", "5 stars"], probs)
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "<b>1" not in html
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%", html)]
    assert widths == pytest.approx([10.0, 60.0, 10.0, 15.0, 5.0])
    assert html.count("font-weight:bold") == 1 and "0.600" in html
    with pytest.raises(ValueError):
        prediction_bar_html(["a", "b"], probs)


def test_top_words_ranked_and_signed(evil_explanation):
    html = top_words_html(evil_explanation, k=3)
    top = evil_explanation.top_words(3)
    values = re.findall(r">([+-]\d+\.\d{3})</span>", html)
    assert [float(v) for v in values] == pytest.approx([s for _, s in top], abs=1e-3)
    assert html.count(f"background:rgb{NEGATIVE_RGB}") == sum(s < 0 for _, s in top)


def test_explanation_has_no_renderer(evil_explanation):
    assert not hasattr(evil_explanation, "to_html")  # rendering lives in explain.render.html


def test_explanations_page_groups_by_text_and_escapes(evil_explanation):
    from explain.render.html import explanations_page

    other = evil_explanation
    html = explanations_page([evil_explanation, other])
    p = parse(html)
    assert "script" not in p.tags and "img" not in p.tags
    assert html.count("<section") == 1  # one review, two explanations
    assert html.count('class="rx-explanation"') == 2
    spans = [s for s in p.spans if s["class"] == "rx-word"]
    assert [s["text"] for s in spans] == list(evil_explanation.words) * 2
    with pytest.raises(ValueError, match="at least one"):
        explanations_page([])


def test_terminal_notes_accept_missing_deltas(evil_explanation):
    from dataclasses import replace

    from explain.render.terminal import explanation_notes

    quiet = replace(evil_explanation, diagnostics={"relative_delta": None, "additivity_error": None})
    assert not any("incomplete" in n or "SHAP" in n for n in explanation_notes(quiet))
    loud = replace(evil_explanation, diagnostics={"relative_delta": 0.2, "additivity_error": 0.01})
    notes = " ".join(explanation_notes(loud))
    assert "relative delta 0.200 > 0.05" in notes and "miss f(x) by 0.0100" in notes


def test_sentence_unit_explanations_are_drawn_and_ranked_by_sentence(tiny_bert):
    """An explanation that scored whole sentences (occlusion units=sentence) is drawn per sentence on the page,
    its chart ranks sentences; a word-unit explanation of the same text keeps words."""
    from explain import explain
    from explain.render.html import explanations_page

    text = "Great phone. Terrible battery, awful support! It is blue."
    by_sentence = explain(tiny_bert, text, "occlusion", units="sentence")
    html = explanations_page([by_sentence, explain(tiny_bert, text, "occlusion")])
    cards = html.split('class="rx-explanation"')[1:]
    assert 'data-level="sentence"' in cards[0] and 'data-level="word"' in cards[1]
    assert "top sentences, what moved the rating" in html and "top words, what moved the rating" in html
    chart = top_words_html(by_sentence, k=2, level="sentence")
    ranked = sorted(by_sentence.sentences, key=lambda s: -abs(s.score))[:2]
    assert [float(v) for v in re.findall(r">([+-]\d+\.\d{3})</span>", chart)] == pytest.approx(
        [s.score for s in ranked], abs=1e-3
    )
    assert all(s.text in chart for s in ranked)


def test_top_sentences_rank_by_size(tiny_bert):
    from explain import explain
    from explain.render.plain import top_sentences

    exp = explain(tiny_bert, "Great phone. Terrible battery, awful support! It is blue.", "occlusion", units="sentence")
    top = exp.top_sentences(3)
    assert sorted(text for text, _ in top) == sorted(s.text for s in exp.sentences)
    assert [abs(score) for _, score in top] == sorted((abs(s.score) for s in exp.sentences), reverse=True)
    assert [text for _, text in top_sentences(exp, 2)] == [text for text, score in top if score][:2]
