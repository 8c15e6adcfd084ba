"""``make up`` refuses, before it creates anything, what CloudFormation would refuse: a template whose
translation has a cycle, and a parameter value outside its constraints, each with CloudFormation's words."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import yaml

from sentiment_template.reader import load
from tests.conftest import ROOT
from tests.system.conftest import make, stack_environment


def make_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return make("up", env=stack_environment(tmp_path / "data", **env), timeout=180)


def test_a_cycle_reintroduced_on_purpose_is_refused_with_cloudformations_message(tmp_path: Path) -> None:
    # Given the template as it was: the state machine names the data bucket by reference, and the bucket
    # notifies the trigger, which starts the state machine
    document = copy.deepcopy(load(ROOT / "template.yaml"))
    substitutions = document["Resources"]["RetrainStateMachine"]["Properties"]["DefinitionSubstitutions"]
    substitutions["EmbeddingCacheUri"] = {"Fn::Sub": "s3://${DataBucket}/checkpoints/"}
    cyclic = tmp_path / "template.yaml"
    cyclic.write_text(yaml.safe_dump(document, sort_keys=False))

    # When make up stands it up
    result = make_up(tmp_path, LOCAL_TEMPLATE=str(cyclic))

    # Then it stops before creating anything, with CloudFormation's message naming the cycle
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Circular dependency between resources: [" in result.stderr
    assert "DataBucket" in result.stderr and "RetrainStateMachine" in result.stderr
    assert "The local stack is up." not in result.stdout
    assert not (tmp_path / "data" / "journal").exists()


def test_a_schedule_eventbridge_would_refuse_is_refused(tmp_path: Path) -> None:
    result = make_up(tmp_path, MONITORING_SCHEDULE="rate(1 minutes)")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Parameter MonitoringSchedule must be an EventBridge rate expression" in result.stderr


def test_a_limit_per_client_aws_waf_would_refuse_is_refused(tmp_path: Path) -> None:
    # AWS WAF takes a rate-based rule's limit of 10 or more: 5 would fail sam deploy at the web ACL
    result = make_up(tmp_path, CLIENT_WRITE_RATE_LIMIT="5")

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "AWS WAF would refuse the web ACL: rule writes-per-client: a rate-based rule's Limit must be 10 or more, not 5"
        in result.stderr
    )
    assert "The local stack is up." not in result.stdout
