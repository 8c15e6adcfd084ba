"""Emoji read as what they mean. The encoder's vocabulary holds almost none of them (its tokenizer reads
"😡" as ``[UNK]``), so before encoding each emoji is replaced by its CLDR short name as VADER's emoji
lexicon gives it: ``emoji_utf8_lexicon.txt`` in the pinned ``vaderSentiment`` package (MIT, the same
package as the valence lexicon in :mod:`sentiment_model.text`). Skin tones and the emoji presentation
selector say nothing of sentiment and are dropped first ("👍🏽" and "👍" are both "thumbs up").
"""

from __future__ import annotations

import re
from importlib.resources import files

SELECTOR = "\ufe0f"  # VARIATION SELECTOR-16: show the character as an emoji
_MODIFIERS = re.compile(f"[{SELECTOR}\U0001f3fb-\U0001f3ff]")  # and the five Fitzpatrick skin tones


def _load() -> dict[str, str]:
    names: dict[str, str] = {}
    raw = files("vaderSentiment").joinpath("emoji_utf8_lexicon.txt").read_bytes().decode("utf-8")
    for line in raw.splitlines():
        symbol, _, name = line.strip("\r\n").partition("\t")
        symbol = _MODIFIERS.sub("", symbol)
        if symbol and not symbol[0].isascii() and name:  # not the keycaps ("1️⃣"): digits stay digits
            names.setdefault(symbol, name.split(":")[0].strip())  # "thumbs up: medium skin tone"
    return names


NAMES = _load()
_LONGEST = max(map(len, NAMES))


def _ranges(characters: set[str]) -> str:
    """A character class of ``characters`` as runs of consecutive code points: a class of a thousand
    single characters costs re about 1 µs a character searched, one of runs a few nanoseconds."""
    points = sorted(map(ord, characters))
    runs: list[list[int]] = []
    for point in points:
        if runs and point == runs[-1][1] + 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return "".join(re.escape(chr(low)) + (f"-{re.escape(chr(high))}" if high > low else "") for low, high in runs)


_FIRST = re.compile(f"[{_ranges({symbol[0] for symbol in NAMES})}]")


def spell_out(text: str) -> str:
    """``text`` with every emoji the lexicon knows replaced by its name, the longest sequence first
    ("👩‍❤️‍👨" is one emoji, not three); other characters are left as they are."""
    if text.isascii():
        return text
    text = _MODIFIERS.sub("", text)
    parts: list[str] = []
    done = position = 0
    while found := _FIRST.search(text, position):
        start = found.start()
        for length in range(min(_LONGEST, len(text) - start), 0, -1):
            name = NAMES.get(text[start : start + length])
            if name is not None:
                parts += [text[done:start], f" {name} "]
                done = position = start + length
                break
        else:
            position = start + 1
    return "".join(parts) + text[done:] if parts else text
