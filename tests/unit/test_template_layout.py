"""template.yaml reads section by section: what belongs to a function, a queue or the API sits with it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sentiment_template.reader import load
from tests.conftest import ROOT

TEXT = (ROOT / "template.yaml").read_text()
RESOURCES: dict[str, dict[str, Any]] = load(ROOT / "template.yaml")["Resources"]
BANNER = re.compile(r"^  # ==== (.+) ====$")
LOGICAL_ID = re.compile(r"^  ([A-Za-z][A-Za-z0-9]*):")


def read_sections() -> dict[str, list[str]]:
    """Each banner's title under ``Resources`` and the logical ids declared below it, in file order."""
    sections: dict[str, list[str]] = {}
    title = None
    in_resources = False
    for line in TEXT.splitlines():
        if line and not line.startswith((" ", "#")):
            in_resources = line == "Resources:"
        elif in_resources and (banner := BANNER.match(line)):
            title = banner.group(1)
            sections[title] = []
        elif in_resources and (declared := LOGICAL_ID.match(line)):
            sections.setdefault(str(title), []).append(declared.group(1))
    return sections


SECTIONS = read_sections()
SECTION_OF = {name: title for title, names in SECTIONS.items() for name in names}
FUNCTIONS = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function")
ALARMS = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::CloudWatch::Alarm")
QUEUES = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::SQS::Queue")


def named_resources(value: Any) -> set[str]:
    """The resources a value names with ``!Ref`` or ``!GetAtt`` (parameters left out)."""
    if isinstance(value, list):
        return {name for item in value for name in named_resources(item)}
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]} & set(RESOURCES)
    if "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]} & set(RESOURCES)
    return {name for item in value.values() for name in named_resources(item)}


def test_every_resource_sits_under_a_banner() -> None:
    assert "None" not in SECTIONS, f"declared before the first banner: {SECTIONS.get('None')}"
    assert sorted(SECTION_OF) == sorted(RESOURCES)


def test_the_top_of_the_file_lists_the_sections_in_order() -> None:
    listed = re.findall(r"^#\s+\d+\. (.+)$", TEXT.split("\nResources:")[0], re.MULTILINE)
    assert listed == [title.split(":")[0] for title in SECTIONS]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_heads_its_own_section_with_its_log_group_errors_alarm_and_queues(function: str) -> None:
    title = SECTION_OF[function]
    assert title.startswith(f"{function}:")
    assert SECTIONS[title][0] == function
    properties = RESOURCES[function]["Properties"]
    queues = [event["Properties"]["Queue"] for event in properties.get("Events", {}).values() if event["Type"] == "SQS"]
    belongs = {
        *named_resources(properties["LoggingConfig"]["LogGroup"]),
        f"{function}ErrorsAlarm",
        *named_resources(properties.get("DeadLetterQueue", {}).get("TargetArn")),
        *named_resources(queues),
    }
    assert {name: SECTION_OF[name] for name in belongs} == dict.fromkeys(belongs, title)


@pytest.mark.parametrize("queue", QUEUES)
def test_a_queue_sits_with_its_dead_letter_queue(queue: str) -> None:
    redrive = RESOURCES[queue].get("Properties", {}).get("RedrivePolicy", {})
    for dead_letter in named_resources(redrive):
        assert SECTION_OF[dead_letter] == SECTION_OF[queue]


@pytest.mark.parametrize("alarm", ALARMS)
def test_an_alarm_sits_with_what_it_watches(alarm: str) -> None:
    watched = named_resources(RESOURCES[alarm]["Properties"]) - {"AlarmTopic"}
    assert {name: SECTION_OF[name] for name in watched} == dict.fromkeys(watched, SECTION_OF[alarm])
