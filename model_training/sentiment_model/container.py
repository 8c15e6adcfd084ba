"""The image's entry point. SageMaker starts a training container as ``<image> train`` and a
hosting container as ``<image> serve``; ECS runs the default command, ``serve``."""

from __future__ import annotations

import sys

USAGE = "usage: container (serve | train [train.py flags...])"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("serve", [])
    if command == "serve":
        from sentiment_model.server import main as serve  # noqa: PLC0415 - each command loads only what it needs

        serve()
        return 0
    if command == "train":
        from train import main as train  # noqa: PLC0415 - train.py sits beside the package, as SageMaker expects

        return train(rest)
    print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
