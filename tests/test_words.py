import pytest
import torch

from explain.classifier import Classifier
from explain.words import align

SEED = "I hate very cold, and cloudy winter days"


def test_cloud_y_is_one_word():
    tokens = ["[CLS]", "cloud", "##y", "[SEP]"]
    a = align("cloudy", tokens, [(0, 0), (0, 5), (5, 6), (0, 0)], [True, False, False, True])
    assert a.words == ("cloudy",)
    assert a.token_to_word == (-1, 0, 0, -1)


@pytest.fixture(scope="module")
def wordpiece_classifier():
    """A classifier whose WordPiece vocabulary lacks 'cloudy', so it becomes cloud ##y."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "i",
        "hate",
        "cloud",
        "##y",
        "days",
        ",",
        "and",
        "winter",
        "very",
        "cold",
    ]
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})
    torch.manual_seed(0)
    model = BertForSequenceClassification(
        BertConfig(
            vocab_size=len(vocab),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            num_labels=5,
        )
    )
    return Classifier(model, tok)


def test_subwords_group_into_words_through_the_classifier(wordpiece_classifier):
    a = wordpiece_classifier.align(SEED)
    assert "##y" in a.tokens
    assert a.words == ("I", "hate", "very", "cold", ",", "and", "cloudy", "winter", "days")
    cloudy = a.words.index("cloudy")
    assert [a.tokens[t] for t in a.word_tokens(cloudy)] == ["cloud", "##y"]
    assert a.token_to_word[0] == -1 and a.token_to_word[-1] == -1


def test_roberta_word_alignment_is_consistent(tiny_roberta):
    text = "It's not bad, but I wouldn't buy it again."
    a = tiny_roberta.align(text)
    # every non-special token sits in exactly one word, and each word's span is the text it shows
    assert all((w >= 0) != s for w, s in zip(a.token_to_word, a.special, strict=True))
    for (start, end), word in zip(a.word_offsets, a.words, strict=True):
        assert text[start:end] == word
    assert "".join(a.words) == "".join(text.split())


def test_words_past_truncation_are_left_out(tiny_bert):
    text = "word " * 300
    a = Classifier(tiny_bert.model, tiny_bert.tokenizer, long="truncate").align(text)
    assert len(a.words) == tiny_bert.max_length - 2
    assert len(tiny_bert.align(text).words) == 300  # read in windows (the default): every word


def test_emoji_and_unknown_characters_keep_offsets(tiny_bert):
    text = "Love it ❤️👍🏽 !!"
    a = tiny_bert.align(text)
    for (start, end), word in zip(a.word_offsets, a.words, strict=True):
        assert text[start:end] == word
    assert a.words[:2] == ("Love", "it")


def test_removal_modes():
    from types import SimpleNamespace

    from explain.errors import UserError
    from explain.words import removal_string, remove_words

    bert_like, no_mask = SimpleNamespace(mask_token="[MASK]"), SimpleNamespace(mask_token=None)
    assert removal_string(bert_like, "delete") == "" and removal_string(bert_like, "mask") == "[MASK]"
    with pytest.raises(UserError, match="no mask token"):
        removal_string(no_mask, "mask")
    with pytest.raises(UserError, match="removal mode"):
        removal_string(bert_like, "erase")
    text = "Great sound, terrible price!"
    assert remove_words(text, [(0, 5), (13, 21)]) == " sound,  price!"
    assert remove_words(text, [(13, 21)], "[MASK]") == "Great sound, [MASK] price!"
