"""Colour scales that mean the same thing across cards: a fixed minimum range per unit, one scale per unit, and
a one-sided legend for scores without a direction (issue 22)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from test_answer import SATURATED, lexicon

from explain.methods import explain
from explain.render.html import NEGATIVE_RGB, display_scale, explanation_html, minimum_scale, scale_key, shared_scales

SPAN = re.compile(r'<span class="rx-word"[^>]*data-score="([^"]+)" style="background:([^;]+);')


def backgrounds(page: str) -> list[tuple[float, tuple[int, int, int] | None]]:
    out = []
    for score, background in SPAN.findall(page):
        rgb = re.match(r"rgb\((\d+),(\d+),(\d+)\)", background)
        out.append((float(score), tuple(int(c) for c in rgb.groups()) if rgb else None))
    return out


def strength(rgb: tuple[int, int, int] | None) -> float:
    """How far from white a background is, 0 (white or none) to 1 (the full colour's darkest channel)."""
    return 0.0 if rgb is None else (255 - min(rgb)) / 255


def test_a_hundredth_of_a_star_is_pale_on_a_saturated_rating(tiny_bert):
    """The issue's case: every word's effect is a few hundredths of a star; the card's scale is the fixed 0.25
    stars, not the largest effect, so nothing is drawn saturated."""
    clf = lexicon(tiny_bert, {"perfect": 1.0, "best": 0.7, "flawlessly": 0.5}, bias=3.0)
    exp = explain(clf, SATURATED, method="occlusion")
    biggest = float(np.abs(exp.word_scores).max())
    assert 0.001 < biggest < 0.05
    assert minimum_scale(exp) == pytest.approx(0.25) and display_scale(exp) == pytest.approx(0.25)
    page = explanation_html(exp)
    assert 'data-scale="0.25"' in page and "full colour at 0.25 stars" in page
    assert 'data-low="-0.25"' in page and 'data-high="+0.25 stars"' in page  # numbers on the legend
    drawn = backgrounds(page)
    assert drawn and max(strength(rgb) for _, rgb in drawn) < 0.2 * 0.9  # 0.05 / 0.25 of the way to full colour
    top = max(drawn, key=lambda d: abs(d[0]))
    assert strength(top[1]) == pytest.approx(abs(top[0]) / 0.25 * strength((33, 102, 172)), abs=0.02)


def test_large_effects_still_reach_full_colour(tiny_bert):
    clf = lexicon(tiny_bert, {"died": -3.0}, bias=1.0)
    exp = explain(clf, "The battery died after two days.", method="occlusion")
    assert float(np.abs(exp.word_scores).max()) > 0.25
    assert display_scale(exp) == pytest.approx(float(np.abs(exp.word_scores).max()))
    drawn = backgrounds(explanation_html(exp))
    assert max(drawn, key=lambda d: abs(d[0]))[1] == NEGATIVE_RGB  # "died": full red


def test_cards_in_one_unit_share_one_scale(tiny_bert):
    clf = lexicon(tiny_bert, {"died": -3.0}, bias=1.0)
    occ = explain(clf, "The battery died after two days.", method="occlusion")
    half = replace(occ, method="shap", word_scores=occ.word_scores / 2, token_scores=occ.token_scores / 2)
    scales = shared_scales([occ, half])
    assert scales == {scale_key(occ): pytest.approx(float(np.abs(occ.word_scores).max()))}
    died = occ.words.index("died")
    a = backgrounds(explanation_html(occ, scale=scales[scale_key(occ)]))[died][1]
    b = backgrounds(explanation_html(half, scale=scales[scale_key(half)]))[died][1]
    assert a == NEGATIVE_RGB and strength(b) == pytest.approx(strength(a) / 2, abs=0.02)  # half the effect


@pytest.mark.parametrize("method", ["saliency", "attention"])
def test_magnitude_only_methods_get_a_one_sided_legend(tiny_bert, method):
    exp = explain(tiny_bert, "Great sound, terrible price!", method=method)
    page = explanation_html(exp)
    assert 'data-signed="false"' in page and 'data-low="0"' in page
    assert "lowers the rating" not in page and "raises the rating" not in page
    assert "rgb(178,24,43)" not in page.replace(" ", "")  # no red anywhere: no direction to show
    assert scale_key(exp) != scale_key(explain(tiny_bert, "Great sound, terrible price!", method="occlusion"))
