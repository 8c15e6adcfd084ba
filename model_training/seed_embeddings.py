"""Write an encoder folder's seed: the bundled data's embeddings (base and golden splits), pinned in the
folder's ``encoder.json``, so a first training run reads them instead of encoding every text.

    python model_training/seed_embeddings.py [--encoder model_training/encoders/minilm-sentiment]

``make embeddings`` runs it for the bundled encoder; ``make encoder`` runs it after a new fine-tune. A test
encodes a sample of the bundled texts and compares them with the seed, so a stale seed fails it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from sentiment_model.data import read_split
from sentiment_model.encoder import BUNDLED, write_seed

DATA = Path(__file__).resolve().parent / "data"


def bundled_texts(data: Path = DATA) -> list[str]:
    frames = [read_split(data / split)[0] for split in ("base", "golden")]
    return pd.concat(frames, ignore_index=True)["text"].tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", type=Path, default=BUNDLED, help="the encoder folder (default: the bundled one)")
    parser.add_argument("--data", type=Path, default=DATA, help="the data folder (base/ and golden/)")
    arguments = parser.parse_args()
    started = time.perf_counter()
    seed = write_seed(arguments.encoder, bundled_texts(arguments.data))
    print(json.dumps({**seed, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
