"""Which explanation to trust (explain.metrics.verdict)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from explain.methods import explain
from explain.metrics.verdict import faithfulness_verdict, is_reference, sign_reversals

RANDOM = {"comprehensiveness": 0.05, "sufficiency": 0.30, "deletion_auc": 0.50, "insertion_auc": 0.55, "tau_loo": 0.0}


def test_verdict_counts_wins_over_chance_in_each_metrics_direction():
    names = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "tau_loo")
    values = {
        "ig": dict(zip(names, (0.40, 0.10, 0.20, 0.70, 0.3), strict=True)),
        "occlusion": dict(zip(names, (0.45, 0.35, 0.15, 0.50, 1.0), strict=True)),
        "rollout": dict(zip(names, (0.04, 0.31, 0.52, 0.56, 0.0), strict=True)),
    }
    verdict = faithfulness_verdict(values, RANDOM)
    by = {s.method: s for s in verdict.standings}
    assert by["ig"].beats_chance == ("comprehensiveness", "deletion_auc", "insertion_auc", "sufficiency", "tau_loo")
    assert "tau_loo" not in by["occlusion"].scored and is_reference("occlusion", "tau_loo")  # its own reference
    assert by["occlusion"].beats_chance == ("comprehensiveness", "deletion_auc")
    assert by["rollout"].beats_chance == ("insertion_auc",)
    assert set(by["occlusion"].best_on) == {"comprehensiveness", "deletion_auc"}
    assert "tau_loo" in by["ig"].best_on  # occlusion's 1.0 does not win tau-LOO
    assert [s.method for s in verdict.standings] == ["ig", "occlusion", "rollout"]
    assert verdict.sentence == (
        "Trust ig most here: it beats random word rankings on 5 of 5 faithfulness measures and is the best on 3."
        " occlusion, rollout are no better than chance on half or more."
    )


def test_no_method_better_than_chance_says_so():
    values = {"saliency": {"comprehensiveness": 0.01, "sufficiency": 0.4}}
    assert "trust none of them" in faithfulness_verdict(values, RANDOM).sentence


def test_sign_reversals_between_methods(tiny_bert):
    text = "I hate very cold, and cloudy winter days"
    occ = explain(tiny_bert, text, method="occlusion")
    # stand-ins for two other signed methods: one reversing occlusion, one agreeing with it
    flipped = replace(occ, method="shap", word_scores=-occ.word_scores, token_scores=-occ.token_scores)
    same = replace(occ, method="lime")
    found = sign_reversals({"occlusion": occ, "shap": flipped, "lime": same}, floor=0.0)
    assert {(r.first, r.second) for r in found} == {("occlusion", "shap"), ("shap", "lime")}
    moved = {w for w, s in zip(occ.words, occ.word_scores, strict=True) if s != 0 and any(c.isalnum() for c in w)}
    assert set(found[0].words) == moved  # every word, not only the top five
    first_word = occ.word_scores[occ.words.index(found[0].words[0])]
    assert found[0].effects[0] == (first_word, -first_word)  # each method's own score
    assert sign_reversals({"occlusion": occ, "shap": flipped}) == []  # the random tiny model: all below the floor
    rollout = explain(tiny_bert, text, method="rollout")  # class-agnostic: no direction, never "reversed"
    saliency = explain(tiny_bert, text, method="saliency")  # magnitudes only
    assert sign_reversals({"rollout": rollout, "occlusion": occ, "saliency": saliency}, floor=0.0) == []


def test_a_reversal_outside_the_top_five_is_flagged_when_both_clear_the_floor(tiny_bert):
    """The issue's case: occlusion +0.42 stars against shap -0.07 on a word that is not in shap's top five."""
    occ = explain(tiny_bert, "the headphones are fine and the case is ok and the cable is long", method="occlusion")
    i = occ.words.index("headphones")
    a = np.zeros(len(occ.words))
    a[i] = 0.42
    b = np.linspace(-0.5, -0.3, len(occ.words))  # six or more words beyond it in |score|
    b[i] = -0.07
    first, second = (
        replace(occ, method=m, word_scores=s, token_scores=occ.token_scores) for m, s in (("occlusion", a), ("shap", b))
    )
    (found,) = sign_reversals({"occlusion": first, "shap": second})
    assert found.words == ("headphones",) and found.effects == ((0.42, -0.07),) and found.unit == "stars"
    b[i] = -0.02  # below the 0.05-star floor: noise, not a reversal
    second = replace(second, word_scores=b)
    assert sign_reversals({"occlusion": first, "shap": second}) == []
