"""``deploy/pipeline/template.yaml``: GitHub's OIDC provider and the role deploy.yml assumes.

Only the repository's main branch and its prod environment may assume the role; it holds exactly the
deployer's policies of ``deploy/deployer-policies/``, within IAM's quotas; CloudFormation would create it
as written, under either choice of provider, and cfn-lint and checkov find nothing to fix.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from sentiment_deploy import github_role, policy, service_role
from sentiment_template import cloudformation
from sentiment_template.cloudformation import TemplateError
from sentiment_template.reader import Template, load
from tests.conftest import ROOT

TEMPLATE = github_role.TEMPLATE
DOCUMENT: dict[str, Any] = load(TEMPLATE)
RESOURCES: dict[str, dict[str, Any]] = DOCUMENT["Resources"]
ROLE = RESOURCES[github_role.ROLE]
REPOSITORY = "octo-org/sentiment-feedback-loop"
EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
TEMPLATE_BODY_QUOTA = 51_200  # bytes: a template aws cloudformation deploy sends without an S3 bucket


def attached_policies() -> list[dict[str, Any]]:
    return [
        resource
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
        and {"Ref": github_role.ROLE} in resource["Properties"].get("Roles", [])
    ]


def trust() -> dict[str, Any]:
    (statement,) = ROLE["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


def deploy_workflow() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    return document


# ---- who may assume it ----


def test_only_github_tokens_for_sts_may_assume_the_role() -> None:
    statement = trust()
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider_arn = ["CreateOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "ExistingOidcProviderArn"}]
    assert statement["Principal"] == {"Federated": {"Fn::If": provider_arn}}
    assert statement["Condition"]["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    provider = RESOURCES["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_only_the_repositorys_main_branch_and_prod_environment_may_assume_the_role() -> None:
    subjects = trust()["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects == [
        {"Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main"},
        {"Fn::Sub": "repo:${GitHubRepository}:environment:prod"},
    ]
    assert not any("*" in subject["Fn::Sub"] or "?" in subject["Fn::Sub"] for subject in subjects)
    assert set(trust()["Condition"]) == {"StringEquals", "StringLike"}


def test_the_workflow_asks_for_the_role_as_the_trust_expects() -> None:
    # deploy.yml runs on main (workflow_run runs on the default branch); its dev job has no environment, so
    # its token's subject is main's; the prod job's is the prod environment's
    workflow = deploy_workflow()
    assert workflow[True]["workflow_run"]["branches"] == ["main"]
    assert "environment" not in workflow["jobs"]["dev"]
    assert workflow["jobs"]["prod"]["environment"]["name"] == "prod"


@pytest.mark.parametrize("value", [REPOSITORY, "a/b", "Octo-Org/repo.name_2"])
def test_the_repository_is_named_as_owner_and_name(value: str) -> None:
    cloudformation.check_parameters(DOCUMENT, {"GitHubRepository": value})


@pytest.mark.parametrize(
    "value", ["octo-org", "octo-org/*", "*/*", "octo-org/repo:ref:refs/heads/*", "octo org/repo", "-org/repo", "a/b/c"]
)
def test_a_repository_that_could_widen_the_trust_is_refused(value: str) -> None:
    with pytest.raises(TemplateError, match="GitHubRepository must be a GitHub repository as owner/name"):
        cloudformation.check_parameters(DOCUMENT, {"GitHubRepository": value})


def test_the_role_is_not_created_for_no_repository() -> None:
    (assertion,) = DOCUMENT["Rules"]["RepositoryNamed"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "GitHubRepository"}, ""]}]}
    assert "GitHubRepository=<owner>/<name>" in assertion["AssertDescription"]


def test_an_accounts_existing_github_provider_is_used_instead_of_a_second() -> None:
    assert Template(DOCUMENT).condition_holds("CreateOidcProvider")
    reusing = Template(DOCUMENT, overrides={"ExistingOidcProviderArn": EXISTING_PROVIDER})
    assert not reusing.condition_holds("CreateOidcProvider")
    assert RESOURCES["GitHubOidcProvider"]["Condition"] == "CreateOidcProvider"
    with pytest.raises(TemplateError, match="ExistingOidcProviderArn"):
        cloudformation.check_parameters(
            DOCUMENT, {"ExistingOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"}
        )


# ---- what it may do ----


def test_the_role_holds_the_committed_deployer_policies_and_nothing_else() -> None:
    committed = github_role.committed_documents()
    assert [resource["Properties"]["PolicyDocument"] for resource in attached_policies()] == list(committed.values())
    assert not {"Policies", "ManagedPolicyArns", "PermissionsBoundary"} & set(ROLE["Properties"])
    assert len([r for r in RESOURCES.values() if r["Type"] in {"AWS::IAM::Policy", "AWS::IAM::RolePolicy"}]) == 0


def test_the_policies_block_is_as_deployer_policies_writes_it() -> None:
    text = TEMPLATE.read_text()
    assert github_role.with_policies(text, github_role.committed_documents()) == text, (
        "run: python -m sentiment_deploy deployer-policies"
    )


def test_the_role_and_its_template_keep_within_aws_quotas() -> None:
    documents = [resource["Properties"]["PolicyDocument"] for resource in attached_policies()]
    assert len(documents) <= policy.MAX_ATTACHED_POLICIES
    assert all(policy.size(document) <= policy.MAX_POLICY_CHARACTERS for document in documents)
    assert len(TEMPLATE.read_bytes()) <= TEMPLATE_BODY_QUOTA


def test_a_session_outlasts_a_deploy_and_its_smoke_check() -> None:
    durations = {
        step["with"]["role-duration-seconds"]
        for job in deploy_workflow()["jobs"].values()
        for step in job["steps"]
        if "role-duration-seconds" in step.get("with", {})
    }
    assert durations == {ROLE["Properties"]["MaxSessionDuration"]}
    timeouts = {job["timeout-minutes"] for job in deploy_workflow()["jobs"].values()}
    assert max(timeouts) * 60 <= ROLE["Properties"]["MaxSessionDuration"]


def test_the_role_arn_is_an_output_for_the_repository_variable() -> None:
    output = DOCUMENT["Outputs"]["DeployRoleArn"]
    assert output["Value"] == {"Fn::GetAtt": ["GitHubDeployRole", "Arn"]}
    assert "AWS_DEPLOY_ROLE_ARN" in output["Description"]


# ---- as CloudFormation, cfn-lint and checkov see it ----


@pytest.mark.slow  # SAM's translation and cfn-lint under each choice of provider
@pytest.mark.parametrize(
    "overrides",
    [{"GitHubRepository": REPOSITORY}, {"GitHubRepository": REPOSITORY, "ExistingOidcProviderArn": EXISTING_PROVIDER}],
    ids=["new-provider", "existing-provider"],
)
def test_cloudformation_would_create_it_and_cfn_lint_finds_nothing(overrides: dict[str, str]) -> None:
    translated, order = cloudformation.plan(Template(DOCUMENT, overrides=overrides))

    assert cloudformation.lint_errors(translated) == []
    assert order.index(github_role.ROLE) < min(order.index(name) for name in order if name.startswith("Deployer"))
    assert ("GitHubOidcProvider" in order) == ("ExistingOidcProviderArn" not in overrides)


def test_make_validates_check_passes_on_its_defaults() -> None:
    assert cloudformation.check_file(TEMPLATE) == []


def test_the_role_needs_no_checkov_skip_and_the_service_roles_each_say_why() -> None:
    # The role holds only the person's policies now: checkov finds nothing to skip in them
    assert not [name for name, resource in RESOURCES.items() if resource.get("Metadata", {}).get("checkov")]
    # The CloudFormation service role's policies, which name resources AWS gives ids, skip with a reason
    skips = [
        (name, skip)
        for name, resource in load(service_role.TEMPLATE)["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for resource, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (resource, skip)
        assert len(str(skip.get("comment", "")).strip()) >= 20, f"{resource} skips {skip['id']} without a reason"


def test_the_committed_policies_name_only_actions_iam_knows() -> None:
    # an action IAM does not know matches nothing, and cfn-lint warns of it in the role's template
    actions = [
        action
        for document in github_role.committed_documents().values()
        for statement in document["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if not action.endswith("*")
    ]
    assert actions
    assert [action for action in actions if not policy.known_to_iam(action)] == []
