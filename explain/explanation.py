"""`Explanation`: the one output type of every method — tokens, words, scores, target, diagnostics.

It validates itself on construction (inconsistent tokens/scores raise `ValueError` saying which),
is immutable, and round-trips through JSON with `to_dict`/`from_dict`.

Scores answer one question (`explains`): "rating" — what moved the expected rating (scores in the
rating's unit, e.g. stars, for methods that measure it); "label" — why `target` (or why `target` rather
than `contrast`); "none" — class-agnostic methods (attention, rollout) that only say where the model
looked, with no direction, and carry no question. Per-token scores are the
method's own; per-word scores aggregate them with `aggregation` ("sum" for additive methods, so
word scores still add up to the prediction). Word-level methods (LIME, occlusion) spread a word's
score evenly over its tokens, which keeps sums intact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

import numpy as np

from explain.errors import MissingDependencyError
from explain.labels import expected_rating
from explain.sentences import Sentence, sentence_spans, span_totals
from explain.target import Target
from explain.words import Alignment

AGGREGATIONS = ("sum", "mean", "absmax")
EXPLAINS = ("label", "rating", "none")


def aggregate(token_scores: np.ndarray, token_to_word: tuple[int, ...], n_words: int, how: str) -> np.ndarray:
    """Word scores from token scores (first axis), with a named strategy; returns a new array."""
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}; choose from {AGGREGATIONS}")
    token_scores = np.asarray(token_scores, dtype=np.float64)
    out = np.zeros((n_words,) + token_scores.shape[1:])
    owner = np.asarray(token_to_word, dtype=np.intp).reshape(-1)
    keep = owner >= 0
    if how in ("sum", "mean"):  # one pass over the tokens, whatever the text's length
        np.add.at(out, owner[keep], token_scores[keep])
        if how == "mean":
            counts = np.bincount(owner[keep], minlength=n_words).astype(np.float64)
            out /= np.maximum(counts, 1).reshape((-1,) + (1,) * (out.ndim - 1))
        return out
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n_words + 1))
    for w in range(n_words):
        members = order[bounds[w] : bounds[w + 1]]
        if not len(members):
            continue
        block = token_scores[members]
        idx = np.abs(block).argmax(axis=0)
        out[w] = np.take_along_axis(block, idx[None, ...], axis=0)[0]
    return out


def spread(word_scores: np.ndarray, token_to_word: tuple[int, ...]) -> np.ndarray:
    """Token scores from word scores: each word's score split evenly over its tokens (sums kept)."""
    word_scores = np.asarray(word_scores, dtype=np.float64)
    counts = np.bincount([w for w in token_to_word if w >= 0], minlength=len(word_scores))
    out = np.zeros((len(token_to_word),) + word_scores.shape[1:])
    for t, w in enumerate(token_to_word):
        if w >= 0:
            out[t] = word_scores[w] / counts[w]
    return out


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attribution of one prediction to the tokens and words of one text."""

    text: str
    model: str
    method: str
    labels: tuple[str, ...]
    target: int | None  # the explained label (None for the rating and for class-agnostic methods)
    probabilities: np.ndarray  # (n_labels,) exactly Classifier.predict_proba([text])[0]
    alignment: Alignment
    token_scores: np.ndarray  # (n_tokens,) for target (minus contrast)
    word_scores: np.ndarray  # (n_words,)
    contrast: int | None = None
    aggregation: str = "sum"
    label_token_scores: np.ndarray | None = None  # (n_tokens, n_labels) when the method gives every label
    params: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    explains: str = "label"  # "label", "rating" or "none" (class-agnostic: where the model looked)
    label_values: tuple[float, ...] | None = None  # the model's label values, when it has a rating
    unit: str = ""  # what a score is measured in: "stars", "probability", "logit", or "" (no unit)

    def __post_init__(self) -> None:
        object.__setattr__(self, "probabilities", np.array(self.probabilities, dtype=np.float64))
        object.__setattr__(self, "token_scores", np.array(self.token_scores, dtype=np.float64))
        object.__setattr__(self, "word_scores", np.array(self.word_scores, dtype=np.float64))
        object.__setattr__(self, "params", dict(self.params))  # copies: no aliasing of the caller's objects
        object.__setattr__(self, "diagnostics", dict(self.diagnostics))
        if self.label_values is not None:
            object.__setattr__(self, "label_values", tuple(float(v) for v in self.label_values))
        if self.label_token_scores is not None:
            object.__setattr__(self, "label_token_scores", np.array(self.label_token_scores, dtype=np.float64))
        problems = self._question_problems() + self._shape_problems()
        if problems:
            raise ValueError("inconsistent Explanation: " + "; ".join(problems))
        for arr in (self.probabilities, self.token_scores, self.word_scores, self.label_token_scores):
            if arr is not None:
                arr.flags.writeable = False

    def _question_problems(self) -> list[str]:
        """What is wrong with the question (explains, target, contrast, label values)."""
        n_labels, problems = len(self.labels), []
        if self.explains not in EXPLAINS:
            problems.append(f"explains {self.explains!r} is not one of {EXPLAINS}")
        elif self.explains == "label" and self.target is None:
            problems.append("a label explanation needs a target label")
        elif self.explains != "label" and (self.target is not None or self.contrast is not None):
            problems.append(f"a {self.explains!r} explanation has no target or contrast label")
        if self.explains == "rating" and self.label_values is None:
            problems.append("a rating explanation needs the label values")
        if self.label_values is not None and len(self.label_values) != n_labels:
            problems.append(f"{len(self.label_values)} label values for {n_labels} labels")
        if self.target is not None and not 0 <= self.target < n_labels:
            problems.append(f"target {self.target} is not a label index 0..{n_labels - 1}")
        if self.contrast is not None and not (0 <= self.contrast < n_labels and self.contrast != self.target):
            problems.append(f"contrast {self.contrast} must be a label index other than the target")
        if self.aggregation not in AGGREGATIONS:
            problems.append(f"aggregation {self.aggregation!r} is not one of {AGGREGATIONS}")
        return problems

    def _shape_problems(self) -> list[str]:
        """What is inconsistent between the alignment, the probabilities and the scores."""
        a, n_labels, problems = self.alignment, len(self.labels), []
        if self.probabilities.shape != (n_labels,):
            problems.append(
                f"probabilities has shape {self.probabilities.shape}, expected ({n_labels},) for {n_labels} labels"
            )
        n_tok, n_words = len(a.tokens), len(a.words)
        if not (len(a.token_offsets) == len(a.special) == len(a.token_to_word) == n_tok):
            problems.append("alignment: tokens, offsets, special flags and token_to_word differ in length")
        if len(a.word_offsets) != n_words:
            problems.append(f"alignment: {n_words} words but {len(a.word_offsets)} word offsets")
        if any(w >= n_words or w < -1 for w in a.token_to_word):
            problems.append("alignment: token_to_word points outside the words")
        if self.token_scores.shape != (n_tok,):
            problems.append(f"token_scores has shape {self.token_scores.shape}, expected ({n_tok},) for {n_tok} tokens")
        if self.word_scores.shape != (n_words,):
            problems.append(
                f"word_scores has shape {self.word_scores.shape}, expected ({n_words},) for {n_words} words"
            )
        lts = self.label_token_scores
        if lts is not None and lts.shape != (n_tok, n_labels):
            problems.append(f"label_token_scores has shape {lts.shape}, expected ({n_tok}, {n_labels})")
        if not np.all(np.isfinite(self.token_scores)) or not np.all(np.isfinite(self.word_scores)):
            problems.append("scores contain NaN or infinity")
        return problems

    # ------------------------------------------------------------------ views
    @property
    def tokens(self) -> tuple[str, ...]:
        return self.alignment.tokens

    @property
    def words(self) -> tuple[str, ...]:
        return self.alignment.words

    @property
    def target_label(self) -> str | None:
        return None if self.target is None else self.labels[self.target]

    @property
    def contrast_label(self) -> str | None:
        return None if self.contrast is None else self.labels[self.contrast]

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def class_specific(self) -> bool:
        """Do the scores have a direction (toward or away from something)?"""
        return self.explains != "none"

    @property
    def target_spec(self) -> Target | None:
        """The explained number as a `Target` (None for class-agnostic explanations)."""
        if self.explains == "rating":
            return Target.rating(self.label_values)
        if self.explains == "label":
            return Target.of_label(self.target, self.contrast)
        return None

    @property
    def expected_rating(self) -> float | None:
        """Sum of value x probability for this text, when the model has a rating."""
        return expected_rating(self.probabilities, self.label_values)

    @property
    def question(self) -> str:
        """The question these scores answer, in words."""
        if self.explains == "none":
            return "where the model looked (no direction)"
        if self.explains == "rating":
            return "what moved the rating"
        if self.contrast is None:
            return f"why {self.target_label}"
        return f"why {self.target_label} rather than {self.contrast_label}"

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        """Sentence roll-up: each sentence's character span, text and the sum of its words' scores."""
        spans = sentence_spans(self.text)
        totals, _ = span_totals(self.alignment.word_offsets, self.word_scores, spans)
        return tuple(
            Sentence(start, end, self.text[start:end], float(total))
            for (start, end), total in zip(spans, totals, strict=True)
        )

    @property
    def scored_whole_sentences(self) -> bool:
        """Did the method remove whole sentences or chunks (occlusion and LIME `units`)? Then each one's score
        is spread evenly over its words: its words carry no ranking of their own, its sentences do."""
        return self.diagnostics.get("unit") in ("sentence", "chunk")

    def top_sentences(self, k: int | None = 3) -> list[tuple[str, float]]:
        """The k sentences (all of them for None) with the largest |score| (the sum of their words' scores),
        largest first."""
        ranked = sorted(self.sentences, key=lambda s: -abs(s.score))[:k]
        return [(s.text, s.score) for s in ranked]

    def top_words(self, k: int = 10, positive: bool | None = None) -> list[tuple[str, float]]:
        """The k words with the largest |score| (or largest / smallest score when `positive` is set)."""
        scores = self.word_scores
        key = -np.abs(scores) if positive is None else (-scores if positive else scores)
        order = np.argsort(key, kind="stable")[:k]
        return [(self.words[i], float(scores[i])) for i in order]

    def to_frame(self, level: str = "word"):
        """A pandas DataFrame, one row per word (`level="token"`: per subword token, specials flagged): its text,
        character span, score and unit, and the sentence it starts in (index and text). Needs pandas."""
        pd = import_pandas()
        spans = sentence_spans(self.text)
        starts = np.asarray([s for s, _ in spans])
        if level == "word":
            rows = zip(self.words, self.alignment.word_offsets, self.word_scores, strict=True)
            columns = {"word": [], "start": [], "end": [], "score": []}
        elif level == "token":
            a = self.alignment
            rows = zip(a.tokens, a.token_offsets, self.token_scores, strict=True)
            columns = {"token": [], "start": [], "end": [], "score": []}
        else:
            raise ValueError(f"level must be 'word' or 'token', not {level!r}")
        name = next(iter(columns))
        sentence = []
        for text, (start, end), score in rows:
            columns[name].append(text)
            columns["start"].append(int(start))
            columns["end"].append(int(end))
            columns["score"].append(float(score))
            i = int(np.searchsorted(starts, start, side="right")) - 1 if end > start else -1
            sentence.append(i if i >= 0 and start < spans[i][1] else -1)
        frame = pd.DataFrame(columns)
        frame["unit"] = self.unit
        frame["sentence"] = sentence
        frame["sentence_text"] = [self.text[slice(*spans[i])] if i >= 0 else "" for i in sentence]
        if level == "token":
            frame["special"] = list(self.alignment.special)
        frame.attrs.update(method=self.method, question=self.question, text=self.text)
        return frame

    def for_label(self, target: int, contrast: int | None = None) -> Explanation:
        """The same explanation for another target (and contrast), for methods that scored every label."""
        return self.for_target(Target.of_label(target, contrast))

    def for_target(self, target: Target) -> Explanation:
        """The same explanation for another question (a label, a contrast or the rating), for methods that
        scored every label: their per-label scores are combined with `target.weights`."""
        if self.label_token_scores is None:
            raise ValueError(f"{self.method} scored only {self.question!r}; explain again with that target")
        tok = self.label_token_scores @ target.weights(len(self.labels))
        words = aggregate(tok, self.alignment.token_to_word, len(self.words), self.aggregation)
        if target.is_rating:
            return replace(
                self,
                target=None,
                contrast=None,
                explains="rating",
                label_values=target.values,
                token_scores=tok,
                word_scores=words,
            )
        return replace(
            self, target=target.label, contrast=target.contrast, explains="label", token_scores=tok, word_scores=words
        )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; `from_dict(to_dict())` gives an equal explanation."""
        a = self.alignment
        return {
            "text": self.text,
            "model": self.model,
            "method": self.method,
            "labels": list(self.labels),
            "target": self.target,
            "target_label": self.target_label,
            "contrast": self.contrast,
            "explains": self.explains,
            "label_values": None if self.label_values is None else list(self.label_values),
            "unit": self.unit,
            "probabilities": self.probabilities.tolist(),
            "tokens": list(a.tokens),
            "token_offsets": [list(o) for o in a.token_offsets],
            "special": list(a.special),
            "words": list(a.words),
            "word_offsets": [list(o) for o in a.word_offsets],
            "token_to_word": list(a.token_to_word),
            "token_scores": self.token_scores.tolist(),
            "word_scores": self.word_scores.tolist(),
            "aggregation": self.aggregation,
            "label_token_scores": None if self.label_token_scores is None else self.label_token_scores.tolist(),
            "params": jsonable(self.params),
            "diagnostics": jsonable(self.diagnostics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        alignment = Alignment(
            tokens=tuple(data["tokens"]),
            token_offsets=tuple(tuple(o) for o in data["token_offsets"]),
            special=tuple(bool(s) for s in data["special"]),
            words=tuple(data["words"]),
            word_offsets=tuple(tuple(o) for o in data["word_offsets"]),
            token_to_word=tuple(int(w) for w in data["token_to_word"]),
        )
        lts = data.get("label_token_scores")
        return cls(
            text=data["text"],
            model=data["model"],
            method=data["method"],
            labels=tuple(data["labels"]),
            target=None if data.get("target") is None else int(data["target"]),
            contrast=data.get("contrast"),
            explains=data.get("explains", "label"),
            label_values=data.get("label_values"),
            unit=data.get("unit", ""),
            probabilities=np.asarray(data["probabilities"]),
            alignment=alignment,
            token_scores=np.asarray(data["token_scores"]),
            word_scores=np.asarray(data["word_scores"]),
            aggregation=data.get("aggregation", "sum"),
            label_token_scores=None if lts is None else np.asarray(lts),
            params=data.get("params", {}),
            diagnostics=data.get("diagnostics", {}),
        )

    def __repr__(self) -> str:
        top = ", ".join(f"{w}={s:+.3f}" for w, s in self.top_words(3))
        return f"Explanation({self.method}, {self.question}, {len(self.words)} words, top: {top})"


def import_pandas():
    """pandas, which only the DataFrame functions need; a one-line `MissingDependencyError` without it."""
    try:
        import pandas
    except ImportError:
        raise MissingDependencyError("DataFrames need pandas: pip install pandas") from None
    return pandas


def jsonable(value: Any) -> Any:
    """Plain JSON values from nested mappings, sequences, numpy arrays/scalars and paths (a new object)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    return value
