"""The admin key stays off command lines and out of files left behind (make smoke, make postman), and
make rotate-admin-key stores a new one without ever printing it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sentiment_deploy import admin_key, newman, smoke
from sentiment_deploy.stack import DeployedStack
from sentiment_local.environment import Settings, parameter_overrides
from sentiment_template.reader import ROOT, Template

KEY = "the-admin-key-0123456789-abcdefghijklmnop"
URL = "https://api.example.org"


@dataclass
class FakeNewman:
    """Stands in for newman: records each command line, reads the environment file it is given as newman
    does, and writes a JSON report that, like newman's, holds the environment and the requests' headers."""

    calls: list[list[str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)
    exit_code: int = 0

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(command))
        environment = Path(command[command.index("-e") + 1])
        self.files.append(environment)
        self.modes.append(stat.S_IMODE(environment.stat().st_mode))
        values = {value["key"]: value["value"] for value in json.loads(environment.read_text())["values"]}
        if "--reporter-json-export" in command:
            report = Path(command[command.index("--reporter-json-export") + 1])
            self.files.append(report)
            report.write_text(json.dumps(self.report(values)))
        return subprocess.CompletedProcess(command, self.exit_code)

    @staticmethod
    def report(values: dict[str, str]) -> dict[str, Any]:
        created = {"comment_id": "c-1", "sentiment": "positive"}
        return {
            "environment": {"values": [{"key": key, "value": value} for key, value in values.items()]},
            "run": {
                "executions": [
                    {
                        "request": {
                            "method": "POST",
                            "url": {"path": ["comments"]},
                            "header": [{"key": "Authorization", "value": f"Bearer {values['adminKey']}"}],
                        },
                        "response": {"code": 201, "stream": {"data": list(json.dumps(created).encode())}},
                    }
                ]
            },
        }


@pytest.fixture
def fake_newman(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeNewman:
    binary = tmp_path / "newman"
    binary.write_text("")
    fake = FakeNewman()
    monkeypatch.setattr(newman, "NEWMAN", binary)
    monkeypatch.setattr(newman.subprocess, "run", fake)
    return fake


def files_holding(root: Path, text: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and text in path.read_text(errors="ignore")]


def test_smoke_gives_newman_the_key_in_a_private_file_and_leaves_no_file_holding_it(
    fake_newman: FakeNewman, tmp_path: Path
) -> None:
    # When make smoke runs the collection
    created = smoke.Created()
    smoke.run_collection(URL, KEY, created)

    # Then no command line holds the key: newman read it from a file only this user could read
    assert fake_newman.calls and all(KEY not in " ".join(call) for call in fake_newman.calls)
    assert fake_newman.modes == [0o600]
    # And what the collection created was read from newman's report before it went
    assert created.comments == {"c-1"}
    # And neither that file nor the report (both held the key) is left, nor any other file of the project
    assert all(not path.exists() for path in fake_newman.files)
    assert all(not path.parent.exists() for path in fake_newman.files)
    assert files_holding(newman.ROOT / "build", KEY) == []


def test_a_failing_collection_still_reports_what_it_created_and_leaves_nothing(fake_newman: FakeNewman) -> None:
    fake_newman.exit_code = 1
    created = smoke.Created()
    with pytest.raises(smoke.DeployError, match="newman exited with 1"):
        smoke.run_collection(URL, KEY, created)
    assert created.comments == {"c-1"}
    assert all(not path.exists() for path in fake_newman.files)


def test_make_postman_reads_the_key_from_the_environment_never_from_its_command_line(
    fake_newman: FakeNewman, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_API_KEY", KEY)
    assert newman.main(["--base-url", "http://127.0.0.1:3000/"]) == 0
    (call,) = fake_newman.calls
    assert KEY not in " ".join(call) and "--env-var" not in call
    assert all(not path.exists() for path in fake_newman.files)


def test_make_postman_without_a_key_says_where_it_looked(
    fake_newman: FakeNewman, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ADMIN_API_KEY", raising=False)
    missing = tmp_path / "admin-api-key"
    assert newman.main(["--base-url", "http://127.0.0.1:3000", "--admin-key-file", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert fake_newman.calls == []


class FakeSecrets:
    def __init__(self) -> None:
        self.versions: list[str] = []

    def client(self, service: str) -> FakeSecrets:
        assert service == "secretsmanager"
        return self

    def put_secret_value(self, SecretId: str, SecretString: str) -> dict[str, str]:
        assert SecretId == "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin"
        self.versions.append(SecretString)
        return {"VersionId": f"v{len(self.versions)}"}


STACK = DeployedStack(
    "sentiment-dev",
    {"AdminApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin"},
    {"AdminKeyCacheSeconds": "30"},
)


def test_rotation_stores_a_new_random_key_and_says_where_to_read_it_never_what_it_is() -> None:
    secrets = FakeSecrets()
    said = admin_key.rotate(secrets, STACK) + admin_key.rotate(secrets, STACK)
    first, second = secrets.versions
    assert first != second and len(first) >= 43
    assert not any(key in line for line in said for key in (first, second))
    assert "version v2 of arn:aws:secretsmanager" in said[3]
    assert any("within 30 s" in line for line in said)


def test_on_the_local_stack_rotation_keeps_the_key_file_in_step_and_private(tmp_path: Path) -> None:
    key_file = tmp_path / "admin-api-key"
    key_file.write_text("the-old-key\n")
    os.chmod(key_file, 0o644)
    secrets = FakeSecrets()
    said = admin_key.rotate(secrets, STACK, key_file=key_file)
    assert key_file.read_text().strip() == secrets.versions[-1]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"cat {key_file}" in " ".join(said)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["admin-api-key"]


def test_the_authorizers_cache_time_is_a_template_parameter_make_up_takes_from_the_environment() -> None:
    # Given make up started with ADMIN_KEY_CACHE_SECONDS=2
    settings = Settings.from_environment({"ADMIN_KEY_CACHE_SECONDS": "2"})
    overrides = parameter_overrides(settings)
    assert overrides["AdminKeyCacheSeconds"] == "2"
    # Then the authorizer reuses a read of the key for that long, and 60 s without it
    template = Template.read(ROOT / "template.yaml", overrides=overrides)
    assert template.function_environment("AdminAuthorizerFunction", "")["ADMIN_KEY_CACHE_SECONDS"] == "2"
    default = Template.read(ROOT / "template.yaml", overrides=parameter_overrides(Settings.from_environment({})))
    assert default.function_environment("AdminAuthorizerFunction", "")["ADMIN_KEY_CACHE_SECONDS"] == "60"
