"""Text preprocessing shared by training and serving.

Only NLTK components that ship their own data are used (TweetTokenizer, the Snowball stemmer,
negation marking): the NLTK downloader cannot reach anything in a Lambda or in a locked-down VPC.

The analyzers are plain functions passed to scikit-learn's vectorizers *and* used by the
compiled scorer at serving time, so training and serving can never tokenize differently.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from nltk.sentiment.util import mark_negation
from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize import TweetTokenizer

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_DIGITS = re.compile(r"\d+")
_WHITESPACE = re.compile(r"\s+")
_WORD_CHARS = re.compile(r"[a-z][a-z']*")

_tokenizer = TweetTokenizer(preserve_case=False, reduce_len=True)
_stemmer = SnowballStemmer("english")

CHAR_NGRAM_RANGE = (2, 5)


def _load_valence_lexicon() -> dict[str, float]:
    """VADER's human-rated valence lexicon (MIT), read from the file its package ships."""
    lexicon: dict[str, float] = {}
    raw = files("vaderSentiment").joinpath("vader_lexicon.txt").read_bytes().decode("utf-8", "replace")
    for line in raw.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    return lexicon


VALENCE = _load_valence_lexicon()


def normalize(text: str) -> str:
    """Lower-case and replace the parts of a text that carry no sentiment (links, handles,
    numbers) with placeholders, so tweets and review prose share one vocabulary."""
    text = _URL.sub(" url ", text)
    text = _HANDLE.sub(" @user ", text)
    text = _DIGITS.sub("0", text)
    return _WHITESPACE.sub(" ", text).strip().lower()


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    # Snowball is the slowest step per token; the vocabulary of real traffic is small.
    return _stemmer.stem(token)


def _valence_feature(token: str, negated: bool) -> str | None:
    """A coarse lexicon cue such as ``lex:pos2`` or ``lex:neg3_NEG``: it lets the model use
    sentiment words it never saw in training."""
    valence = VALENCE.get(token)
    if valence is None:
        return None
    strength = 1 if abs(valence) < 1.5 else 2 if abs(valence) < 2.5 else 3
    return f"lex:{'pos' if valence > 0 else 'neg'}{strength}{'_NEG' if negated else ''}"


def word_features(text: str) -> list[str]:
    """Stemmed word unigrams and bigrams with NLTK's negation scope marking ("not good" ->
    "not", "good_NEG"), plus valence-lexicon cues."""
    tokens = mark_negation(_tokenizer.tokenize(normalize(text)))
    stems = []
    cues = []
    for token in tokens:
        negated = token.endswith("_NEG")
        word = token[:-4] if negated else token
        stems.append(_stem(word) + "_NEG" if negated else _stem(word))
        cue = _valence_feature(word, negated)
        if cue is not None:
            cues.append(cue)
    bigrams = [f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False)]
    return stems + bigrams + cues


def char_features(text: str) -> list[str]:
    """Character n-grams inside word boundaries: robust to the misspellings, elongations and
    mojibake of tweets, and to unseen inflections in reviews."""
    low, high = CHAR_NGRAM_RANGE
    grams: list[str] = []
    for word in _WORD_CHARS.findall(normalize(text)):
        padded = f" {word} "
        size = len(padded)
        for n in range(low, min(high, size) + 1):
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams
