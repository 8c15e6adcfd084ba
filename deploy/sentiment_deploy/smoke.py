"""``make smoke``: checks a deployed stack as its users meet it, then leaves it as it was.

1. The Postman collection with its deployed environment (newman), against the stack's URL: every
   route, good and bad input, the admin routes refused without the key.
2. One retraining run, started by hand (``POST /training``), followed to its end: it must succeed.
   A run already active (people's feedback starts them) makes ``POST /training`` answer 409: smoke
   waits for that run to end, saying how it goes, then starts its own. If its run promoted a new
   champion, the previous one is promoted back (a run that only deploys it).
3. What the checks created is deleted: the comments (from the comments table) and the feedback
   objects (every version, from the data bucket), by the ids the API answered with. This needs the
   deployer's AWS credentials for the stack; the admin key is read from Secrets Manager when
   ``ADMIN_API_KEY`` is not set. The run stays in the registry's history, as every run does, and
   idempotency records expire by themselves (their TTL).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from sentiment_deploy import newman
from sentiment_deploy.stack import ROOT, DeployedStack, DeployError

POSTMAN = ROOT / "postman"
RUN_TIMEOUT_S = 45 * 60  # a SageMaker training job and an endpoint update
WAIT_FOR_ACTIVE_S = RUN_TIMEOUT_S  # a run someone else started takes as long
PROGRESS_EVERY_S = 60  # while waiting for another's run: a line at least this often
FINISHED = {"SUCCEEDED", "FAILED"}


@dataclass
class Created:
    comments: set[str] = field(default_factory=set)
    feedback: set[str] = field(default_factory=set)  # object keys


def check_target(stack: DeployedStack, url: str) -> None:
    """Check, and clean up, only the stack that serves ``url`` at its WebUrl, where its users call it: its
    ApiUrl answers the public routes only for requests that came through CloudFront (the origin header),
    so it is refused with the address to use. (``make up`` serves both at one address.)"""
    web, api = (stack.outputs.get(name, "").rstrip("/") for name in ("WebUrl", "ApiUrl"))
    if url.rstrip("/") == api and api != web:
        raise DeployError(
            f"{url} is stack {stack.name!r}'s ApiUrl, whose public routes answer only what comes through "
            f"CloudFront: give its WebUrl, {web}"
        )
    served = {web, api} - {""}
    if url.rstrip("/") not in served:
        raise DeployError(
            f"{url} is not stack {stack.name!r}'s ApiUrl or WebUrl ({', '.join(sorted(served))}): name its stack "
            "with STACK=<name> or ENV=<samconfig environment>"
        )


def admin_key(session: Any, stack: DeployedStack) -> str:
    given = os.environ.get("ADMIN_API_KEY")
    if given:
        return given
    secret = stack.output("AdminApiKeySecretArn")
    return str(session.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]).strip()


# ---- 1. the collection ----


def run_collection(url: str, key: str, created: Created) -> None:
    """The collection against ``url``; ``created`` gains what it created, even when a check fails. The key
    reaches newman in a private environment file, never on its command line, and newman's report (which
    holds it) is read and deleted (:mod:`sentiment_deploy.newman`)."""
    try:
        code, found = newman.run(
            POSTMAN / "deployed.postman_environment.json",
            {"baseUrl": url.rstrip("/"), "adminKey": key},
            read_report=created_by,
        )
    except FileNotFoundError as error:
        raise DeployError(str(error)) from error
    if found is not None:
        created.comments |= found.comments
        created.feedback |= found.feedback
    if code != 0:
        raise DeployError(f"the Postman collection failed against {url} (newman exited with {code})")


def _answers(report: dict[str, Any]) -> Iterator[tuple[str, str, int, Any]]:
    """(method, path, status, JSON body) of every request the collection made."""
    executions = report["run"]["executions"]
    for execution in executions:
        request, response = execution.get("request", {}), execution.get("response") or {}
        stream = response.get("stream", {})
        raw = bytes(stream.get("data", [])) if isinstance(stream, dict) else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = "/" + "/".join(request.get("url", {}).get("path", []))
        yield str(request.get("method", "")), path, int(response.get("code", 0)), body


def created_by(report: dict[str, Any]) -> Created:
    created = Created()
    for method, path, status, body in _answers(report):
        if method != "POST" or status >= 300 or not isinstance(body, dict):
            continue
        if path == "/comments" and "comment_id" in body:
            created.comments.add(str(body["comment_id"]))
        elif path == "/comments/batch":
            created.comments |= {str(item["comment_id"]) for item in body.get("results", []) if "comment_id" in item}
        elif path in {"/feedback", "/reviews"} and "feedback_id" in body:
            created.feedback.add(f"feedback/dt={str(body['created_at'])[:10]}/{body['feedback_id']}.json")
    return created


# ---- 2. one retraining run ----


def _champion(api: httpx.Client) -> str | None:
    models = api.get("/models").raise_for_status().json()
    return next((str(model["version"]) for model in models["items"] if model["status"] == "champion"), None)


def wait_for_run(
    api: httpx.Client,
    run_id: str,
    timeout_s: float = RUN_TIMEOUT_S,
    poll_s: float = 10,
    progress_every_s: float | None = None,
) -> dict[str, Any]:
    """The run once it has ended; with ``progress_every_s``, a line whenever a step ends and at least that often."""
    started = time.monotonic()
    deadline = started + timeout_s
    said: tuple[list[str], float] | None = None
    while True:
        run: dict[str, Any] = api.get(f"/training/{run_id}").raise_for_status().json()
        if run["status"] in FINISHED:
            return run
        now = time.monotonic()
        if now > deadline:
            raise DeployError(f"run {run_id} is still {run['status']} after {timeout_s:.0f} s")
        steps = [str(step["step"]) for step in run.get("steps", [])]
        if progress_every_s is not None and (said is None or steps != said[0] or now - said[1] >= progress_every_s):
            done = ", ".join(steps) or "none yet"
            print(f"  {run_id}: {run['status']} for {now - started:.0f} s; steps done: {done}", flush=True)
            said = (steps, now)
        time.sleep(poll_s)


def _active_run(api: httpx.Client, refused: httpx.Response) -> dict[str, Any] | None:
    """The run that made ``POST /training`` answer 409: the one its details name, else any not ended."""
    try:
        details = refused.json().get("details") or []
    except ValueError:
        details = []
    named = next((item["run_id"] for item in details if isinstance(item, dict) and item.get("run_id")), None)
    if named is not None:
        run: dict[str, Any] = api.get(f"/training/{named}").raise_for_status().json()
        return run
    listed = api.get("/training").raise_for_status().json()["items"]
    return next((dict(run) for run in listed if run["status"] not in FINISHED), None)


def start_run(api: httpx.Client, poll_s: float = 10, wait_s: float = WAIT_FOR_ACTIVE_S) -> tuple[str, str | None]:
    """Start a run (``POST /training``), after waiting for any run already active to end, for
    ``wait_s`` at most; its id, and the champion just before it started."""
    deadline = time.monotonic() + wait_s
    while True:
        before = _champion(api)
        started = api.post("/training", json={})
        if started.status_code == 202:
            return str(started.json()["run_id"]), before
        if started.status_code != 409:
            raise DeployError(f"POST /training answered {started.status_code}: {started.text}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeployError(f"POST /training still answers 409 after waiting {wait_s:.0f} s: {started.text}")
        active = _active_run(api, started)
        if active is None:  # it ended meanwhile, or another started at the same moment: ask again
            time.sleep(poll_s)
            continue
        print(
            f"run {active['run_id']} (started by {active.get('trigger', 'someone')}) is still running: waiting for "
            f"it to end before starting this check's own (at most {remaining:.0f} s)",
            flush=True,
        )
        ended = wait_for_run(api, str(active["run_id"]), remaining, poll_s, progress_every_s=PROGRESS_EVERY_S)
        print(f"run {active['run_id']} ended: {ended['status']}", flush=True)


def retraining_run(api: httpx.Client, poll_s: float = 10) -> str:
    """Start one run, follow it, put the champion back if it changed; what happened, in one line."""
    run_id, before = start_run(api, poll_s=poll_s)
    print(f"started retraining run {run_id}", flush=True)
    run = wait_for_run(api, run_id, poll_s=poll_s)
    if run["status"] != "SUCCEEDED":
        raise DeployError(f"run {run_id} failed: {run.get('error') or run}")
    after = _champion(api)
    said = f"run {run_id} succeeded ({run.get('decision') or 'no decision'})"
    if before is not None and after != before:
        rollback = api.post(f"/models/{before}/promote")
        if rollback.status_code != 202:
            raise DeployError(f"promoting {before} back answered {rollback.status_code}: {rollback.text}")
        restored = wait_for_run(api, str(rollback.json()["run_id"]), poll_s=poll_s)
        if restored["status"] != "SUCCEEDED" or _champion(api) != before:
            raise DeployError(f"{before} could not be made champion again: {restored}")
        said += f"; it promoted {after}, and {before} is champion again"
    return said


# ---- 3. clean up ----


def clean_up(session: Any, stack: DeployedStack, created: Created) -> str:
    table = stack.output("CommentsTableName")
    bucket = stack.output("DataBucketName")
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    for comment_id in sorted(created.comments):
        dynamodb.delete_item(TableName=table, Key={"comment_id": {"S": comment_id}})
    versions = 0
    for key in sorted(created.feedback):
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
        for version in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
            if version["Key"] == key:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
                versions += 1
    return (
        f"deleted {len(created.comments)} comments from {table} and {len(created.feedback)} feedback objects "
        f"({versions} versions) from {bucket}"
    )


def smoke(session: Any, stack: DeployedStack, url: str, *, poll_s: float = 10) -> list[str]:
    check_target(stack, url)
    key = admin_key(session, stack)
    said = []
    created = Created()
    try:
        run_collection(url, key, created)
        said.append("the Postman collection passed")
        with httpx.Client(base_url=url.rstrip("/"), timeout=60, headers={"Authorization": f"Bearer {key}"}) as api:
            said.append(retraining_run(api, poll_s=poll_s))
    finally:
        if created.comments or created.feedback:
            said.append(clean_up(session, stack, created))
    return said
