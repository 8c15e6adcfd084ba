"""docs/local-stack.md's table of where each part lives names every module of the local stack and of the
template package, and no module that is not there: the rooms the docs describe are the ones in the tree."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

DOC = ROOT / "docs" / "local-stack.md"
PACKAGES = (ROOT / "local_stack" / "sentiment_local", ROOT / "stack_template" / "sentiment_template")
ROOM = re.compile(r"^\| [^|]+ \| `(?P<module>[\w/]+\.py)` \|", re.M)


def documented(text: str) -> list[str]:
    """The module column of the table under "Where each part lives"."""
    section = text.split("## Where each part lives", 1)[1].split("\n## ", 1)[0]
    return [match["module"] for match in ROOM.finditer(section)]


def in_the_tree(packages: tuple[Path, ...] = PACKAGES) -> set[str]:
    return {
        str(path.relative_to(package.parent))
        for package in packages
        for path in package.rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_docs_table_and_the_packages_name_the_same_modules() -> None:
    listed = documented(DOC.read_text())
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert set(listed) - in_the_tree() == set(), "listed in the docs, not in the tree"
    assert in_the_tree() - set(listed) == set(), "in the tree, not listed in the docs"


def test_each_room_is_a_package_with_its_own_modules() -> None:
    rooms = {path.parent.name for path in (ROOT / "local_stack" / "sentiment_local").glob("*/__init__.py")}
    assert rooms == {"moto", "iam", "runtime", "sagemaker", "persistence"}
    top = {path.name for path in (ROOT / "local_stack" / "sentiment_local").glob("*.py")}
    # only the stack's start and stop order stays at the top
    assert top == {"__init__.py", "__main__.py", "stack.py", "environment.py", "resources.py"}
