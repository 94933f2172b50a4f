"""Which change to the amortized head raises its fidelity? (issue 23; measured, none shipped yet)

Refits the head's regression (not the shipped code path: a small per-review loop, the same inputs) on the
default head's own training texts and labels (SHAP max_evals=64, read from the explanation cache: nothing
is labelled here; the same split as `explain.amortize.fit`, 352 to fit on, 88 held out) and measures each
variant on (a) the 88 held-out texts against their teacher labels (what selects a variant: the honest
figure) and (b) benchmarks/amortized.py's texts (20 VADER movie sentences, 6 held-out reviews) against its
converged SHAP reference (max_evals=2000, read from the cache): mean per-review Spearman of the expected
rating's word scores, and sign agreement of the reference's top-3 words.

Variants (`kind`): "base" (the shipped inputs: the last layer's input per token, its first-token output,
the probabilities), "+lens" (that state through the model's own pooler and classifier: per-token logits,
probabilities, expected rating and its difference from the prediction), "+emb" (the token's input
embedding), "lensonly"; losses: "mse" (shipped: per-label and rating MSE) or "corr" (+ 1 - Pearson per
review), `norm` (errors divided by each review's spread); `drop`, `width`, `wd`, `lr`, `seed`.

    OMP_NUM_THREADS=1 flock /tmp/heavy.lock .venv/bin/python benchmarks/amortized_variants.py \
        '[{"kind": "base"}, {"kind": "base+lens"}]'
    OMP_NUM_THREADS=1 flock /tmp/heavy.lock .venv/bin/python benchmarks/amortized_variants.py ensemble

Needs the default head's teacher labels and the benchmark's references in the cache (run
`explain build-default` and benchmarks/amortized.py first). Prints one line per variant.
"""

from __future__ import annotations

import json
import random
import sys
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn


def load_everything():
    from explain import load_classifier
    from explain.amortize import default_head_texts
    from explain.amortize.fit import _split
    from explain.amortize.teacher import choose_teacher
    from explain.default_model import heldout_reviews, heldout_sentences
    from explain.store import ExplanationStore

    clf, store = load_classifier(), ExplanationStore()
    held, train, _ = _split(clf, default_head_texts(), 2000, 0.2, 0)
    snippets = [s.text for s in heldout_sentences(("movies",)) if 8 <= len(s.text.split()) <= 25]
    whole = [r.text for r in heldout_reviews() if 40 <= len(r.text.split()) <= 130]
    return (
        clf,
        store,
        choose_teacher(),
        held,
        train,
        random.Random(7).sample(snippets, 20),
        random.Random(7).sample(whole, 6),
    )


def features(clf, texts: list[str]) -> list[dict]:
    """Per text, from one batched forward pass: the last layer's input per token, its first-token output,
    the probabilities, the logit lens on the last layer's input, the input embeddings."""
    from explain.errors import quiet_truncation
    from explain.word_head import _encoder_layers
    from explain.words import align

    model = clf.engine.exact_model
    last = _encoder_layers(model)[-1]
    out, caught = [], {}
    pre = last.register_forward_pre_hook(
        lambda m, a, k: caught.__setitem__("tin", k.get("hidden_states", a[0] if a else None)), with_kwargs=True
    )
    post = last.register_forward_hook(
        lambda m, a, k, o: caught.__setitem__("first", (o[0] if isinstance(o, tuple) else o)[:, 0]),
        with_kwargs=True,
    )
    for start in range(0, len(texts), 32):
        chunk = texts[start : start + 32]
        with quiet_truncation():
            enc = clf.tokenize(chunk)
        inputs = {k: v.to(clf.device) for k, v in enc.model_inputs().items()}
        with torch.inference_mode():
            probs = torch.softmax(clf.forward(inputs, head_only=True).logits.float(), -1)
            pooler = model.bert.pooler
            lens = model.classifier(pooler.activation(pooler.dense(caught["tin"]))).float()
            emb = model.bert.embeddings.word_embeddings(inputs["input_ids"]).float()
        for row, text in enumerate(chunk):
            alignment = align(text, enc.tokens[row], enc.offsets[row], enc.special[row])
            n = len(alignment.tokens)
            out.append(
                {
                    "text": text,
                    "alignment": alignment,
                    "t2w": torch.tensor(alignment.token_to_word),
                    "tin": caught["tin"][row, :n].float(),
                    "first": caught["first"][row].float(),
                    "probs": probs[row],
                    "lens": lens[row, :n],
                    "emb": emb[row, :n],
                }
            )
    pre.remove()
    post.remove()
    return out


def inputs_of(f: dict, kind: str, weights: torch.Tensor) -> torch.Tensor:
    n = f["tin"].shape[0]
    if "only" in kind:
        parts = [f["probs"][None].expand(n, -1)]
    else:
        parts = [f["tin"], torch.cat([f["first"], f["probs"]])[None].expand(n, -1)]
    if "lens" in kind:
        lens_probs = torch.softmax(f["lens"], -1)
        rating = lens_probs @ weights
        parts += [f["lens"], lens_probs, rating[:, None], (rating - f["probs"] @ weights)[:, None]]
    if "emb" in kind:
        parts.append(f["emb"])
    return torch.cat(parts, -1)


class Head(nn.Module):
    def __init__(self, n_in: int, width: int, drop: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, width),
            nn.GELU(),
            nn.Dropout(drop),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Dropout(drop),
            nn.Linear(width, 5),
        )

    def forward(self, x):
        return self.net(x)


def words_of(head: Head, f: dict, x: torch.Tensor) -> torch.Tensor:
    """Per-label word scores: token outputs summed over each word, in the teacher's scale."""
    out = head((x - head.mu) / head.sd) * head.scale
    keep = f["t2w"] >= 0
    return torch.zeros(int(f["t2w"].max()) + 1, 5).index_add_(0, f["t2w"][keep], out[keep])


class Experiment:
    def __init__(self):
        self.started = time.perf_counter()
        clf, store, teacher, held, train, sentences, reviews = load_everything()
        from explain.explanation import aggregate
        from explain.store import cached_explain, make_key

        self.weights = torch.tensor(clf.target("rating").weights(5), dtype=torch.float32)

        def labelled(texts):
            kept = []
            for f in features(clf, texts):
                label = store.get(make_key(clf, f["text"], teacher.method, teacher.params, None))
                if label is None or label.alignment.tokens != f["alignment"].tokens:
                    continue
                words = aggregate(
                    label.label_token_scores, f["alignment"].token_to_word, len(f["alignment"].words), "sum"
                )
                f["y"] = torch.tensor(words, dtype=torch.float32)
                kept.append(f)
            return kept

        def referenced(texts):
            out = features(clf, texts)
            for f in out:
                f["ref"] = cached_explain(store, clf, f["text"], "shap", "rating", max_evals=2000).word_scores
            return out

        self.train, self.held = labelled(train), labelled(held)
        self.sentences, self.reviews = referenced(sentences), referenced(reviews)
        print(f"{len(self.train)} to fit on, {len(self.held)} held out; {time.perf_counter() - self.started:.0f} s")

    def fit(self, kind="base", loss="mse", norm=False, width=128, drop=0.0, epochs=60, wd=1e-2, lr=2e-3, seed=0):
        torch.manual_seed(seed)
        w = self.weights
        xs = [inputs_of(f, kind, w) for f in self.train]
        xh = [inputs_of(f, kind, w) for f in self.held]
        stacked = torch.cat(xs)
        head = Head(stacked.shape[1], width, drop)
        head.mu, head.sd, head.kind = stacked.mean(0), stacked.std(0).clamp_min(1e-6), kind
        ys = [f["y"] for f in self.train]
        head.scale = float(torch.cat(ys).std())
        rating_scale = float(torch.cat([y @ w for y in ys]).std())
        optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=wd)
        rng = random.Random(seed)

        def loss_of(f, x, y):
            p = words_of(head, f, x)
            if norm:
                spread = ((y @ w).std() if len(y) > 1 else torch.tensor(1.0)).clamp_min(1e-3)
                value = 0.2 * (((p - y) / spread) ** 2).mean() + ((((p - y) @ w) / spread) ** 2).mean()
            else:
                value = (((p - y) / head.scale) ** 2).mean() + ((((p - y) @ w) / rating_scale) ** 2).mean()
            if loss == "corr" and len(y) > 2:
                a, b = p @ w - (p @ w).mean(), y @ w - (y @ w).mean()
                value = value + 1 - (a * b).sum() / (a.norm() * b.norm() + 1e-8)
            return value

        best, best_state, since = -9.0, None, 0
        for _ in range(epochs):
            head.train()
            order = list(range(len(self.train)))
            rng.shuffle(order)
            for start in range(0, len(order), 32):
                batch = order[start : start + 32]
                value = sum(loss_of(self.train[i], xs[i], ys[i]) for i in batch) / len(batch)
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
            head.eval()
            held = self.held_spearman([head], xh)
            if held > best + 1e-4:
                best, since = held, 0
                best_state = {k: t.clone() for k, t in head.state_dict().items()}
            else:
                since += 1
            if since >= 10:
                break
        head.load_state_dict(best_state)
        self.report(f"{kind:10} {loss:4} norm={norm} width={width} drop={drop} wd={wd} lr={lr} seed={seed}", [head])
        return head

    def predict(self, heads, f) -> np.ndarray:
        with torch.no_grad():
            return np.mean(
                [(words_of(h, f, inputs_of(f, h.kind, self.weights)) @ self.weights).numpy() for h in heads], 0
            )

    def held_spearman(self, heads, xs=None) -> float:
        values = []
        with torch.no_grad():
            for i, f in enumerate(self.held):
                if len(f["y"]) <= 2:
                    continue
                one = xs is not None
                p = (words_of(heads[0], f, xs[i]) @ self.weights).numpy() if one else self.predict(heads, f)
                values.append(spearmanr(p, (f["y"] @ self.weights).numpy())[0])
        return float(np.nanmean(values))

    def report(self, name: str, heads) -> None:
        parts = {}
        for part, texts in (("sentences", self.sentences), ("reviews", self.reviews)):
            rhos, signs = [], []
            for f in texts:
                p, ref = self.predict(heads, f), f["ref"]
                top = np.argsort(-np.abs(ref))[:3]
                rhos.append(spearmanr(p, ref)[0])
                signs.append(np.mean(np.sign(p[top]) == np.sign(ref[top])))
            parts[part] = (float(np.nanmean(rhos)), signs)
        sign = float(np.mean(parts["sentences"][1] + parts["reviews"][1]))
        print(
            f"{name}: held-out vs teacher {self.held_spearman(heads):.3f}; vs reference: sentences "
            f"{parts['sentences'][0]:.3f}, reviews {parts['reviews'][0]:.3f}, top-3 sign {sign:.3f}",
            flush=True,
        )


def main() -> None:
    experiment = Experiment()
    if sys.argv[1:] == ["ensemble"]:
        experiment.report("ensemble of 3 base heads (seeds 0-2)", [experiment.fit(seed=k) for k in range(3)])
    else:
        for variant in json.loads(sys.argv[1] if len(sys.argv) > 1 else '[{"kind": "base"}]'):
            experiment.fit(**variant)
    print(f"{time.perf_counter() - experiment.started:.0f} s")


if __name__ == "__main__":
    main()
