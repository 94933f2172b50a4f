"""Gradient methods on the word embeddings: saliency, gradient x input, integrated gradients.

Every method here differentiates one number, the *explained output* `target.from_logits(logits)`:
the expected rating, softmax(logits) @ label values (so IG's scores add up to a difference in stars),
or, for a class, its logit (logit_target - logit_contrast with a contrast, "why A rather than B"):
for classes they explain logits, not probabilities, as a probability also moves with every other
label's logit.

The word embeddings (the output of `model.get_input_embeddings()`, before position and segment
embeddings are added) are the input being attributed. `logits_from_embeddings` is the one place that
runs the model from them, with gradients allowed and through `Classifier.forward(..., head_only=True)`
(so evaluations are counted, and the engine's exact view runs: fused attention, last layer for the
first token only; the same logits as the classifier's model within float rounding); the models are
passed exactly the inputs `Classifier.tokenize(...).model_inputs()` gives (DistilBERT gets no
`token_type_ids`), with `inputs_embeds` in place of `input_ids`.

Long texts (under windows, the default): `output_and_gradient` runs `logits_from_embeddings` on each
window (`explain.windows`) and combines the windows' explained outputs, and their gradients, with the
windows' weights in the prediction, so every token of the text gets a score and memory stays bounded
by one window.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from explain.classifier import Classifier, quiet_truncation
from explain.errors import UserError
from explain.explanation import Explanation
from explain.limits import window_evaluations_allowed
from explain.methods import new_explanation, register
from explain.methods.budget import window_share
from explain.target import Target
from explain.windows import WindowedText

BASELINES = ("pad", "mask")


@dataclass(frozen=True, eq=False)
class EmbeddedText:
    """One text as the model sees it: its token ids and the other model inputs, on the model's device.

    A text longer than the model's maximum (under windows, the default) holds all its tokens between one
    pair of special tokens, as `Classifier.align` does, and `windows`: the model is then run window by
    window (`output_and_gradient`).
    """

    input_ids: torch.Tensor  # (1, seq)
    extra_inputs: dict[str, torch.Tensor]  # attention_mask (and token_type_ids where the model has them), (1, seq)
    special: tuple[bool, ...]  # per token: [CLS]/[SEP]/<s>/... (kept in IG baselines)
    windowed: WindowedText | None = None


def embed_text(classifier: Classifier, text: str) -> EmbeddedText:
    """Tokenize one text for the model: whole, or (long, under windows) all its tokens and its windows."""
    windowed = classifier.windows(text)
    if windowed is not None:
        alignment = classifier.align(text)
        ids = torch.tensor(
            [classifier.tokenizer.convert_tokens_to_ids(list(alignment.tokens))], device=classifier.device
        )
        return EmbeddedText(ids, {}, alignment.special, windowed)
    with quiet_truncation():
        enc = classifier.tokenize([text])
    inputs = {k: v.to(classifier.device) for k, v in enc.model_inputs().items()}
    input_ids = inputs.pop("input_ids")
    return EmbeddedText(input_ids, inputs, tuple(enc.special[0]))


def word_embeddings(classifier: Classifier, input_ids: torch.Tensor) -> torch.Tensor:
    """The model's word embeddings of `input_ids`, (batch, seq, hidden)."""
    return classifier.model.get_input_embeddings()(input_ids)


def logits_from_embeddings(
    classifier: Classifier, embeddings: torch.Tensor, extra_inputs: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Logits (batch, n_labels) of the model run from word embeddings (batch, seq, hidden), gradients allowed.

    `extra_inputs` of batch size 1 are broadcast to the embeddings' batch (e.g. IG's interpolation steps).
    One sequence the model can read at once: a text that fits, or one window of a long one.
    """
    batch = embeddings.shape[0]
    inputs = {k: (v.expand(batch, -1) if v.shape[0] == 1 else v) for k, v in extra_inputs.items()}
    inputs["inputs_embeds"] = embeddings
    with torch.enable_grad():
        return classifier.forward(inputs, head_only=True).logits


def _check_ig_parameters(n_steps: object, internal_batch_size: object, tolerance: object, max_steps: object) -> None:
    if not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise UserError(f"n_steps must be a positive integer (got {n_steps!r}); 50 is a good default")
    if internal_batch_size is not None and (
        not isinstance(internal_batch_size, numbers.Integral) or internal_batch_size < 1
    ):
        raise UserError(f"internal_batch_size must be a positive integer or None (got {internal_batch_size!r})")
    if tolerance is not None and (not isinstance(tolerance, numbers.Real) or not 0 < float(tolerance) < 1):
        raise UserError(f"tolerance must be between 0 and 1, or None (got {tolerance!r})")
    if not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise UserError(f"max_steps must be a positive integer (got {max_steps!r})")


def _ig_evaluations(n_steps: int) -> int:
    """Model evaluations of one integral: a forward and a backward pass (about two forwards) per path point, and
    f(x) and f(baseline) riding along."""
    return 3 * (int(n_steps) + 2)


def _check_ig(n_steps, baseline, internal_batch_size, tolerance, max_steps) -> None:
    """IG's parameters checked before any work (`Method.check`)."""
    _check_ig_parameters(n_steps, internal_batch_size, tolerance, max_steps)
    if baseline not in BASELINES:
        raise UserError(f"IG baseline {baseline!r} is not one of {BASELINES}")


def _integrate(
    classifier: Classifier,
    embedded: EmbeddedText,
    target: Target,
    base: torch.Tensor,
    path: torch.Tensor,
    rule: tuple[np.ndarray, np.ndarray],
    rows: int,
) -> tuple[torch.Tensor, float, float]:
    """sum_i w_i * gradient at base + a_i * path, (seq, hidden), in batches of `rows` points; and f(x), f(base),
    which ride along in the first batch."""
    alphas, weights = rule
    total = torch.zeros_like(path[0])
    ends = (1.0, 0.0)  # f(x) and f(baseline), computed in the first batch
    fx = base_value = float("nan")
    for start in range(0, len(alphas), rows):
        a = alphas[start : start + rows]
        extra = ends if start == 0 else ()
        steps = torch.tensor(np.concatenate([a, extra]), dtype=path.dtype, device=path.device)[:, None, None]
        out, grad = output_and_gradient(classifier, base + steps * path, embedded, target)
        w = torch.tensor(weights[start : start + rows], dtype=path.dtype, device=path.device)[:, None, None]
        total += (grad[: len(a)] * w).sum(dim=0)
        if start == 0:
            fx, base_value = (float(v) for v in out[len(a) :].detach().double().cpu())
    return total, fx, base_value


def _output_name(target: Target) -> str:
    """What a gradient method differentiates, in words."""
    if target.is_rating:
        return "expected rating"
    return "logit" if target.contrast is None else "logit difference"


def gradient_unit(classifier: Classifier, target: Target) -> str:
    """Unit of additive gradient scores (IG): the rating's for the rating, else logits."""
    return (classifier.rating_unit or "rating points") if target.is_rating else "logit"


def output_and_gradient(
    classifier: Classifier, points: torch.Tensor, text: EmbeddedText, target: Target
) -> tuple[torch.Tensor, torch.Tensor]:
    """The explained output of each row of `points` (word embeddings of `text`, (batch, seq, hidden)) and its
    gradient w.r.t. them: the one place gradient methods run the model.

    A long text runs window by window (`explain.windows`): its output is the windows' outputs weighted as
    the prediction weights their probabilities, so its gradient is the same weighted sum of the windows'
    gradients, each scattered back onto the window's tokens (specials shared by every window). One
    window's graph is alive at a time, so memory is bounded by a window, not by the text's length.
    """
    if text.windowed is None:
        with torch.enable_grad():
            leaf = points.detach().requires_grad_(True)
            out = target.from_logits(logits_from_embeddings(classifier, leaf, text.extra_inputs))
            (grad,) = torch.autograd.grad(out.sum(), leaf)
        return out.detach(), grad
    value = torch.zeros(points.shape[0], dtype=points.dtype, device=points.device)
    grad = torch.zeros_like(points)
    for window in text.windowed.windows:
        inputs, positions = classifier.window_inputs(text.windowed, window)
        inputs.pop("input_ids")
        index = torch.as_tensor(positions, device=points.device)
        with torch.enable_grad():
            leaf = points[:, index].detach().requires_grad_(True)
            out = target.from_logits(logits_from_embeddings(classifier, leaf, inputs))
            (window_grad,) = torch.autograd.grad(out.sum(), leaf)
        value += window.weight * out.detach()
        grad[:, index] += window.weight * window_grad
    return value, grad


def embedding_gradient(classifier: Classifier, text: EmbeddedText, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the explained output w.r.t. the word embeddings, and the embeddings; each (seq, hidden)."""
    with torch.no_grad():
        embeddings = word_embeddings(classifier, text.input_ids)
    _, grad = output_and_gradient(classifier, embeddings, text, target)
    return grad[0].double().cpu().numpy(), embeddings[0].double().cpu().numpy()


@register(
    "saliency",
    summary="L2 norm of the explained output's gradient w.r.t. each token's word embedding",
    reference="Simonyan, Vedaldi & Zisserman 2014, Deep Inside Convolutional Networks: Visualising Image "
    "Classification Models and Saliency Maps",
    aliases=("gradient_norm",),
    signed=False,
    needs_gradients=True,
)
def saliency(classifier: Classifier, text: str, target: Target) -> Explanation:
    """Saliency (Simonyan et al. 2014): ||d output / d embedding||_2 per token; non-negative, unsigned."""
    grad, _ = embedding_gradient(classifier, embed_text(classifier, text), target)
    return new_explanation(classifier, text, "saliency", target, token_scores=np.linalg.norm(grad, axis=-1))


@register(
    "grad_x_input",
    summary="gradient x input: sum over the hidden size of gradient * word embedding",
    reference="Shrikumar et al. 2016, Not Just a Black Box: Learning Important Features Through "
    "Propagating Activation Differences; Denil et al. 2014",
    aliases=("input_x_gradient",),
    needs_gradients=True,
)
def grad_x_input(classifier: Classifier, text: str, target: Target) -> Explanation:
    """Gradient x input (Shrikumar et al. 2016): sum_h grad_h * embedding_h per token; signed, not additive."""
    grad, embeddings = embedding_gradient(classifier, embed_text(classifier, text), target)
    return new_explanation(
        classifier,
        text,
        "grad_x_input",
        target,
        token_scores=(grad * embeddings).sum(axis=-1),
        unit=gradient_unit(classifier, target),
    )


def baseline_ids(classifier: Classifier, text: EmbeddedText, baseline: str = "pad") -> torch.Tensor:
    """IG baseline token ids: every non-special token replaced by [PAD] (or [MASK]); specials kept."""
    if baseline not in BASELINES:
        raise UserError(f"IG baseline {baseline!r} is not one of {BASELINES}")
    token_id = classifier.tokenizer.pad_token_id if baseline == "pad" else classifier.tokenizer.mask_token_id
    if token_id is None:
        other = "mask" if baseline == "pad" else "pad"
        raise UserError(f"this model's tokenizer has no {baseline} token; use baseline={other!r}")
    special = torch.tensor(text.special, device=text.input_ids.device)[None, :]
    return torch.where(special, text.input_ids, torch.full_like(text.input_ids, token_id))


def gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """`n_steps` Gauss-Legendre points in (0, 1) and their weights (summing to 1), as Captum's default rule.

    numpy's rule (Captum's) builds an n x n matrix (8 GB at 32,000 points); above 1,000 points scipy's, which
    needs memory linear in n (the same points within 1e-15)."""
    if n_steps <= 1000:
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    else:
        from scipy.special import roots_legendre

        nodes, weights = roots_legendre(n_steps)
    return 0.5 * (nodes + 1.0), 0.5 * weights


IG_DELTA_FLOOR = 0.005  # a gap this small (stars or logits) needs no more points, however small f(x) - f(b) is


def _refined_integral(classifier, embedded, target, base, path, n_steps, per_pass, tolerance, max_steps, share):
    """IG's integral at `n_steps` points, doubled while the completeness gap exceeds `tolerance` (relative) and
    `IG_DELTA_FLOOR` (absolute), up to `max_steps` and the window-evaluation limit (`share`: the model windows
    one evaluation of the text reads, `explain.methods.window_share`).
    Returns (token scores, f(x), f(baseline), delta, relative delta, steps used, rows per pass)."""
    spent = 0  # window evaluations so far (refinements stay within the limit)
    while True:
        rows = min(per_pass, n_steps)
        total, fx, base_value = _integrate(classifier, embedded, target, base, path, gauss_legendre(n_steps), rows)
        token_scores = (path[0] * total).sum(dim=-1).double().cpu().numpy()
        delta = float(token_scores.sum()) - (fx - base_value)
        gap = abs(fx - base_value)
        relative = abs(delta) / gap if gap > 0 else None
        converged = tolerance is None or relative is None or relative <= tolerance or abs(delta) <= IG_DELTA_FLOOR
        if converged or 2 * n_steps > max_steps:
            return token_scores, fx, base_value, delta, relative, n_steps, rows
        spent += _ig_evaluations(n_steps) * share
        if not window_evaluations_allowed(math.ceil(spent + _ig_evaluations(2 * n_steps) * share)):
            return token_scores, fx, base_value, delta, relative, n_steps, rows  # the gap is reported
        n_steps *= 2


@register(
    "ig",
    summary="integrated gradients on the word embeddings, from a [PAD] (or [MASK]) baseline",
    reference="Sundararajan, Taly & Yan 2017, Axiomatic Attribution for Deep Networks",
    aliases=("integrated_gradients",),
    additive=True,
    needs_gradients=True,
    budget="n_steps",
    validate=lambda p: _check_ig(**p),
    evaluations=lambda p: _ig_evaluations(p["n_steps"]),
)
def integrated_gradients(
    classifier: Classifier,
    text: str,
    target: Target,
    *,
    n_steps: int = 50,
    baseline: str = "pad",
    internal_batch_size: int | None = None,
    tolerance: float | None = 0.01,
    max_steps: int = 400,
) -> Explanation:
    """Integrated gradients (Sundararajan et al. 2017) of the explained output w.r.t. the word embeddings.

    Attributes the explained output (the expected rating, in stars; for a class its *logit*,
    logit_target or logit_target - logit_contrast, not its probability) to the word embeddings e(x),
    integrating the gradient on the straight path from the baseline b (every non-special token -> [PAD]
    or [MASK]; [CLS]/[SEP] kept, so they score 0) to the text with `n_steps` Gauss-Legendre points a_i,
    weights w_i (Captum's default rule, so the result is
    `captum.attr.LayerIntegratedGradients` on the word-embedding layer, tested within 1e-5):
    score_t = sum_h (e(x) - b)_th * sum_i w_i * d f(b + a_i (e(x) - b)) / d e_th.
    Token scores add up to f(x) - f(baseline) up to the convergence delta: diagnostics `fx`,
    `base_value`, `delta` = sum(scores) - (fx - base_value) and `relative_delta` = |delta| / |fx - base_value|.
    When `relative_delta` exceeds `tolerance` (default 1 %; None: never) the integral is recomputed with
    twice the points, up to `max_steps`; diagnostics `n_steps` says how many points the result used
    (with `tolerance=None`, or when 50 suffice, the result is Captum's at `n_steps`).

    Cost: one forward and one backward over the path points (the text and the baseline ride along in
    the first batch, so f(x) and f(b) need no pass of their own). Steps run in batches of
    `internal_batch_size` rows (default: as many as the classifier's token budget,
    `max_tokens_per_batch`, allows for this text's length; usually all in one pass).
    """
    _check_ig_parameters(n_steps, internal_batch_size, tolerance, max_steps)
    n_steps = int(n_steps)
    embedded = embed_text(classifier, text)
    windows = 1 if embedded.windowed is None else len(embedded.windowed.windows)
    share = window_share(classifier, text)  # the first integral is checked by `explain` (check_budget)
    seq_len = embedded.input_ids.shape[1] if embedded.windowed is None else classifier.max_length
    per_pass = int(internal_batch_size or max(1, classifier.max_tokens_per_batch // seq_len))
    with torch.no_grad():
        x = word_embeddings(classifier, embedded.input_ids)  # (1, seq, hidden)
        base = word_embeddings(classifier, baseline_ids(classifier, embedded, baseline))
        path = x - base
    result = _refined_integral(classifier, embedded, target, base, path, n_steps, per_pass, tolerance, max_steps, share)
    token_scores, fx, base_value, delta, relative, n_steps, rows = result
    diagnostics = {"fx": fx, "base_value": base_value, "delta": delta, "relative_delta": relative, "n_steps": n_steps}
    diagnostics |= {"explained_output": _output_name(target), "internal_batch_size": rows, "windows": windows}
    return new_explanation(
        classifier,
        text,
        "ig",
        target,
        token_scores=token_scores,
        unit=gradient_unit(classifier, target),
        diagnostics=diagnostics,
    )
