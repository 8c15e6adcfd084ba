"""The GitHub Actions workflows do what docs/aws.md says of them.

``test.yml`` runs the test command on every pull request and on every push to main. ``deploy.yml`` deploys
main once its tests have passed there: dev with ``make deploy``, checked with ``make smoke``, then prod the
same way once a reviewer of the ``prod`` environment approves. AWS credentials come only from GitHub's OIDC
token, through the role of ``deploy/pipeline/template.yaml``; every action is pinned to a commit; actionlint
finds nothing to fix.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^\s*-?\s*uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # (?P<version>v\d+\.\d+\.\d+))?$")
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials"
# Each action the workflows use: the release, its commit, and the inputs its action.yml declares at that commit.
# actionlint knows the inputs of popular actions by release tag only, so for a commit this is what checks them.
PINS: dict[str, tuple[str, str, set[str]]] = {
    "actions/checkout": (
        "v4.4.0",
        "11d5960a326750d5838078e36cf38b85af677262",
        {
            "allow-unsafe-pr-checkout", "clean", "fetch-depth", "fetch-tags", "filter", "github-server-url", "lfs",
            "path", "persist-credentials", "ref", "repository", "set-safe-directory", "show-progress",
            "sparse-checkout", "sparse-checkout-cone-mode", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user",
            "submodules", "token",
        },
    ),
    "actions/setup-python": (
        "v5.6.0",
        "a26af69be951a213d495a4c3e4e4022e16d87065",
        {
            "allow-prereleases", "architecture", "cache", "cache-dependency-path", "check-latest", "freethreaded",
            "python-version", "python-version-file", "token", "update-environment",
        },
    ),
    CREDENTIALS_ACTION: (
        "v4.3.1",
        "7474bc4690e29a8392af63c5b98e7449536d5c3a",
        {
            "audience", "aws-access-key-id", "aws-region", "aws-secret-access-key", "aws-session-token",
            "disable-retry", "http-proxy", "inline-session-policy", "managed-session-policies", "mask-aws-account-id",
            "output-credentials", "output-env-credentials", "retry-max-attempts", "role-chaining",
            "role-duration-seconds", "role-external-id", "role-session-name", "role-skip-session-tagging",
            "role-to-assume", "special-characters-workaround", "unset-current-credentials",
            "use-existing-credentials", "web-identity-token-file",
        },
    ),
}  # fmt: skip
STAGES = {"dev": "default", "prod": "prod"}  # deploy.yml's job -> its samconfig.toml environment


def workflow(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as true
    document["on"] = document.pop(True, document.get("on"))
    return document


TEST = workflow("test.yml")
DEPLOY = workflow("deploy.yml")


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(f"{action}@")]


def make_commands(job: dict[str, Any]) -> list[str]:
    """The ``make`` commands a job runs, one a line, in order."""
    lines = (line.strip() for step in job["steps"] for line in str(step.get("run", "")).splitlines())
    return [line for line in lines if line.startswith("make ")]


def samconfig_stack_name(config_env: str) -> str:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return str(config[config_env]["global"]["parameters"]["stack_name"])


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), f"{ACTIONLINT} is missing: install the project's dev extra (make install)"
    # Without ShellCheck and pyflakes, as make validate runs it: the same findings on every machine.
    command = [str(ACTIONLINT), "-shellcheck=", "-pyflakes=", "-no-color", "-oneline", *map(str, paths)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


# ---- test.yml ----


def test_the_tests_run_on_every_pull_request_and_on_each_push_to_main() -> None:
    assert TEST["on"] == {"pull_request": None, "push": {"branches": ["main"]}}


def test_the_test_job_runs_the_test_command_on_ubuntu_with_python_3_11_for_at_most_90_minutes() -> None:
    (job,) = TEST["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    assert job["timeout-minutes"] == 90
    assert [step["run"] for step in job["steps"] if "run" in step] == ["bash .ci/run"]
    (python,) = steps_using(job, "actions/setup-python")
    assert str(python["with"]["python-version"]) == "3.11"


def test_a_newer_push_cancels_the_run_it_supersedes() -> None:
    assert TEST["concurrency"]["cancel-in-progress"] is True
    group = TEST["concurrency"]["group"]
    assert "github.event.pull_request.number" in group and "github.ref" in group


def test_the_tests_may_only_read_the_repository() -> None:
    assert TEST["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in TEST["jobs"].values())


# ---- deploy.yml ----


def test_deploying_starts_when_the_tests_of_main_complete() -> None:
    assert DEPLOY["on"] == {"workflow_run": {"workflows": [TEST["name"]], "types": ["completed"], "branches": ["main"]}}


def test_only_a_push_to_main_whose_tests_passed_deploys() -> None:
    condition = " ".join(DEPLOY["jobs"]["dev"]["if"].split())
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    # a fork's pull request from a branch named main runs the tests too: its event is pull_request
    assert "github.event.workflow_run.event == 'push'" in condition
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    assert " || " not in condition
    assert DEPLOY["jobs"]["prod"]["needs"] == "dev"


@pytest.mark.parametrize(("job", "config_env"), STAGES.items())
def test_each_stage_is_deployed_with_make_deploy_then_checked_with_make_smoke(job: str, config_env: str) -> None:
    assert make_commands(DEPLOY["jobs"][job]) == [
        f"make deploy ENV={config_env} DEPLOY_FLAGS=--no-confirm-changeset",
        f'make smoke ENV={config_env} URL="$API_URL"',
    ]


@pytest.mark.parametrize(("job", "config_env"), STAGES.items())
def test_make_smoke_gets_the_api_url_of_the_stage_it_deployed(job: str, config_env: str) -> None:
    steps = DEPLOY["jobs"][job]["steps"]
    (smoke,) = [step for step in steps if str(step.get("run", "")).startswith("make smoke")]
    assert smoke["env"]["API_URL"] == "${{ steps.stack.outputs.api-url }}"
    (outputs,) = [step for step in steps if step.get("id") == "stack"]
    # the address behind CloudFront: the API's own one answers public routes only through it
    assert "OutputKey=='$1'" in outputs["run"] and "$(output WebUrl)" in outputs["run"]
    assert DEPLOY["jobs"][job]["env"]["STACK_NAME"] == samconfig_stack_name(config_env)


@pytest.mark.parametrize("job", STAGES)
def test_the_admin_key_is_masked_in_the_log(job: str) -> None:
    (outputs,) = [step for step in DEPLOY["jobs"][job]["steps"] if step.get("id") == "stack"]
    assert 'echo "::add-mask::$admin_key"' in outputs["run"]


def test_prod_waits_for_the_approval_of_the_prod_environment_and_dev_for_nothing() -> None:
    assert DEPLOY["jobs"]["prod"]["environment"]["name"] == "prod"
    # the deploy role trusts main's tokens for dev: an environment would change the token's subject
    assert "environment" not in DEPLOY["jobs"]["dev"]


def test_only_the_deploy_jobs_may_ask_for_an_oidc_token() -> None:
    assert DEPLOY["permissions"] == {"contents": "read"}
    for job in DEPLOY["jobs"].values():
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert [name for name, job in DEPLOY["jobs"].items() if steps_using(job, CREDENTIALS_ACTION)] == list(STAGES)


@pytest.mark.parametrize("job", STAGES)
def test_credentials_come_from_the_deploy_role_and_never_from_keys(job: str) -> None:
    (credentials,) = steps_using(DEPLOY["jobs"][job], CREDENTIALS_ACTION)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert credentials["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(credentials["with"])
    for path in WORKFLOWS.glob("*.yml"):
        assert "secrets." not in path.read_text(), path.name


@pytest.mark.parametrize("job", STAGES)
def test_each_stage_deploys_the_commit_whose_tests_passed(job: str) -> None:
    (checkout,) = steps_using(DEPLOY["jobs"][job], "actions/checkout")
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


@pytest.mark.parametrize("job", STAGES)
def test_sam_build_finds_python_3_12_and_the_tools_run_on_3_11(job: str) -> None:
    (python,) = steps_using(DEPLOY["jobs"][job], "actions/setup-python")
    # setup-python makes the last version listed python3, which the Makefile's tools run on
    assert python["with"]["python-version"].split() == ["3.12", "3.11"]


def test_a_stage_is_never_deployed_twice_at_once_nor_cancelled_halfway() -> None:
    groups = {name: job["concurrency"] for name, job in DEPLOY["jobs"].items()}
    assert groups == {name: {"group": f"deploy-{name}", "cancel-in-progress": False} for name in STAGES}


# ---- both ----


def test_every_action_is_pinned_to_the_commit_of_a_release_named_beside_it() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if "uses:" not in line:
                continue
            match = PINNED.match(line)
            assert match, f"{path.name}: {line.strip()}"
            assert match["action"] in PINS, f"{path.name}: an action not vetted here: {line.strip()}"
            version, commit, _ = PINS[match["action"]]
            assert (match["ref"], match["version"]) == (commit, version), f"{path.name}: {line.strip()}"


def test_every_input_given_to_an_action_is_one_it_declares() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in workflow(path.name)["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    declared = PINS[step["uses"].partition("@")[0]][2]
                    assert set(step.get("with", {})) <= declared, (path.name, step)


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    result = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (WORKFLOWS / "deploy.yml").read_text()
    broken.write_text(text.replace("id: stack", "id: outputs", 1).replace("needs: dev", "needs: deploy"))

    result = actionlint(broken)

    assert result.returncode == 1
    assert 'property "stack" is not defined in object type' in result.stdout
    assert 'job "prod" needs job "deploy" which does not exist' in result.stdout
