"""Compile built functions and layers to bytecode, the way the Lambda runtime will import them.

`sam build` ships sources only, and Lambda unpacks a function into a read-only ``/var/task`` and its
layers into a read-only ``/opt``: with no ``.pyc`` beside them, every cold start compiles every module it
imports again (pydantic, Powertools, the project), which triples the API function's cold import.

The bytecode is hash-based and unchecked: `sam package` zips every file with the same 1980 timestamp, so
timestamp-checked bytecode would never match its source once unpacked. A build directory is rebuilt from
scratch by each `sam build`, so its bytecode cannot go stale.

Run it with the functions' runtime's Python (bytecode is specific to one minor version):
``python3.12 scripts/compile_bytecode.py build/sam/SharedLayer build/sam/*Function``
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import sys
from pathlib import Path

RUNTIME = (3, 12)  # template.yaml's Runtime: python3.12


def compile_tree(root: Path) -> bool:
    """Compile every module under ``root``; false when one of them does not compile."""
    return bool(
        compileall.compile_dir(
            root, quiet=1, force=True, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    )


def main(argv: list[str] | None = None, version: tuple[int, ...] = tuple(sys.version_info)) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path, help="built function and layer directories")
    args = parser.parse_args(argv)
    if tuple(version[:2]) != RUNTIME:
        wanted = ".".join(map(str, RUNTIME))
        parser.error(f"run this with Python {wanted}, the functions' runtime (this is {version[0]}.{version[1]})")
    trees: list[Path] = args.trees
    missing = [str(path) for path in trees if not path.is_dir()]
    if missing:
        parser.error(f"not a directory: {', '.join(missing)} (run sam build first)")
    failed = [str(path) for path in trees if not compile_tree(path)]
    if failed:
        print(f"could not compile every module in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
