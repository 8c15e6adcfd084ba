"""EventBridge rules for the functions' ``EventBridgeRule`` events: an event that a rule's pattern matches
invokes its function asynchronously, as EventBridge invokes a Lambda target ("Amazon EventBridge event
patterns", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html; "Comparison
operators for use in event patterns",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):

- every field a pattern names must match; a pattern's object matches the event's object field by field,
  and fields the pattern does not name are ignored;
- a field's pattern is an array: it matches when the event's value, or any element of an event's array, is
  one of the array's values (strings, numbers, ``null`` compared exactly) or satisfies one of its operators;
- the operators followed are ``prefix``, ``anything-but`` (a value or an array of them) and ``exists``; a
  rule using any other is refused when the stack starts rather than matched differently.

The local stack's events are Step Functions' status changes (:mod:`sentiment_local.moto.status_events`).
A rule's ``Input``, ``InputPath`` and ``InputTransformer`` are not played locally and are refused at start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import Template

LOGGER = logging.getLogger(__name__)
OPERATORS: Final[frozenset[str]] = frozenset({"prefix", "anything-but", "exists"})
_NOT_PLAYED: Final[tuple[str, ...]] = ("Input", "InputPath", "InputTransformer")
_MISSING: Final = object()


class PatternError(ValueError):
    """A pattern the local stack does not match as EventBridge would."""


def check_pattern(pattern: Any, where: str = "") -> None:
    if not isinstance(pattern, Mapping) or not pattern:
        raise PatternError(f"{where or 'the pattern'} must be a non-empty object")
    for key, value in pattern.items():
        here = f"{where}.{key}" if where else str(key)
        if isinstance(value, Mapping):
            check_pattern(value, here)
        elif not isinstance(value, list):
            raise PatternError(f"{here}: a pattern's values are arrays or objects")
        else:
            for entry in value:
                if isinstance(entry, Mapping):
                    unknown = set(entry) - OPERATORS
                    if unknown or len(entry) != 1:
                        raise PatternError(
                            f"{here}: operator {sorted(entry)} is not one the local stack matches ({sorted(OPERATORS)})"
                        )


def _one_matches(entry: Any, value: Any) -> bool:
    if not isinstance(entry, Mapping):
        return value is not _MISSING and entry == value and type(entry) is type(value)
    ((operator, operand),) = entry.items()
    if operator == "exists":
        return (value is not _MISSING) == bool(operand)
    if value is _MISSING:
        return False
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(str(operand))
    excluded = operand if isinstance(operand, list) else [operand]
    return value not in excluded


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    if not isinstance(event, Mapping):
        return False
    for key, wanted in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(wanted, Mapping):
            if not matches(wanted, value if value is not _MISSING else {}):
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(_one_matches(entry, candidate) for entry in wanted for candidate in values):
            return False
    return True


@dataclass(frozen=True)
class Rule:
    function: str
    name: str
    pattern: Mapping[str, Any]


class EventRules:
    """The template's rules, and the delivery of an event to the functions whose rules match it."""

    def __init__(self, runner: Runner, rules: list[Rule]) -> None:
        for rule in rules:
            check_pattern(rule.pattern, f"{rule.function}'s {rule.name}")
        self._runner = runner
        self.rules = tuple(rules)

    @classmethod
    def from_template(cls, template: Template, runner: Runner) -> EventRules:
        rules = []
        for logical_id, name, properties in template.events("EventBridgeRule"):
            resolved = template.resolve(properties)
            if resolved.get("State") == "DISABLED" or resolved.get("Enabled") is False:
                continue
            for field in _NOT_PLAYED:
                if field in resolved:
                    raise PatternError(f"{logical_id}'s {name}: {field} is not played by the local stack")
            rules.append(Rule(logical_id, name, resolved["Pattern"]))
        return cls(runner, rules)

    def deliver(self, event: Mapping[str, Any]) -> None:
        for rule in self.rules:
            if matches(rule.pattern, event):
                self._runner.invoke_async(rule.function, dict(event))
