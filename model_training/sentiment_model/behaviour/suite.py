"""The behavioural suite's cases: written by hand, as templates filled from word lists, and never trained on.

Three types of test, as CheckList names them:

- ``Mft`` (minimum functionality): a text and the labels it may get ("I don't hate it" may be neutral or
  positive, never negative);
- ``Inv`` (invariance): a text and a copy with a name, product, place or number swapped, a neutral emoji
  added or a typo made; the answer must not move;
- ``Dir`` (directional): a text and a copy with a word added ("really", "terrible", "not"); one label's
  probability must move the expected way.

Every case belongs to a capability (:data:`CAPABILITIES`). :func:`cases` builds the whole suite, the same
every time (no randomness): a change here is a change of the measuring set, and the floors in
``tests/integration/test_behaviour_floors.py`` are measured on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
NOT_NEGATIVE = (NEUTRAL, POSITIVE)

CAPABILITIES = {
    "vocabulary": "clear positive and negative words about products and support",
    "negation": "negated sentiment: not bad at all, not good, never again, I don't hate it",
    "hedges": "hedges and unmet expectations: I expected more, could be better",
    "contrast": "two clauses joined by but: the clause after it leads",
    "sarcasm": "praise words around bad news: great, another delay",
    "neutral": "facts, logistics, questions and requests, with no sentiment",
    "emoji": "emoji and emoticons, alone or with a few words",
    "robustness": "names, products, places, numbers, a neutral emoji or a typo changed",
}


@dataclass(frozen=True)
class Mft:
    """``text`` must get one of ``expected``."""

    capability: str
    text: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class Inv:
    """``changed`` (``text`` with ``change`` made) must get the same answer as ``text``."""

    capability: str
    text: str
    changed: str
    change: str


@dataclass(frozen=True)
class Dir:
    """From ``text`` to ``changed`` (``change`` made), P(``label``) must rise (``rises``) or fall."""

    capability: str
    text: str
    changed: str
    change: str
    label: str
    rises: bool


Case = Mft | Inv | Dir

# ---- word lists ----

THINGS = ("phone", "laptop", "headset", "charger", "app", "printer", "blender", "router")
POSITIVE_WORDS = ("excellent", "fantastic", "great", "reliable", "superb", "wonderful")
NEGATIVE_WORDS = ("awful", "useless", "terrible", "disappointing", "unreliable", "dreadful")
SUPPORT = ("support agent", "delivery driver", "help desk", "customer service team")
SUPPORT_POSITIVE = ("friendly and quick", "patient and helpful", "brilliant")
SUPPORT_NEGATIVE = ("rude and slow", "unhelpful", "hopeless")

GOOD_CLAUSES = (
    "the screen is gorgeous",
    "the price was fair",
    "the staff were lovely",
    "setup took two minutes",
    "the sound is rich and clear",
)
BAD_CLAUSES = (
    "the battery dies by noon",
    "it broke after a week",
    "the app crashes every day",
    "the refund never arrived",
)

SARCASTIC_OPENERS = ("Great", "Oh wonderful", "Fantastic", "Just perfect", "Brilliant", "Lovely")
BAD_NEWS = ("another delay", "it crashed again", "my parcel is lost again", "the update wiped my settings")


def _vocabulary() -> list[Case]:
    cases: list[Case] = []
    for index, thing in enumerate(THINGS):
        good, bad = POSITIVE_WORDS[index % len(POSITIVE_WORDS)], NEGATIVE_WORDS[index % len(NEGATIVE_WORDS)]
        cases.append(Mft("vocabulary", f"The {thing} is {good}.", (POSITIVE,)))
        cases.append(Mft("vocabulary", f"This {thing} is {bad}.", (NEGATIVE,)))
    for who, good in product(SUPPORT, SUPPORT_POSITIVE):
        cases.append(Mft("vocabulary", f"The {who} was {good}.", (POSITIVE,)))
    for who, bad in product(SUPPORT, SUPPORT_NEGATIVE):
        cases.append(Mft("vocabulary", f"The {who} was {bad}.", (NEGATIVE,)))
    for thing, good in zip(THINGS[:6], POSITIVE_WORDS, strict=True):
        cases.append(
            Dir("vocabulary", f"The {thing} is {good}.", f"The {thing} is really {good}.", "really", POSITIVE, True)
        )
    for thing, bad in zip(THINGS[2:], NEGATIVE_WORDS, strict=True):
        cases.append(
            Dir("vocabulary", f"The {thing} is {bad}.", f"The {thing} is really {bad}.", "really", NEGATIVE, True)
        )
    for thing in THINGS:
        text = f"I bought the {thing} last month."
        cases.append(Dir("vocabulary", text, f"{text} Terrible.", "terrible", NEGATIVE, True))
        cases.append(Dir("vocabulary", text, f"{text} Love it!", "love it", POSITIVE, True))
    return cases


NEGATED = (
    ("Not bad at all.", NOT_NEGATIVE),
    ("Honestly, not bad at all for the price.", NOT_NEGATIVE),
    ("Never again.", (NEGATIVE,)),
    ("I will never order from this shop again.", (NEGATIVE,)),
    ("I don't hate it.", NOT_NEGATIVE),
    ("Not impressed.", (NEGATIVE,)),
    ("I can't complain, it does the job.", NOT_NEGATIVE),
    ("No problems so far, it just works.", (POSITIVE,)),
    ("Nothing went wrong with the order.", NOT_NEGATIVE),
    ("The support team did not help at all.", (NEGATIVE,)),
    ("It doesn't work and nobody replies.", (NEGATIVE,)),
    ("I wouldn't recommend it to anyone.", (NEGATIVE,)),
    ("I would not hesitate to buy it again.", (POSITIVE,)),
    ("It never lets me down.", (POSITIVE,)),
    ("Not a single complaint from me.", (POSITIVE,)),
    ("Not worth the money.", (NEGATIVE,)),
)


def _negation() -> list[Case]:
    cases: list[Case] = [Mft("negation", text, expected) for text, expected in NEGATED]
    for index, thing in enumerate(THINGS):
        cases.append(Mft("negation", f"The {thing} is not {POSITIVE_WORDS[index % len(POSITIVE_WORDS)]}.", (NEGATIVE,)))
    for thing, bad in zip(THINGS[:4], ("terrible", "awful", "bad", "useless"), strict=True):
        cases.append(Mft("negation", f"The {thing} is not {bad} at all.", NOT_NEGATIVE))
    for thing, good in zip(THINGS[2:], POSITIVE_WORDS, strict=True):
        cases.append(Dir("negation", f"The {thing} is {good}.", f"The {thing} is not {good}.", "not", POSITIVE, False))
    return cases


HEDGES = (
    "I expected more, honestly.",
    "Could be better.",
    "Not quite what I hoped for.",
    "I was hoping for more from this {thing}.",
    "The {thing} could be a lot better.",
    "For the price I expected more from the {thing}.",
    "The {thing} is not what I was promised.",
    "I thought the {thing} would last longer than this.",
    "The {thing} should have been better for the money.",
    "I wanted to like the {thing}, but no.",
    "It's fine I guess, but I expected better.",
    "Meh. It does less than the advert said.",
)


def _hedges() -> list[Case]:
    cases: list[Case] = []
    for index, template in enumerate(HEDGES):
        things = (THINGS[index % len(THINGS)], THINGS[(index + 3) % len(THINGS)]) if "{thing}" in template else ("",)
        cases += [Mft("hedges", template.format(thing=thing), (NEGATIVE,)) for thing in things]
    cases.append(Mft("hedges", "It's okay, I suppose.", (NEGATIVE, NEUTRAL)))
    cases.append(Mft("hedges", "Not as good as the old one.", (NEGATIVE,)))
    for thing, good in zip(THINGS[:6], POSITIVE_WORDS, strict=True):
        text = f"The {thing} is {good}."
        changed = f"The {thing} is {good}, but I expected more."
        cases.append(Dir("hedges", text, changed, "but I expected more", POSITIVE, False))
    return cases


def _contrast() -> list[Case]:
    cases: list[Case] = []
    for good, bad in product(GOOD_CLAUSES, BAD_CLAUSES):
        cases.append(Mft("contrast", f"{good.capitalize()} but {bad}.", (NEGATIVE,)))
        cases.append(Mft("contrast", f"{bad.capitalize()}, but {good}.", (POSITIVE,)))
    for good, bad in zip(GOOD_CLAUSES, BAD_CLAUSES * 2, strict=False):
        cases.append(
            Dir("contrast", f"{good.capitalize()}.", f"{good.capitalize()}, but {bad}.", "but …", NEGATIVE, True)
        )
        cases.append(
            Dir("contrast", f"{bad.capitalize()}.", f"{bad.capitalize()}, but {good}.", "but …", POSITIVE, True)
        )
    return cases


def _sarcasm() -> list[Case]:
    cases: list[Case] = [
        Mft("sarcasm", f"{opener}, {news}.", (NEGATIVE,)) for opener, news in product(SARCASTIC_OPENERS, BAD_NEWS)
    ]
    cases.append(Mft("sarcasm", "Thanks for nothing.", (NEGATIVE,)))
    cases.append(Mft("sarcasm", "Wow, what amazing service: three hours on hold.", (NEGATIVE,)))
    for opener, news in zip(SARCASTIC_OPENERS, BAD_NEWS * 2, strict=False):
        text = f"{news.capitalize()}."
        cases.append(Dir("sarcasm", text, f"{opener}, {news}.", opener.lower(), NEGATIVE, True))
    return cases


NEUTRAL_TEXTS = (
    "The meeting is at 3pm in room 4.",
    "Shipping took 3 days.",
    "How do I reset my password?",
    "Please send the invoice.",
    "It is a table.",
    "My order number is 48213.",
    "The store opens at 9am on Saturdays.",
    "Can I change my delivery address?",
    "The parcel was left with a neighbour.",
    "I am writing about my subscription.",
    "Where can I find the user manual?",
    "The laptop has two USB ports.",
    "Please call me back after five.",
    "The charger is sold separately.",
    "What time does the help desk close?",
    "The router is black and weighs 300 grams.",
    "I ordered the blue one.",
    "Could you confirm my booking for Tuesday?",
    "The app asks for my email address at sign-up.",
    "Delivery is expected on Monday.",
    "Is this model available in Spain?",
    "I paid by card.",
    "The printer uses A4 paper.",
    "Send the form to the billing department.",
    "The warranty covers two years.",
    "Which cable do I need for the printer?",
    "Our office moved to the second floor.",
    "Please update the shipping address on order 5521.",
    "The headset comes in three colours.",
    "Tell me when the technician arrives.",
)


def _neutral() -> list[Case]:
    return [Mft("neutral", text, (NEUTRAL,)) for text in NEUTRAL_TEXTS]


EMOJI = (
    (":)", (POSITIVE,)),
    (":-)", (POSITIVE,)),
    (":D", (POSITIVE,)),
    (":(", (NEGATIVE,)),
    (":-(", (NEGATIVE,)),
    ("🙂 thanks", (POSITIVE,)),
    ("😡😡😡", (NEGATIVE,)),
    ("😍", (POSITIVE,)),
    ("👍", (POSITIVE,)),
    ("👎", (NEGATIVE,)),
    ("😢", (NEGATIVE,)),
    ("🤬", (NEGATIVE,)),
    ("❤️❤️", (POSITIVE,)),
    ("🎉🎉", (POSITIVE,)),
    ("My order arrived 😡", (NEGATIVE,)),
    ("My order arrived 😍", (POSITIVE,)),
    ("The update is out 🎉", (POSITIVE,)),
    ("The update is out 😞", (NEGATIVE,)),
    ("Support replied :)", (POSITIVE,)),
    ("Support replied :(", (NEGATIVE,)),
    ("new phone 👍", (POSITIVE,)),
    ("new phone 👎", (NEGATIVE,)),
    ("thanks 🙏", (POSITIVE,)),
    ("still waiting 😤", (NEGATIVE,)),
)


EMOJI_ADDED = (
    ("My order arrived.", "😡", NEGATIVE),
    ("The technician came today.", "😞", NEGATIVE),
    ("Support answered my email.", "👎", NEGATIVE),
    ("My order arrived.", "😍", POSITIVE),
    ("The technician came today.", ":)", POSITIVE),
    ("Support answered my email.", "👍", POSITIVE),
)


def _emoji() -> list[Case]:
    cases: list[Case] = [Mft("emoji", text, expected) for text, expected in EMOJI]
    for text, emoji, label in EMOJI_ADDED:
        cases.append(Dir("emoji", text, f"{text} {emoji}", emoji, label, True))
    return cases


# Texts with a name, a product, a place and a number to swap, and words to misspell.
ROBUST_TEXTS = (
    "Anna at the Berlin store sold me a great phone for 300 euros.",
    "Anna at the Berlin store was rude about my phone, and I waited 40 minutes.",
    "Anna from the Berlin office says the phone ships in 3 days.",
    "Tom fixed my laptop in Leeds within 2 hours, fantastic service.",
    "Tom in Leeds lost my laptop for 2 weeks, awful service.",
    "Tom collected my laptop from Leeds on day 2.",
    "Maria in Lisbon refunded the headset after 5 days, thank you so much.",
    "Maria in Lisbon ignored my headset complaint for 5 days, useless.",
    "Sam in Dublin is picking up the phone on Friday at 10.",
    "Sam in Dublin charged me 80 euros twice for one phone, not happy.",
)
SWAPS = (
    ("name", {"Anna": "Priya", "Tom": "Kwame", "Maria": "Olga", "Sam": "Lena"}),
    ("product", {"phone": "tablet", "laptop": "camera", "headset": "speaker"}),
    ("place", {"Berlin": "Madrid", "Leeds": "Osaka", "Lisbon": "Nairobi", "Dublin": "Lyon"}),
    ("number", {"300": "450", "40": "25", "3": "4", "2": "6", "5": "9", "10": "11", "80": "95"}),
)
NEUTRAL_EMOJI = ("📦", "📱", "🏠")
TYPOS = {"store": "stroe", "service": "servcie", "refunded": "refnuded", "ignored": "ingored", "ships": "shpis"}
TYPOS |= {"collected": "colected", "office": "offcie", "picking": "pickign", "charged": "chraged"}


def _swap(text: str, words: dict[str, str]) -> str:
    """``text`` with each whole word of ``words`` replaced (``3`` is not a part of ``300``)."""
    return re.sub(r"\w+", lambda match: words.get(match[0], match[0]), text)


def _robustness() -> list[Case]:
    cases: list[Case] = []
    for index, text in enumerate(ROBUST_TEXTS):
        for change, words in SWAPS:
            cases.append(Inv("robustness", text, _swap(text, words), change))
        cases.append(Inv("robustness", text, f"{text} {NEUTRAL_EMOJI[index % len(NEUTRAL_EMOJI)]}", "neutral emoji"))
        cases.append(Inv("robustness", text, _swap(text, TYPOS), "typo"))
    return cases


def cases() -> list[Case]:
    """The whole suite, in a fixed order."""
    return [
        *_vocabulary(),
        *_negation(),
        *_hedges(),
        *_contrast(),
        *_sarcasm(),
        *_neutral(),
        *_emoji(),
        *_robustness(),
    ]
