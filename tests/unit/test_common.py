"""The shared domain package: models, listing tokens, the model client's answer parsing, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sentiment_common.dal.comments import decode_token, encode_token, from_item, to_item
from sentiment_common.errors import InvalidInputError, ModelUnavailableError
from sentiment_common.inference import NoModel, _parse, model_client
from sentiment_common.records import Comment, CommentStatus, FeedbackMark, Prediction, Scores, utc_now
from sentiment_common.settings import AdminSettings, InferenceBackend, InferenceSettings

PREDICTION = Prediction(
    label="positive",
    scores=Scores(negative=0.1234567891, neutral=0.2, positive=0.6765432109),
    confidence=0.6765432109,
    model_version="v1",
)


def test_a_comment_survives_the_table_item_round_trip() -> None:
    comment = Comment(
        comment_id="abc",
        text="hello",
        created_at=utc_now(),
        status=CommentStatus.CLASSIFIED,
        prediction=PREDICTION.rounded(),
        feedback=FeedbackMark(feedback_id="f1", label="neutral", created_at=utc_now()),
    )
    item = to_item(comment)
    assert item["sentiment"] == "positive"
    assert item["created_key"].endswith("#abc")
    assert from_item(item) == comment


def test_a_pending_comment_is_indexed_under_pending() -> None:
    comment = Comment(comment_id="p", text="t", created_at=utc_now(), status=CommentStatus.PENDING)
    item = to_item(comment)
    assert item["sentiment"] == "pending"
    assert "scores" not in item
    assert from_item(item) == comment


def test_rounding_keeps_six_decimals() -> None:
    rounded = PREDICTION.rounded()
    assert rounded.scores.negative == 0.123457
    assert rounded.confidence == 0.676543


def test_tokens_round_trip_and_forgeries_are_refused() -> None:
    key = {"comment_id": "a", "entity": "comment", "created_key": "2026#a"}
    assert decode_token(encode_token(key), set(key)) == key
    with pytest.raises(InvalidInputError):
        decode_token("%%%", set(key))
    with pytest.raises(InvalidInputError):
        decode_token(encode_token({"comment_id": "a"}), set(key))
    with pytest.raises(InvalidInputError):
        decode_token(encode_token({**key, "entity": 1}), set(key))


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"predictions": [{"label": "great"}]}', b'{"predictions": []}', b"{}"],
)
def test_answers_that_are_not_predictions_mean_the_model_is_unavailable(body: bytes) -> None:
    with pytest.raises(ModelUnavailableError):
        _parse(body, 1)


def test_a_good_answer_parses() -> None:
    body = b'{"predictions": [' + PREDICTION.model_dump_json().encode() + b"]}"
    assert _parse(body, 1) == [PREDICTION]


def test_without_a_deployed_model_every_comment_waits() -> None:
    settings = InferenceSettings(inference_backend="sagemaker", sagemaker_endpoint_name="")
    client = model_client(settings)
    assert isinstance(client, NoModel)
    with pytest.raises(ModelUnavailableError):
        client.predict(["hello"])
    assert client.health().reachable is False


def test_a_missing_setting_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERENCE_BACKEND", raising=False)
    with pytest.raises(ValueError, match="inference_backend"):
        InferenceSettings.from_environment()


def test_settings_come_from_upper_case_variables_converted_to_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_BACKEND", "ecs")
    monkeypatch.setenv("MODEL_URL", "http://model.internal:8080")
    monkeypatch.setenv("MODEL_MAX_ATTEMPTS", "3")
    monkeypatch.delenv("MODEL_READ_TIMEOUT", raising=False)
    monkeypatch.setenv("model_read_timeout", "9")  # only the upper-case name counts
    settings = InferenceSettings.from_environment()
    assert (settings.inference_backend, settings.model_url) == (InferenceBackend.ECS, "http://model.internal:8080")
    assert (settings.model_max_attempts, settings.model_read_timeout) == (3, 4.0)
    assert settings.deployed


def test_an_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_API_KEY_SECRET", "from-env")
    monkeypatch.setenv("ADMIN_KEY_CACHE_SECONDS", "5")
    settings = AdminSettings.from_environment(admin_api_key_secret="given")
    assert (settings.admin_api_key_secret, settings.admin_key_cache_seconds) == ("given", 5)


def test_a_bad_setting_names_the_variable_and_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_API_KEY_SECRET", "key")
    monkeypatch.setenv("ADMIN_KEY_CACHE_SECONDS", "soon")
    with pytest.raises(ValidationError, match="admin_key_cache_seconds"):
        AdminSettings.from_environment()
    monkeypatch.setenv("ADMIN_KEY_CACHE_SECONDS", "-1")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        AdminSettings.from_environment()
    monkeypatch.delenv("ADMIN_KEY_CACHE_SECONDS")
    with pytest.raises(ValidationError, match="frozen"):
        AdminSettings.from_environment().admin_key_cache_seconds = 1  # type: ignore[misc]


def test_the_comment_rules_white_space_is_the_one_its_json_schema_pattern_documents() -> None:
    import re  # noqa: PLC0415

    from sentiment_common.records import NOT_BLANK, WHITE_SPACE, checked_comment  # noqa: PLC0415

    assert all(re.fullmatch(NOT_BLANK, character) is None for character in WHITE_SPACE)
    assert re.fullmatch(NOT_BLANK, "\x1c") and re.fullmatch(NOT_BLANK, "a")
    assert checked_comment(WHITE_SPACE) == (None, "comment is empty")
    assert checked_comment(f"{WHITE_SPACE}\x1c{WHITE_SPACE}") == ("\x1c", None)


def test_the_model_container_calls_empty_what_the_api_calls_empty() -> None:
    from sentiment_common.records import WHITE_SPACE  # noqa: PLC0415
    from sentiment_model.serving import WHITE_SPACE as CONTAINERS  # noqa: PLC0415

    assert CONTAINERS == WHITE_SPACE


def test_the_champion_pointer_every_writer_writes_is_the_one_the_container_reads() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from sentiment_common.registry import Champion  # noqa: PLC0415
    from sentiment_model.serving import ChampionPointer  # noqa: PLC0415

    champion = Champion(
        version="v2",
        model_data_url="s3://b/models/v2/model.tar.gz",
        sha256="ab" * 32,
        promoted_at=datetime(2026, 12, 3, tzinfo=UTC),
        previous_version="v1",
    )
    read = ChampionPointer.model_validate_json(champion.pointer())
    assert (read.version, read.model_data_url, read.sha256) == ("v2", "s3://b/models/v2/model.tar.gz", "ab" * 32)
    assert Champion.model_validate_json(champion.pointer()) == champion.model_copy(update={"previous_version": None})
