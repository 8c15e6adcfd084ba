"""Text preprocessing shared by training and serving.

Only NLTK components that ship their own data are used (its emoticon pattern, its negation
words and clause punctuation, the Snowball stemmer): the NLTK downloader cannot reach anything
in a Lambda or in a locked-down VPC. NLTK 3.10 routes each of its own regex calls through a
ReDoS guard costing ~3 µs a call, and TweetTokenizer costs ~150 µs a text, so NLTK's patterns
are compiled once with the standard library and applied here (same definitions, ~10x faster):
serving has a 0.2 ms budget per text.

The analyzers are plain functions passed to scikit-learn's vectorizers *and* used by the
compiled scorer at serving time, so training and serving can never tokenize differently.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from itertools import pairwise

from nltk.sentiment.util import NEGATION_RE
from nltk.stem.snowball import SnowballStemmer
from nltk.tokenize.casual import EMOTICONS

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_DIGITS = re.compile(r"\d+")
_WHITESPACE = re.compile(r"\s+")
_WORD_CHARS = re.compile(r"[a-z][a-z']*")
_LENGTHENING = re.compile(r"(.)\1{2,}")  # as nltk.tokenize.casual.reduce_lengthening
_NEGATION = re.compile(NEGATION_RE.pattern, re.VERBOSE)
_CLAUSE_END = frozenset(".:;!?")  # nltk.sentiment.util.CLAUSE_PUNCT_RE: one of these alone

# Emoticons first (":-)" stays one token), then hashtags and handles, words with inner
# apostrophes ("don't"), and any other single symbol.
_TOKEN = re.compile(rf"{EMOTICONS} | [@\#]\w+ | \w+(?:['’]\w+)* | [^\w\s]", re.VERBOSE)
_stemmer = SnowballStemmer("english")

CHAR_NGRAM_RANGE = (3, 5)  # bigrams added nothing on the golden split and cost a quarter of the look-ups


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


def _three(match: re.Match[str]) -> str:
    return match.group(1) * 3


@lru_cache(maxsize=8)  # the word and character analyzers see the same text one after the other
def normalize(text: str) -> str:
    """Lower-case and replace the parts of a text that carry no sentiment (links, handles,
    numbers) with placeholders, so tweets and review prose share one vocabulary."""
    text = _URL.sub(" url ", text)
    text = _HANDLE.sub(" @user ", text)
    text = _DIGITS.sub("0", text)
    text = _LENGTHENING.sub(_three, text)  # "soooo" -> "sooo"
    return _WHITESPACE.sub(" ", text).strip().lower()


# Snowball costs ~25 µs a word, the slowest step by far. Stems are remembered; the model
# artifact carries the table of every word seen in training so a server starts warm.
_STEMS: dict[str, str] = {}
MAX_REMEMBERED_STEMS = 500_000


def _stem(token: str) -> str:
    stem = _STEMS.get(token)
    if stem is None:
        if len(_STEMS) >= MAX_REMEMBERED_STEMS:
            _STEMS.clear()
        stem = _STEMS[token] = _stemmer.stem(token)
    return stem


def known_stems() -> dict[str, str]:
    return dict(_STEMS)


def remember_stems(table: dict[str, str]) -> None:
    _STEMS.update(table)


def _valence_cue(valence: float) -> str:
    """A coarse lexicon cue such as ``lex:pos2``: it lets the model use sentiment words it never
    saw in training."""
    strength = 1 if abs(valence) < 1.5 else 2 if abs(valence) < 2.5 else 3
    return f"lex:{'pos' if valence > 0 else 'neg'}{strength}"


VALENCE_CUES = {word: _valence_cue(valence) for word, valence in VALENCE.items()}


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


@lru_cache(maxsize=200_000)
def _is_negation(token: str) -> bool:
    return _NEGATION.search(token) is not None


def mark_negation(tokens: list[str]) -> list[tuple[str, bool]]:
    """NLTK's ``mark_negation`` rule: after a negation word, every token is negated until
    clause punctuation; the negation word itself is not."""
    marked = []
    in_scope = False
    for token in tokens:
        if not in_scope and _is_negation(token):
            in_scope = True
            marked.append((token, False))
        elif in_scope and token in _CLAUSE_END:
            in_scope = False
            marked.append((token, False))
        else:
            marked.append((token, in_scope))
    return marked


def word_features(text: str) -> list[str]:
    """Stemmed word unigrams and bigrams with NLTK's negation scope marking ("not good" ->
    "not", "good_NEG"), plus valence-lexicon cues."""
    stems = []
    cues = []
    known_stem, cue_of = _STEMS.get, VALENCE_CUES.get  # the hot loop of serving: plain look-ups
    for word, negated in mark_negation(tokenize(text)):
        stem = known_stem(word) or _stem(word)
        cue = cue_of(word)
        if negated:
            stems.append(stem + "_NEG")
            if cue:
                cues.append(cue + "_NEG")
        else:
            stems.append(stem)
            if cue:
                cues.append(cue)
    bigrams = [f"{a} {b}" for a, b in pairwise(stems)]
    return stems + bigrams + cues


def char_words(text: str) -> list[str]:
    """The words whose character n-grams make up :func:`char_features`."""
    return _WORD_CHARS.findall(normalize(text))


def word_char_ngrams(word: str) -> list[str]:
    low, high = CHAR_NGRAM_RANGE
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, min(high, size) + 1):
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def char_features(text: str) -> list[str]:
    """Character n-grams inside word boundaries: robust to the misspellings, elongations and
    mojibake of tweets, and to unseen inflections in reviews. Always the concatenation of
    :func:`word_char_ngrams` over :func:`char_words`, which the serving scorer relies on."""
    grams: list[str] = []
    for word in char_words(text):
        grams.extend(word_char_ngrams(word))
    return grams
