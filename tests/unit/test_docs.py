"""Every command in the docs is run by a test, or says why no test here can run it.

The commands are the fenced ``bash``/``sh`` blocks of the README, of the pages under ``docs/`` and of
the folders' READMEs. A line continued with ``\\`` is one command, and so is a ``for … done`` loop;
comments are left out. Each command is listed in COMMANDS, either with the test that runs it (``Run``)
or with the reason no test can (``Exempt``: it needs AWS, Docker or GitHub, which the test command has
none of), together with the tests that run what they can of it. A command that is added or changed fails
here, naming its file and line, until it is listed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.conftest import ROOT


@dataclass(frozen=True)
class Run:
    """``test`` (``tests/<file>.py::<function>``) runs the command; ``how`` says in what form."""

    test: str
    how: str = "as written"


@dataclass(frozen=True)
class Exempt:
    """No test here can run the command, for ``reason``; ``steps`` run the parts that can be run."""

    reason: str
    steps: tuple[str, ...] = ()


NEEDS_AWS = "needs an AWS account and its credentials"
NEEDS_DOCKER = "needs Docker, which the test command does not have"
NEEDS_GITHUB = "sets a GitHub repository's variables: needs GitHub and an administrator of the repository"

LOCAL_STACK = "tests/system/test_local_stack.py"
DEPLOY_STEPS = "tests/system/test_deploy_steps.py"
DEPLOY = "tests/integration/deploy/test_deploy.py"
DEPLOY_ROLE = "tests/unit/test_github_deploy_role.py"
TRUST = "tests/unit/test_deployer_trust.py"
WORKFLOWS = "tests/unit/test_github_workflows.py"
RETRAINING_LOOP = (
    "tests/system/test_retraining_loop.py"
    "::test_feedback_reaching_the_threshold_retrains_promotes_and_serves_the_new_champion"
)
ADMIN_RUN = "tests/system/test_retraining_guard.py::test_poisoned_feedback_is_rejected_and_the_champion_stays"
SAME_OVER_HTTPX = "the same request, through httpx, on make up"
DATASETS = "tests/system/test_datasets.py::test_an_uploaded_file_trains_the_next_run_with_its_share_recorded"
JOBS = "tests/system/test_jobs.py::test_a_csv_upload_is_classified_row_by_row_in_order_with_errors_per_row"
REVIEWERS = f"{LOCAL_STACK}::test_reviewers_label_under_their_name_and_lose_their_keys_at_once"
AFTER_SAM_DEPLOY = (
    f"{DEPLOY}::test_a_first_deploy_pushes_the_image_uploads_the_data_and_registers_a_champion",
    f"{DEPLOY_STEPS}::test_the_steps_after_sam_deploy_find_the_champion_serve_it_and_publish_the_page",
)
THE_IMAGE = (
    "tests/integration/test_container.py::test_entrypoint_and_command_are_exec_form",
    "tests/integration/test_container.py::test_every_copied_path_exists_and_the_image_path_holds_the_package",
    "tests/integration/test_container.py::test_serve_starts_and_answers_ping",
)

COMMANDS: dict[str, Run | Exempt] = {
    # README.md: the quickstart
    "make up": Run(
        f"{LOCAL_STACK}::test_it_prints_the_urls_and_the_admin_key", "make up, as tests/system/conftest.py starts it"
    ),
    "make check": Exempt("the inner loop: lint and the unit and integration tests, all of which make test runs too"),
    "make test": Exempt("the test command itself, which includes this test: CI runs it on a fresh clone (.ci/run)"),
    (
        "curl -s localhost:3000/comments -H 'Content-Type: application/json'"
        """ -d '{"comment": "The support team fixed it in minutes. Brilliant!"}'"""
    ): Run(f"{LOCAL_STACK}::test_comments_feedback_and_listing_over_http", SAME_OVER_HTTPX),
    (
        "curl -s localhost:3000/feedback -H 'Content-Type: application/json'"
        """ -d '{"comment_id": "f8d926f5684a454a9c816e2d3fffc508", "label": "positive"}'"""
    ): Run(f"{LOCAL_STACK}::test_comments_feedback_and_listing_over_http", SAME_OVER_HTTPX),
    "curl -s 'localhost:3000/comments?sentiment=positive&limit=1'": Run(
        f"{LOCAL_STACK}::test_comments_feedback_and_listing_over_http", SAME_OVER_HTTPX
    ),
    "curl -s localhost:3000/health": Run(RETRAINING_LOOP, SAME_OVER_HTTPX),
    (
        "curl -s localhost:3000/comments -H 'Content-Type: application/json' -H 'Idempotency-Key: order-42'"
        """ -d '{"comment": "Arrived late and cold"}'"""
    ): Run(f"{LOCAL_STACK}::test_an_idempotency_key_stores_one_comment", SAME_OVER_HTTPX),
    """curl -s localhost:3000/comments -H 'Content-Type: application/json' -d '{"comment": ""}'""": Run(
        f"{LOCAL_STACK}::test_bad_input_is_refused_and_nothing_is_stored", SAME_OVER_HTTPX
    ),
    "curl -s localhost:3000/models": Run(RETRAINING_LOOP, SAME_OVER_HTTPX),
    'curl -s localhost:3000/training -X POST -H "Authorization: Bearer $(cat build/local/admin-api-key)"': Run(
        ADMIN_RUN, SAME_OVER_HTTPX + ", with the key from build/local/admin-api-key"
    ),
    "curl -s localhost:3000/training/run-000001": Run(ADMIN_RUN, SAME_OVER_HTTPX + " (wait_for_run)"),
    (
        'curl -s localhost:3000/datasets -H "Authorization: Bearer $(cat build/local/admin-api-key)"'
        """ -H 'Content-Type: application/json' -d '{"name": "support-tickets", "format": "csv"}'"""
    ): Run(DATASETS, SAME_OVER_HTTPX),
    'curl -T tickets.csv "$upload_url"': Run(DATASETS, "the same PUT with no header, through httpx, on make up"),
    (
        'curl -s localhost:3000/datasets/support-tickets -H "Authorization: Bearer $(cat build/local/admin-api-key)"'
    ): Run(DATASETS, SAME_OVER_HTTPX),
    (
        "curl -s localhost:3000/reviewers -H 'Content-Type: application/json'"
        """ -H "Authorization: Bearer $(cat build/local/admin-api-key)" -d '{"name": "ana"}'"""
    ): Run(REVIEWERS, SAME_OVER_HTTPX),
    (
        "curl -s localhost:3000/reviews -H 'Content-Type: application/json' -H \"Authorization: Bearer rvw_…\""
        """ -d '{"comment_id": "f8d926f5684a454a9c816e2d3fffc508", "label": "neutral"}'"""
    ): Run(REVIEWERS, SAME_OVER_HTTPX),
    'curl -s localhost:3000/reviewers/ana -X DELETE -H "Authorization: Bearer $(cat build/local/admin-api-key)"': Run(
        REVIEWERS, SAME_OVER_HTTPX
    ),
    # docs/aws.md
    "make deploy": Exempt(f"runs sam deploy twice: {NEEDS_AWS}", AFTER_SAM_DEPLOY),
    "make deploy ENV=prod": Exempt(f"runs sam deploy twice: {NEEDS_AWS}", AFTER_SAM_DEPLOY),
    "make deploy TRAIN_ON=sagemaker": Exempt(
        f"runs sam deploy twice and a SageMaker training job: {NEEDS_AWS}",
        (*AFTER_SAM_DEPLOY, f"{DEPLOY_STEPS}::test_a_first_model_trained_on_sagemaker_is_stored_with_its_hash"),
    ),
    "make rotate-admin-key ENV=prod": Exempt(
        f"writes a new version of a deployed stack's secret: {NEEDS_AWS}",
        (
            "tests/system/test_artifacts_and_keys.py"
            "::test_make_rotate_admin_key_replaces_the_key_and_the_authorizer_follows_within_its_cache_time",
            "tests/unit/test_admin_key_handling.py"
            "::test_rotation_stores_a_new_random_key_and_says_where_to_read_it_never_what_it_is",
        ),
    ),
    "make destroy": Exempt(
        f"runs sam delete on a deployed stack: {NEEDS_AWS}", (f"{DEPLOY}::test_destroy_leaves_nothing_of_the_stack",)
    ),
    "make destroy KEEP_DATA=yes": Exempt(
        f"runs sam delete on a deployed stack: {NEEDS_AWS}",
        (f"{DEPLOY}::test_destroy_keeping_the_data_keeps_the_tables_and_the_data_bucket_whole",),
    ),
    "make reattach ENV=prod": Exempt(
        f"runs a CloudFormation resource import, which moto does not have: {NEEDS_AWS}",
        (
            "tests/integration/deploy/test_reattach.py::test_reattach_finds_the_kept_resources_and_imports_only_them",
            "tests/integration/deploy/test_reattach.py::"
            "test_preflight_stops_a_new_stack_whose_kept_data_bucket_would_block_its_creation",
        ),
    ),
    "make build": Exempt(
        "sam build needs python3.12 and takes minutes, so the test command does not run it; its last step,"
        " scripts/compile_bytecode.py over the built code, is tested",
        (
            "tests/unit/test_cold_start.py::test_bytecode_is_hash_based_and_unchecked",
            "tests/unit/test_cold_start.py::test_it_refuses_another_python_or_a_missing_build",
        ),
    ),
    (
        ".venv-sam/bin/sam deploy --guided --template-file build/sam/template.yaml"
        ' --config-file "$PWD/samconfig.toml" --config-env mine'
    ): Exempt(f"a guided sam deploy: {NEEDS_AWS}"),
    (
        "aws cloudformation deploy --template-file deploy/service-role/template.yaml"
        " --stack-name cloudformation-sentiment-deploy --capabilities CAPABILITY_NAMED_IAM"
    ): Exempt(
        f"creates the CloudFormation service role and its boundary: {NEEDS_AWS}",
        (
            f"{TRUST}::test_the_service_roles_template_holds_the_policies_deployer_policies_writes",
            f"{TRUST}::test_only_cloudformation_may_assume_the_service_role",
            f"{TRUST}::test_the_service_role_makes_or_changes_a_role_only_under_the_boundary_and_never_itself",
            "tests/integration/deploy/test_service_role.py::"
            "test_without_the_service_role_make_deploy_says_who_creates_it_and_how",
        ),
    ),
    (
        'for policy in deploy/deployer-policies/*.json; do name=$(basename "$policy" .json);'
        ' aws iam create-policy --policy-name "$name" --policy-document "file://$policy";'
        ' aws iam attach-user-policy --user-name <you> --policy-arn "arn:aws:iam::<account>:policy/$name"; done'
    ): Exempt(
        f"creates and attaches IAM policies: {NEEDS_AWS}",
        (
            f"{DEPLOY}::test_the_committed_deployer_policies_are_current_and_within_iams_quotas",
            f"{DEPLOY}::test_each_statement_of_the_deployers_policy_is_needed",
            f"{TRUST}::test_no_deployer_policy_grants_an_iam_write_a_write_on_any_name_or_a_secret",
        ),
    ),
    'make train-on-sagemaker TRAIN_FLAGS="--hyperparameter kind=tfidf"': Run(
        f"{DEPLOY_STEPS}::test_a_training_job_launched_by_hand_with_the_sdk_trains_on_the_stacks_data",
        "what the target runs, python -m sentiment_deploy train with these flags, against make up with no "
        "feedback yet and then with feedback (the next test of the module)",
    ),
    "make smoke URL=http://127.0.0.1:3000 ADMIN_API_KEY=<the admin key make up printed>": Run(
        f"{DEPLOY_STEPS}::test_make_smoke_as_the_banner_says_waits_for_a_run_feedback_started_and_leaves_nothing_behind",
        "as written, with the stack's own port and the key its banner printed, in a shell with no AWS variable",
    ),
    ".venv/bin/python -m sentiment_deploy job <job name>": Run(
        f"{DEPLOY_STEPS}::test_a_training_job_launched_by_hand_with_the_sdk_trains_on_the_stacks_data",
        "python -m sentiment_deploy job, against make up",
    ),
    # docs/aws.md: from a fork to a deployed stage
    (
        "aws cloudformation deploy --template-file deploy/pipeline/template.yaml"
        " --stack-name github-actions-sentiment-deploy --capabilities CAPABILITY_NAMED_IAM"
        " --parameter-overrides GitHubRepository=<owner>/<name>"
    ): Exempt(
        f"creates GitHub's OIDC provider and the deploy role: {NEEDS_AWS}",
        (
            f"{DEPLOY_ROLE}::test_cloudformation_would_create_it_and_cfn_lint_finds_nothing",
            f"{DEPLOY_ROLE}::test_only_the_repositorys_main_branch_and_prod_environment_may_assume_the_role",
            f"{DEPLOY_ROLE}::test_the_role_holds_the_committed_deployer_policies_and_nothing_else",
        ),
    ),
    (
        "aws cloudformation describe-stacks --stack-name github-actions-sentiment-deploy"
        """ --query "Stacks[0].Outputs[?OutputKey=='DeployRoleArn'].OutputValue" --output text"""
    ): Exempt(
        f"reads the deployed role's stack: {NEEDS_AWS}",
        (f"{DEPLOY_ROLE}::test_the_role_arn_is_an_output_for_the_repository_variable",),
    ),
    'gh variable set AWS_DEPLOY_ROLE_ARN --body "arn:aws:iam::<account>:role/github-actions-sentiment-deploy"': Exempt(
        NEEDS_GITHUB, (f"{WORKFLOWS}::test_credentials_come_from_the_deploy_role_and_never_from_keys",)
    ),
    "gh variable set AWS_REGION --body eu-west-1": Exempt(
        NEEDS_GITHUB, (f"{WORKFLOWS}::test_credentials_come_from_the_deploy_role_and_never_from_keys",)
    ),
    # docs/local-stack.md
    "make invoke FUNCTION=ApiFunction EVENT=events/api-health-get-200.json": Run(
        f"{LOCAL_STACK}::test_make_invoke_runs_a_function_on_the_stack"
    ),
    "make up LOCAL_COLD_START_SECONDS=20 LOCAL_IDLE_SECONDS=60": Run(
        "tests/system/test_model_cold_start.py::test_health_says_starting_while_the_endpoint_starts_then_ready",
        "make up with LOCAL_COLD_START_SECONDS=20 LOCAL_IDLE_SECONDS=15, as tests/system/conftest.py starts it",
    ),
    "make up MOTO_HOST=0.0.0.0": Run(
        f"{DEPLOY_STEPS}::test_env_vars_point_every_function_at_the_local_stack_as_sam_local_invoke_reads_them",
        "make up with MOTO_HOST=0.0.0.0: the stack of tests/system/test_deploy_steps.py",
    ),
    "make env-vars": Run(
        f"{DEPLOY_STEPS}::test_env_vars_point_every_function_at_the_local_stack_as_sam_local_invoke_reads_them"
    ),
    (
        ".venv-sam/bin/sam local invoke ApiFunction -t build/sam/template.yaml -e events/api-health-get-200.json"
        " --env-vars build/local/sam-env-vars.json --add-host host.docker.internal:host-gateway"
    ): Exempt(
        f"sam local invoke runs the function in Lambda's image: {NEEDS_DOCKER}",
        (f"{DEPLOY_STEPS}::test_env_vars_point_every_function_at_the_local_stack_as_sam_local_invoke_reads_them",),
    ),
    # docs/model.md
    "make train DATA=commercial": Run(
        "tests/unit/test_sources.py::test_a_commercial_model_is_trained_and_measured_without_them_and_says_so",
        "what it runs, train() with data_set='commercial', on a sample of the base data, with the TF-IDF kind",
    ),
    "make bench ONLY=behaviour": Run(
        "tests/integration/test_behaviour_floors.py::test_the_bench_prints_every_rate_with_the_machine_and_writes_them",
        "what it runs, bench/behaviour.py on build/model, in-process, writing to a folder of the test's own",
    ),
    "docker build -t sentiment-model model_training": Exempt(NEEDS_DOCKER, THE_IMAGE),
    'docker run -p 8080:8080 -v "$PWD/build/model:/opt/ml/model:ro" sentiment-model': Exempt(NEEDS_DOCKER, THE_IMAGE),
    # events/README.md
    "make invoke FUNCTION=ApiFunction EVENT=events/api-comments-post-201.json": Run(
        f"{DEPLOY_STEPS}::test_every_event_runs_with_make_invoke",
        "what make invoke runs, for every event under events/",
    ),
    "sam build && sam local invoke ApiFunction -e events/api-comments-post-201.json": Exempt(
        f"sam local invoke runs the function in Lambda's image: {NEEDS_DOCKER}",
        (f"{DEPLOY_STEPS}::test_every_event_runs_with_make_invoke",),
    ),
    # docs/api.md, Bulk classification jobs
    (
        "curl -s localhost:3000/jobs -H 'Content-Type: application/json'"
        """ -H "Authorization: Bearer $(cat build/local/admin-api-key)" """
        """-d '{"format": "csv", "text_field": "comment", "id_field": "ticket"}'"""
    ): Run(JOBS, SAME_OVER_HTTPX + ", with the key from build/local/admin-api-key"),
    'curl -s "localhost:3000/jobs/$job_id" -H "Authorization: Bearer $(cat build/local/admin-api-key)"': Run(
        JOBS, SAME_OVER_HTTPX + " (wait_for_job)"
    ),
    "make classify FILE=tickets.csv COLUMN=comment ID=ticket": Run(
        "tests/system/test_jobs.py::test_make_classify_writes_the_results_beside_the_file",
        "make classify with its own file, column and id column, against make up",
    ),
    # postman/README.md
    "make postman": Run(
        f"{LOCAL_STACK}::test_the_postman_collection_passes",
        "newman with the target's collection, environment and variables, against make up",
    ),
}


# ---- reading the docs ----


@dataclass(frozen=True)
class Command:
    text: str
    where: str  # file:line of its first line


def documents() -> list[Path]:
    found = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *ROOT.glob("*/README.md"), *ROOT.glob("*/*/README.md")]
    ignored = {"build", "node_modules"}
    return sorted(
        path
        for path in found
        if not any(part in ignored or part.startswith(".") for part in path.relative_to(ROOT).parts[:-1])
    )


def without_comment(line: str) -> str:
    """The line up to a ``#`` that starts a shell comment (outside quotes, at the start or after a space)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def commands_in(text: str, name: str) -> list[Command]:
    """The commands of the fenced bash/sh blocks of one Markdown text, each with where it starts."""
    found: list[Command] = []
    in_block = False
    line = ""  # a line continued with a backslash, so far
    lines: list[str] = []  # a loop's lines, so far
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        fence = raw.lstrip()  # a block may sit in a list item, indented
        if fence.startswith("```"):
            in_block = not in_block and fence[3:].strip() in {"bash", "sh", "shell"}
            continue
        words = " ".join(without_comment(raw).split())
        if not in_block or not words:
            continue
        if not line and not lines:
            start = number
        line = f"{line} {words}" if line else words
        if line.endswith("\\"):
            line = line.removesuffix("\\").rstrip()
            continue
        lines.append(line)
        line = ""
        if re.match(r"(for|while|until|if)\b", lines[0]) and not re.match(r"(done|fi)\b", lines[-1]):
            continue
        found.append(Command(join(lines), f"{name}:{start}"))
        lines = []
    return found


def join(lines: list[str]) -> str:
    """A loop's lines as one command: ``; `` between them, but a space after ``do`` and ``then``."""
    joined = lines[0]
    for line in lines[1:]:
        joined += (" " if joined.endswith((" do", " then")) else "; ") + line
    return joined


@cache
def documented() -> tuple[Command, ...]:
    return tuple(
        command
        for path in documents()
        for command in commands_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    )


# ---- what the registry names ----


def names_a_test(name: str) -> bool:
    """Whether ``tests/<file>.py::<function>`` names a test function of that file."""
    path, _, function = name.partition("::")
    file = ROOT / path
    if not (path.startswith("tests/") and function.startswith("test_") and file.is_file()):
        return False
    tree = ast.parse(file.read_text(encoding="utf-8"))
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    return function in defined


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def make_target(command: str) -> str | None:
    """The target of a ``make …`` command (its first word that is neither a flag nor VAR=value)."""
    words = command.split()
    if words[0] != "make":
        return None
    return next((word for word in words[1:] if not word.startswith("-") and "=" not in word), "")


# ---- the checks ----


def test_the_docs_have_commands_to_check() -> None:
    names = {command.where.split(":")[0] for command in documented()}
    assert {"README.md", "docs/aws.md", "docs/local-stack.md", "docs/model.md"} <= names, names


def test_every_command_in_the_docs_is_run_by_a_test_or_exempt() -> None:
    unlisted = [f"{command.where}: {command.text}" for command in documented() if command.text not in COMMANDS]
    assert not unlisted, (
        "these commands in the docs are not in tests/unit/test_docs.py's COMMANDS; name the test that runs"
        " each, or the reason no test can:\n" + "\n".join(unlisted)
    )


def test_every_listed_command_is_still_in_the_docs() -> None:
    in_docs = {command.text for command in documented()}
    stale = [text for text in COMMANDS if text not in in_docs]
    assert not stale, "listed in COMMANDS, but no longer in the docs:\n" + "\n".join(stale)


def test_every_named_test_exists() -> None:
    named = [
        (text, test)
        for text, entry in COMMANDS.items()
        for test in ((entry.test,) if isinstance(entry, Run) else entry.steps)
    ]
    missing = [f"{test} (for {text})" for text, test in named if not names_a_test(test)]
    assert not missing, "no such test function:\n" + "\n".join(missing)


def test_every_exemption_says_why() -> None:
    assert all(len(entry.reason) > 20 for entry in COMMANDS.values() if isinstance(entry, Exempt))


def test_every_make_command_names_a_target_of_the_makefile() -> None:
    targets = make_targets()
    missing = [
        f"{command.where}: {command.text}"
        for command in documented()
        if (target := make_target(command.text)) is not None and target not in targets
    ]
    assert not missing, "no such make target:\n" + "\n".join(missing)


# ---- the reading itself ----


SAMPLE = """\
Some prose with `make inline`, which is not a block.

```bash
make up   # a comment
# a line of comment
curl -s localhost:3000/x -H 'A: #not-a-comment' \\
     -d '{"a": 1}'

for f in *.json; do
  echo "$f"
done
```

```text
make output-not-a-command
```

```sh
make env-vars
```

1. A step of a list:

   ```bash
   make deploy ENV=prod
   ```
"""


def test_the_blocks_are_read_as_a_person_would_type_them() -> None:
    assert commands_in(SAMPLE, "sample.md") == [
        Command("make up", "sample.md:4"),
        Command("""curl -s localhost:3000/x -H 'A: #not-a-comment' -d '{"a": 1}'""", "sample.md:6"),
        Command('for f in *.json; do echo "$f"; done', "sample.md:9"),
        Command("make env-vars", "sample.md:19"),
        Command("make deploy ENV=prod", "sample.md:25"),
    ]


def test_a_command_missing_from_the_registry_is_reported_with_its_file_and_line() -> None:
    made_up = commands_in("text\n\n```bash\nmake frobnicate\n```\n", "docs/example.md")
    assert [f"{c.where}: {c.text}" for c in made_up if c.text not in COMMANDS] == ["docs/example.md:4: make frobnicate"]
    assert make_target("make frobnicate") not in make_targets()
