"""Attention methods: raw attention, attention rollout, and gradient-weighted attention relevance.

All three read the model's self-attention probabilities (the model is loaded with
`attn_implementation="eager"`, which returns them) and score each token by the row of the first
token ([CLS] / <s>, the one the classification head reads):

- `attention`: one layer's attention from [CLS], averaged over heads (class-agnostic);
- `rollout`: attention rollout (Abnar & Zuidema 2020) through all layers (class-agnostic);
- `grad_attn`: class-specific relevance from attention weighted by its gradient (Chefer, Gur & Wolf
  2021, "Generic Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder
  Transformers").

The class-agnostic methods are registered with `class_specific=False`: they take no question
(`target=None`), their explanations carry none (`explains="none"`, "where the model looked (no
direction)"), and metrics compare them with signed methods by magnitude only. Scores cover every token, special
tokens included; words never include special tokens.

`attention_maps` gives every layer's and head's attention with the tokens as the tokenizer shows
them, for BertViz head/model views and heatmaps (of a long text: its first window).

Long texts (windows, the default): each method runs on every window (`cls_scores`) and a token's
score is the windows' scores weighted by the windows' shares of the prediction (`explain.windows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from explain.classifier import Classifier, quiet_truncation
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import new_explanation, register
from explain.target import Target


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """Every layer's and head's attention probabilities for one text, with its tokens."""

    tokens: tuple[str, ...]  # as the tokenizer shows them (e.g. "Ġgreat" for RoBERTa), specials included
    attentions: np.ndarray  # (layers, heads, seq, seq); row i = how token i attends; rows sum to 1

    @property
    def n_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.attentions.shape[1])

    def head_mean(self) -> np.ndarray:
        """Attention averaged over heads, (layers, seq, seq)."""
        return self.attentions.mean(axis=1)


def _encode(classifier: Classifier, text: str):
    """Stage 1 for one text (truncated like `predict_proba`, which already warns about it)."""
    with quiet_truncation():
        return classifier.tokenize([text])


def attention_maps(classifier: Classifier, text: str, window: int = 0) -> AttentionMaps:
    """The attention probabilities of every layer and head for `text` (one forward pass, no gradients).

    A long text (windows, the default) is read in windows, each attending only within itself: `window`
    picks which one (0-based); its tokens are that window's, with its own special tokens."""
    windowed = classifier.windows(text)
    if windowed is None:
        if window != 0:
            raise UserError(f"the review is read in one piece: there is no window {window + 1}")
        encoding = _encode(classifier, text)
        inputs = {k: v.to(classifier.device) for k, v in encoding.model_inputs().items()}
        return AttentionMaps(tuple(encoding.tokens[0]), _maps(inputs, classifier))
    if not 0 <= window < len(windowed.windows):
        raise UserError(f"the review is read in {len(windowed.windows)} windows: there is no window {window + 1}")
    inputs, _ = classifier.window_inputs(windowed, windowed.windows[window])
    tokens = tuple(classifier.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist()))
    return AttentionMaps(tokens, _maps(inputs, classifier))


def rollout_matrix(attentions: np.ndarray) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) of one text's attentions (layers, heads, seq, seq) -> (seq, seq).

    Per layer, A' = 0.5 * mean_heads(A) + 0.5 * I (the residual connection), rows renormalised to sum
    to 1; then R = A'_L ... A'_2 A'_1 (first layer on the right). Every row of R sums to 1.
    """
    attentions = np.asarray(attentions, dtype=np.float64)
    if attentions.ndim != 4 or attentions.shape[2] != attentions.shape[3]:
        raise ValueError(f"attentions must be (layers, heads, seq, seq), got shape {attentions.shape}")
    identity = np.eye(attentions.shape[-1])
    rollout = identity
    for layer in attentions.mean(axis=1):
        mixed = 0.5 * layer + 0.5 * identity
        mixed /= mixed.sum(axis=-1, keepdims=True)
        rollout = mixed @ rollout
    return rollout


def relevance_matrix(classifier: Classifier, text: str, target: Target) -> np.ndarray:
    """Gradient-weighted attention relevance R (seq, seq) of Chefer, Gur & Wolf 2021 (Generic Attention-model
    Explainability), for the explained output `target.from_logits` (the expected rating, or the
    target logit, minus the contrast's when one is given).

    With A_l the attention of layer l and dA_l its gradient, A_bar_l = mean over heads of (dA_l * A_l)^+;
    R starts as the identity and R <- R + A_bar_l R, from the first layer to the last. Gradients are
    taken on the very attention tensors the model multiplies the values by (eager attention, dropout
    off in eval), with `torch.autograd.grad`, so no gradient is left on the model's parameters.
    """
    encoding = _encode(classifier, text)
    return _relevance({k: v.to(classifier.device) for k, v in encoding.model_inputs().items()}, classifier, target)


def _relevance(inputs: dict[str, torch.Tensor], classifier: Classifier, target: Target) -> np.ndarray:
    """`relevance_matrix` of prepared model inputs (one text, or one window of a long text)."""
    with torch.enable_grad():
        out = classifier.forward(inputs, output_attentions=True)
        if not out.attentions:
            raise UserError(f"{classifier.name} returns no attention weights; load it with attn_implementation='eager'")
        logits = out.logits[0]
        explained = target.from_logits(logits[None, :])[0]
        grads = torch.autograd.grad(explained, out.attentions)
    seq = inputs["input_ids"].shape[1]
    relevance = torch.eye(seq, dtype=torch.float64)
    for attention, grad in zip(out.attentions, grads, strict=True):
        weighted = (grad[0].double() * attention[0].detach().double()).clamp(min=0).mean(dim=0).cpu()
        relevance = relevance + weighted @ relevance
    return relevance.numpy()


def _maps(inputs: dict[str, torch.Tensor], classifier: Classifier) -> np.ndarray:
    """Every layer's and head's attention (layers, heads, seq, seq) for prepared inputs (no gradients)."""
    with torch.inference_mode():
        out = classifier.forward(inputs, output_attentions=True)
    if not out.attentions:
        raise UserError(f"{classifier.name} returns no attention weights; load it with attn_implementation='eager'")
    return torch.stack([a[0] for a in out.attentions]).double().cpu().numpy()


def cls_scores(classifier: Classifier, text: str, score: Callable[[dict[str, torch.Tensor]], np.ndarray]) -> np.ndarray:
    """Token scores of `text` from `score(model inputs) -> scores of those tokens`: once for a text that fits;
    for a long text (windows, the default) once per window, each window's scores weighted by its share of the
    prediction and added onto its tokens (the [CLS]/[SEP] every window has get the weighted sum)."""
    windowed = classifier.windows(text)
    if windowed is None:
        encoding = _encode(classifier, text)
        return score({k: v.to(classifier.device) for k, v in encoding.model_inputs().items()})
    total = np.zeros(len(classifier.align(text).tokens))
    for window in windowed.windows:
        inputs, positions = classifier.window_inputs(windowed, window)
        total[positions] += window.weight * score(inputs)
    return total


def _check_layer(layer: int, n_layers: int) -> int:
    if not isinstance(layer, int) or not -n_layers <= layer < n_layers:
        raise UserError(
            f"layer {layer!r} does not exist; this model has {n_layers} layers (0..{n_layers - 1}, or -1 for the last)"
        )
    return layer % n_layers


@register(
    "attention",
    summary="raw attention from [CLS] in one layer (default the last), averaged over heads",
    reference="Bahdanau et al. 2015; see Jain & Wallace 2019, Attention is not Explanation",
    aliases=("raw_attention",),
    class_specific=False,
)
def raw_attention(classifier: Classifier, text: str, target: None = None, *, layer: int = -1) -> Explanation:
    """Raw attention: layer `layer`'s attention from the first token ([CLS]) to every token, mean over heads.

    Class-agnostic: the scores answer no question (where the model looked). Non-negative; over all
    tokens, [CLS] and [SEP] included, they sum to 1.
    """
    n_layers = classifier.model.config.num_hidden_layers
    index = _check_layer(layer, n_layers)
    scores = cls_scores(classifier, text, lambda inputs: _maps(inputs, classifier)[index].mean(axis=0)[0])
    return new_explanation(
        classifier,
        text,
        "attention",
        None,
        token_scores=scores,
        diagnostics={"class_specific": False, "layer": index, "layers": n_layers},
    )


@register(
    "rollout",
    summary="attention rollout: attention from [CLS] propagated through all layers",
    reference="Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers",
    aliases=("attention_rollout",),
    class_specific=False,
)
def attention_rollout(classifier: Classifier, text: str, target: None = None) -> Explanation:
    """Attention rollout (Abnar & Zuidema 2020): the [CLS] row of `rollout_matrix`; class-agnostic, sums to 1."""
    scores = cls_scores(classifier, text, lambda inputs: rollout_matrix(_maps(inputs, classifier))[0])
    return new_explanation(
        classifier,
        text,
        "rollout",
        None,
        token_scores=scores,
        diagnostics={"class_specific": False, "layers": classifier.model.config.num_hidden_layers},
    )


@register(
    "grad_attn",
    summary="class-specific relevance: attention weighted by its gradient, accumulated over layers",
    reference="Chefer, Gur & Wolf 2021, Generic Attention-model Explainability for Interpreting Bi-Modal "
    "and Encoder-Decoder Transformers",
    aliases=("gradient_weighted_attention", "chefer"),
    signed=False,
    needs_gradients=True,
)
def gradient_weighted_attention(classifier: Classifier, text: str, target: Target) -> Explanation:
    """Gradient-weighted attention (Chefer et al. 2021): the [CLS] row of `relevance_matrix` minus the identity.

    The identity R starts from is removed, so [CLS] is not credited with its own starting relevance of
    1; its score is only the relevance it receives through attention. Other tokens are unaffected.
    Non-negative; class-specific (contrast: the gradient of logit_target - logit_contrast).
    """

    def score(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        relevance = _relevance(inputs, classifier, target)
        return relevance[0] - np.eye(len(relevance))[0]

    scores = cls_scores(classifier, text, score)
    return new_explanation(
        classifier, text, "grad_attn", target, token_scores=scores, diagnostics={"class_specific": True}
    )
