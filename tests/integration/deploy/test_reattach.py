"""Kept data and a new stack: ``make deploy``'s preflight stops before CloudFormation would fail on the kept
data bucket's name, and ``make reattach`` finds what ``make destroy KEEP_DATA=yes`` kept and builds the
import that adopts it (the IMPORT change set itself runs only on AWS: moto has none)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from sentiment_deploy import destroy, reattach
from sentiment_deploy.stack import DeployError, find_stack
from sentiment_template import cloudformation
from tests.integration.deploy.conftest import STACK, Deployed
from tests.integration.deploy.test_deploy import resource_types, sam_delete

# Deploys whole stacks on moto: make check leaves it out.
pytestmark = pytest.mark.processes


def destroyed_keeping_data(deployed: Deployed) -> dict[str, str]:
    """make destroy KEEP_DATA=yes; the kept resources' names by logical id."""
    found = find_stack(boto3.client("cloudformation"), STACK, with_resources=True)
    types = resource_types(deployed)
    destroy.destroy(boto3.Session(), found, types, sam_delete(deployed, found, types), keep_data=True)
    return {logical_id: found.resources[logical_id] for logical_id in destroy.retained_resources()}


def test_preflight_passes_a_stack_that_exists_and_a_new_one(deployed: Deployed) -> None:
    assert reattach.preflight(boto3.Session(), STACK, "dev") == f"stack {STACK}: CREATE_COMPLETE"
    assert reattach.preflight(boto3.Session(), "sentiment-never-deployed", "prod") == (
        "stack sentiment-never-deployed: new"
    )


def test_preflight_stops_a_new_stack_whose_kept_data_bucket_would_block_its_creation(deployed: Deployed) -> None:
    # Given a stack destroyed with KEEP_DATA=yes: its data bucket, with its fixed name, is still there
    kept = destroyed_keeping_data(deployed)

    # When make deploy starts on the same stage
    with pytest.raises(DeployError) as stopped:
        reattach.preflight(boto3.Session(), STACK, "dev")

    # Then it stops before sam deploy, naming the bucket and the way out
    assert kept["DataBucket"] in str(stopped.value)
    assert "make reattach" in str(stopped.value)


def test_reattach_finds_the_kept_resources_and_imports_only_them(deployed: Deployed) -> None:
    kept = destroyed_keeping_data(deployed)

    found = reattach.kept_resources(boto3.Session(), STACK, "dev")

    assert found == kept
    translated = reattach.translated_template({"Stage": "dev"})
    planned = reattach.plan(translated, found)
    assert set(planned.template["Resources"]) == set(kept)
    assert all(
        resource["DeletionPolicy"] == "RetainExceptOnCreate" for resource in planned.template["Resources"].values()
    )
    # nothing in it names a resource the import does not create (the bucket's notifications come later)
    data_bucket: dict[str, Any] = planned.template["Resources"]["DataBucket"]
    assert "NotificationConfiguration" not in data_bucket["Properties"]
    assert "DependsOn" not in data_bucket
    assert cloudformation.lint_errors(planned.template) == []
    assert {
        (item["LogicalResourceId"], next(iter(item["ResourceIdentifier"].values())))
        for item in planned.resources_to_import
    } == set(kept.items())


def test_without_the_access_log_bucket_the_data_bucket_is_imported_without_its_logging(deployed: Deployed) -> None:
    kept = destroyed_keeping_data(deployed)
    del kept["AccessLogBucket"]

    planned = reattach.plan(reattach.translated_template({"Stage": "dev"}), kept)

    assert "LoggingConfiguration" not in planned.template["Resources"]["DataBucket"]["Properties"]
    assert cloudformation.lint_errors(planned.template) == []
