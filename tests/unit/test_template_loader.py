"""The template reader parses with libyaml where PyYAML has it, and reads every template exactly as
PyYAML's pure-Python safe loader does, CloudFormation's short tags included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentiment_template import reader
from tests.conftest import ROOT

TEMPLATES = [
    "template.yaml",
    "deploy/pipeline/template.yaml",
    "deploy/service-role/template.yaml",
    "deploy/edge/template.yaml",
]


class PurePythonLoader(yaml.SafeLoader):
    pass


PurePythonLoader.add_multi_constructor("!", reader._tag)


def test_the_reader_uses_libyaml_when_pyyaml_has_it() -> None:
    assert yaml.__with_libyaml__
    assert issubclass(reader._CfnLoader, yaml.CSafeLoader)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_reads_as_the_pure_python_loader_reads_it(name: str) -> None:
    path: Path = ROOT / name
    assert reader.load(path) == yaml.load(path.read_text(), Loader=PurePythonLoader)  # noqa: S506 - a SafeLoader
