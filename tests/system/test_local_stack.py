"""``make up`` exactly as a user runs it: driven over HTTP, by newman and by ``make invoke``; its
resources checked against template.yaml; stopped, restarted with the data still there; and stopped
again with nothing left running or listening."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import uuid

import httpx

from sentiment_local.resources import table_request
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, make, module_stack

NEWMAN = ROOT / "postman" / "node_modules" / ".bin" / "newman"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


local_stack = module_stack("local-data")


def test_it_prints_the_urls_and_the_admin_key(local_stack: LocalStack) -> None:
    output = local_stack.output()
    assert local_stack.api in output
    assert f"{local_stack.api}/openapi.json" in output
    assert local_stack.aws in output
    key = (local_stack.data / "admin-api-key").read_text().strip()
    assert len(key) >= 32
    assert f"admin key          {key}" in output


def test_comments_feedback_and_listing_over_http(api: httpx.Client, local_stack: LocalStack) -> None:
    created = api.post("/comments", json={"comment": "An absolute joy, I loved every minute"})
    assert created.status_code == 201, created.text
    comment = created.json()
    assert comment["status"] == "classified"
    assert comment["sentiment"] == "positive"
    assert set(comment["scores"]) == {"negative", "neutral", "positive"}

    fetched = api.get(f"/comments/{comment['comment_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["original_comment"] == "An absolute joy, I loved every minute"

    second = api.post("/comments", json={"text": "Dreadful. It broke on the first day."}).json()
    listing = api.get("/comments", params={"limit": 2}).json()
    assert [item["comment_id"] for item in listing["items"]] == [second["comment_id"], comment["comment_id"]]
    negatives = api.get("/comments", params={"sentiment": "negative"}).json()["items"]
    assert second["comment_id"] in {item["comment_id"] for item in negatives}
    assert all(item["sentiment"] == "negative" for item in negatives)

    feedback = api.post("/feedback", json={"comment_id": comment["comment_id"], "label": "neutral"})
    assert feedback.status_code == 201, feedback.text
    # With the template's PublicLabels (suggest) an anonymous label waits for a reviewer
    assert feedback.json()["use"] == "suggestion"
    labelled = api.get(f"/comments/{comment['comment_id']}").json()
    assert (labelled["suggested_label"], labelled["feedback"]) == ("neutral", None)
    bucket = Template.read(ROOT / "template.yaml").physical_name("DataBucket")
    keys = [
        item["Key"] for item in local_stack.client("s3").list_objects_v2(Bucket=bucket, Prefix="feedback/")["Contents"]
    ]
    stored = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=bucket, Key=next(k for k in keys if feedback.json()["feedback_id"] in k))["Body"]
        .read()
    )
    assert stored["comment_id"] == comment["comment_id"]
    assert stored["label"] == "neutral"


def test_bad_input_is_refused_and_nothing_is_stored(api: httpx.Client) -> None:
    before = len(api.get("/comments", params={"limit": 100}).json()["items"])
    empty = api.post("/comments", json={"comment": "  "})
    assert empty.status_code == 422
    assert "comment" in json.dumps(empty.json()["details"])
    assert (
        api.post("/comments", content=b'{"comment": ', headers={"content-type": "application/json"}).status_code == 400
    )
    assert api.post("/comments", content=b"plain", headers={"content-type": "text/plain"}).status_code == 415
    assert api.get("/comments/nope").status_code == 404
    assert api.get("/no-such-route").json() == {"message": "Not Found"}
    assert len(api.get("/comments", params={"limit": 100}).json()["items"]) == before


def test_an_idempotency_key_stores_one_comment(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    answers = [api.post("/comments", json={"comment": "Once only"}, headers={"Idempotency-Key": key}) for _ in range(3)]
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["comment_id"] for answer in answers}) == 1
    items = api.get("/comments", params={"limit": 100}).json()["items"]
    assert sum(1 for item in items if item["original_comment"] == "Once only") == 1
    assert api.post("/comments", json={"comment": "Other"}, headers={"Idempotency-Key": key}).status_code == 422


def test_reviewers_label_under_their_name_and_lose_their_keys_at_once(
    api: httpx.Client, local_stack: LocalStack
) -> None:
    """Through the gateway, its two authorizers and IAM as the template grants it."""
    admin = {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}
    comment_id = api.post("/comments", json={"comment": "The checkout was quick"}).json()["comment_id"]

    # Given an admin creates a reviewer
    created = api.post("/reviewers", json={"name": "system-ana"}, headers=admin)
    assert created.status_code == 201, created.text
    reviewer = {"Authorization": f"Bearer {created.json()['key']}"}
    assert api.post("/reviewers", json={"name": "system-ana"}, headers=reviewer).status_code == 403

    # When the reviewer labels, then the label is stored under their name
    labelled = api.post("/reviews", json={"comment_id": comment_id, "label": "neutral"}, headers=reviewer)
    assert labelled.status_code == 201, labelled.text
    bucket = Template.read(ROOT / "template.yaml").physical_name("DataBucket")
    s3 = local_stack.client("s3")
    key = next(
        item["Key"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="feedback/")["Contents"]
        if labelled.json()["feedback_id"] in item["Key"]
    )
    stored = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (stored["source"], stored["reviewer"], stored["label"]) == ("reviewer", "system-ana", "neutral")

    # When the admin revokes them, then their key is refused from the next call
    assert api.delete("/reviewers/system-ana", headers=admin).status_code == 200
    refused = api.post("/reviews", json={"comment_id": comment_id, "label": "positive"}, headers=reviewer)
    assert refused.status_code == 403
    assert api.get(f"/comments/{comment_id}").json()["feedback"]["label"] == "neutral"

    # When the admin withdraws them, then they are listed as withdrawn (the next run leaves their labels out)
    assert api.post("/reviewers/system-ana/withdraw", headers=admin).status_code == 200
    listed = {item["name"]: item for item in api.get("/reviewers", headers=admin).json()["reviewers"]}
    assert listed["system-ana"]["withdrawn_at"] is not None
    assert listed["system-ana"]["active"] is False
    assert api.get("/reviewers").status_code == 401


def test_cors_follows_the_template(api: httpx.Client) -> None:
    preflight = api.options(
        "/comments", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-max-age"] == "600"


def test_the_postman_collection_passes(local_stack: LocalStack) -> None:
    assert NEWMAN.exists(), "newman is not installed: run `make postman/node_modules/.bin/newman`"
    result = subprocess.run(
        [
            str(NEWMAN),
            "run",
            "sentiment-api.postman_collection.json",
            "-e",
            "local.postman_environment.json",
            "--env-var",
            f"baseUrl={local_stack.api}",
            "--env-var",
            f"adminKey={(local_stack.data / 'admin-api-key').read_text().strip()}",
            "--reporters",
            "cli",
            "--color",
            "off",
        ],
        cwd=ROOT / "postman",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "assertions │" in result.stdout


def make_invoke(local_stack: LocalStack, function: str) -> subprocess.CompletedProcess[str]:
    arguments = ("-s", "invoke", f"FUNCTION={function}", "EVENT=events/api-health-get-200.json")
    return make(*arguments, env=local_stack.env, timeout=120)


def test_make_invoke_runs_a_function_on_the_stack(local_stack: LocalStack) -> None:
    result = make_invoke(local_stack, "ApiFunction")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["model"]["reachable"] is True
    assert "REPORT RequestId:" in result.stderr

    unknown = make_invoke(local_stack, "NoSuchFunction")
    assert unknown.returncode != 0
    assert "no function 'NoSuchFunction'" in unknown.stderr


def test_the_local_resources_match_the_template(local_stack: LocalStack) -> None:
    template = Template.read(ROOT / "template.yaml", prefix="sentiment-local")
    dynamodb = local_stack.client("dynamodb")
    for logical_id in template.of_type("AWS::DynamoDB::Table"):
        declared = table_request(template, logical_id)
        actual = dynamodb.describe_table(TableName=declared["TableName"])["Table"]
        assert actual["KeySchema"] == declared["KeySchema"]
        assert {index["IndexName"]: index["KeySchema"] for index in actual.get("GlobalSecondaryIndexes", [])} == {
            index["IndexName"]: index["KeySchema"] for index in declared.get("GlobalSecondaryIndexes", [])
        }
    ttl = dynamodb.describe_time_to_live(TableName=template.physical_name("IdempotencyTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"

    sqs = local_stack.client("sqs")
    url = sqs.get_queue_url(QueueName=template.physical_name("PendingQueue"))["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    declared_queue = template.resources["PendingQueue"]["Properties"]
    assert attributes["DelaySeconds"] == str(declared_queue["DelaySeconds"])
    assert attributes["VisibilityTimeout"] == str(declared_queue["VisibilityTimeout"])
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == declared_queue["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"].endswith(template.physical_name("PendingDeadLetterQueue"))

    s3 = local_stack.client("s3")
    assert s3.get_bucket_versioning(Bucket=template.physical_name("DataBucket"))["Status"] == "Enabled"

    lambda_ = local_stack.client("lambda")
    for logical_id in template.functions():
        spec = template.function(logical_id, local_stack.aws)
        configuration = lambda_.get_function(FunctionName=spec.name)["Configuration"]
        assert configuration["Handler"] == spec.handler
        assert configuration["Timeout"] == spec.timeout
        assert configuration["Environment"]["Variables"]["COMMENTS_TABLE"] == template.physical_name("CommentsTable")

    sagemaker = local_stack.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=template.physical_name("ModelEndpoint"))
    assert endpoint["EndpointConfigName"] == template.physical_name("ModelEndpointConfig")


def test_a_second_stack_on_the_same_port_is_refused(local_stack: LocalStack) -> None:
    result = make("up", env={**local_stack.env, "LOCAL_DATA": str(local_stack.data / "other")}, timeout=120)
    assert result.returncode != 0
    assert f"port {local_stack.env['PORT']} on 127.0.0.1 is already in use" in result.stderr


def test_data_survives_a_restart_and_stopping_leaves_nothing(local_stack: LocalStack) -> None:
    with httpx.Client(base_url=local_stack.api, timeout=30) as client:
        kept = client.post("/comments", json={"comment": "Remember me after a restart"}).json()
        client.post("/feedback", json={"comment_id": kept["comment_id"], "label": "positive"}).raise_for_status()
        version = client.get("/health").json()["model"]["model_version"]

    local_stack.stop(signal.SIGINT)
    assert not any(_listening(port) for port in local_stack.ports)

    local_stack.start()
    assert "Restored " in local_stack.output()
    with httpx.Client(base_url=local_stack.api, timeout=30) as client:
        again = client.get(f"/comments/{kept['comment_id']}")
        assert again.status_code == 200
        assert again.json()["suggested_label"] == "positive"  # a public label suggests, by default
        assert client.get("/health").json()["model"]["model_version"] == version  # no retraining on restart

    local_stack.stop(signal.SIGTERM)
    assert not any(_listening(port) for port in local_stack.ports)
