"""``make up``: the whole system on this machine, with moto's server standing in for AWS.

One process owns moto's server, the functions' workers, their event sources, the HTTP gateway, the
training jobs and the model server; Ctrl-C or SIGTERM stops all of them. Data lives in one folder
(``build/local`` by default) and survives restarts:

    <data>/journal/                      tables, objects and queued messages: every change journaled
                                         before moto answers, replayed on the next start
    <data>/logs/<LogicalId>.log          each function's log; model.log, the model server's
    <data>/logs/training-<job>.log       each training job's log
    <data>/logs/notifications.log        every message the template's SNS topics published, one JSON a line
    <data>/training-jobs/<job>/          each training job's /opt/ml
    <data>/endpoints/<endpoint>.json     the model a SageMaker endpoint serves (the model server watches it)
    <data>/iam-usage.jsonl               every action each principal was allowed (LOCAL_IAM_USAGE moves it)

Every principal runs with its own role's credentials, and each AWS call it makes is checked against
that role's policies (:mod:`sentiment_local.iam`); ``LOCAL_IAM=off`` turns the check off, for debugging.

Each start-up step and each service the stack stands in for has its own module (the settings in
:mod:`~sentiment_local.environment`, moto in :mod:`~sentiment_local.moto.server`, the first model in
:mod:`~sentiment_local.sagemaker.first_model`, the SageMaker endpoint or ECS service in
:mod:`~sentiment_local.sagemaker.endpoint`, the model server's process in
:mod:`~sentiment_local.sagemaker.model_server`); this one holds their order.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import Client

from sentiment_common.registry import Champion
from sentiment_local import resources
from sentiment_local.environment import Settings, StackError, admin_key, check_ports, parameter_overrides
from sentiment_local.moto.server import MotoServer, serve
from sentiment_local.moto.ttl import TtlSweeper
from sentiment_local.persistence.journal import Journal
from sentiment_local.persistence.stack_record import attach_resources, record_stack
from sentiment_local.runtime.edge import Edge, RateRule, WebAclError, behaviours, origin_headers, web_acl_rules
from sentiment_local.runtime.event_rules import EventRules, PatternError
from sentiment_local.runtime.event_sources import Schedule, SqsPoller, rate_seconds
from sentiment_local.runtime.functions import Runner
from sentiment_local.runtime.gateway import Cors, Gateway
from sentiment_local.runtime.notifications import NotificationLog, subscribe_queue
from sentiment_local.sagemaker.endpoint import Endpoint
from sentiment_local.sagemaker.first_model import bootstrap_model
from sentiment_local.sagemaker.model_server import ModelServer
from sentiment_local.sagemaker.training_jobs import ANY_INSTANCE_TYPE, TrainingJobs, TrainingLimits
from sentiment_template import cloudformation, policies
from sentiment_template.reader import ACCOUNT, REGION, ROOT, Template

STOP_REPORT_S = 30  # a stop still running by then prints every thread's stack to the log
ADMIN_KEY_SECRET = "AdminApiKeySecret"  # noqa: S105 - the secret's logical id, not a secret


@dataclass
class Stack:
    """The start-up steps in their order (:meth:`start`), and the way down in the reverse (:meth:`stop`)."""

    settings: Settings
    template: Template = field(init=False)
    moto: MotoServer = field(init=False)
    model_server: ModelServer = field(init=False)
    endpoint: Endpoint = field(init=False)
    runner: Runner | None = None
    key: str = ""
    _gateway: BaseWSGIServer | None = None
    _pollers: list[SqsPoller | Schedule | TtlSweeper] = field(default_factory=list)
    _journal: Journal | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _wrote_state_file: bool = False
    _training: TrainingJobs | None = None
    _notifications: NotificationLog | None = None
    _translated: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)
    _created: list[tuple[str, str, str | None]] = field(default_factory=list)
    _client_rules: list[RateRule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.template = Template.read(
            self.settings.template, prefix=self.settings.prefix, overrides=parameter_overrides(self.settings)
        )
        self.moto = MotoServer(self.settings)
        self.model_server = ModelServer(self.settings, self._stop)
        self.endpoint = Endpoint(self.settings, self.template, self.moto, self.model_server, self._stop)

    @property
    def bucket(self) -> str:
        return self.template.physical_name("DataBucket")

    @property
    def notifications_log(self) -> Path:
        return self.settings.data_dir / "logs" / "notifications.log"

    # ---- start ----

    def start(self) -> None:
        settings = self.settings
        check_ports(settings)
        # As CloudFormation does before it creates anything: the parameters checked, SAM's translation
        # made, and the order worked out (a cycle refused).
        try:
            self._translated, self._order = cloudformation.plan(self.template)
        except cloudformation.TemplateError as error:
            raise StackError(f"CloudFormation would refuse {settings.template.name}: {error}") from error
        # Then what SageMaker and Application Auto Scaling would refuse of the model's serving.
        try:
            resources.check_scaling(self.template)
        except resources.LimitExceeded as error:
            raise StackError(str(error)) from error
        # And what AWS WAF would refuse of the web ACL in front of it all.
        try:
            self._client_rules = web_acl_rules(self.template)
        except WebAclError as error:
            raise StackError(f"AWS WAF would refuse the web ACL: {error}") from error
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.key = admin_key(settings)
        aws = self.moto.url
        specs = [self.template.function(logical_id, aws) for logical_id in self.template.functions()]
        overrides = {"MODEL_URL": self.model_server.url} if settings.backend == "ecs" else {}
        runner = self.runner = Runner(specs, aws, settings.data_dir / "logs", settings.concurrency, overrides)
        self._training = TrainingJobs(
            settings.data_dir / "training-jobs",
            settings.data_dir / "logs",
            self.moto.client("s3"),
            s3_for_role=lambda role: self.moto.client("s3", role),
            limits=TrainingLimits(dict(settings.training_quota), settings.training_throttle),
        )
        journal = self._journal = Journal(
            settings.data_dir / "journal", self.template, legacy=settings.data_dir / "snapshot"
        )
        self.moto.install_gaps(
            runner,
            lambda: self.model_server.url,
            training=self._training,
            on_endpoint_update=self.endpoint.on_update,
            journal=journal,
            instance_wait=self.endpoint.instance_wait,
            status_changes=self._event_rules(runner).deliver,
        )
        self.moto.start(journal)
        champion = self._create_resources(specs, journal)
        self.model_server.start(champion, self.endpoint.environment, lambda: self.endpoint.served)
        self._start_event_sources(runner)
        self._start_schedules(runner)
        self._start_ttl()
        self._start_notifications()
        self._start_gateway(runner)
        record_stack(
            self.template,
            self.moto.client,
            api_url=settings.url(settings.port),
            queue_endpoint=aws,
            endpoint_name=self.endpoint.name,
            role_arn=policies.SERVICE_ROLE_ARN,
        )
        attach_resources(
            self.template.prefix,
            [*self._created, ("ModelImageRepository", "AWS::ECR::Repository", None)],
            self.template,
            # CloudFormation deletes a stack's resources with the service role the stack was deployed with.
            client=lambda service: self.moto.client(service, policies.SERVICE_ROLE_ARN),
            queue_endpoint=aws,
            deleted=journal.resource_deleted,
        )
        settings.state_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "api": settings.url(settings.port),
                    "aws": aws,
                    # Named as a deployed stack is (CloudFormation, region): make smoke finds the stack by them
                    "stack_name": settings.prefix,
                    "region": REGION,
                    "moto_host": settings.moto_host,
                    "moto_port": settings.moto_port,
                    "model": self.model_server.url,
                    # What each function's environment holds, as the template declares it: make env-vars
                    "functions": {spec.logical_id: {**spec.environment, **overrides} for spec in specs},
                }
            )
        )
        self._wrote_state_file = True

    def _create_resources(self, specs: list[Any], journal: Journal) -> Champion:
        """The template's resources, the journal's data restored into them, the first model; returns
        what the model server is to load."""
        template, client = self.template, self.moto.client
        try:
            # In CloudFormation's order; a secret's Ref is its ARN, which Secrets Manager makes up, and
            # is pinned as the secret is made, so the roles' policies name it so.
            created = resources.create_in_order(
                template, self._translated, self._order, specs, client=client, secrets={ADMIN_KEY_SECRET: self.key}
            )
        except resources.LimitExceeded as error:
            raise StackError(str(error)) from error
        translated = self._translated["Resources"]
        self._created = [
            (logical_id, str(translated[logical_id]["Type"]), translated[logical_id].get("DeletionPolicy"))
            for logical_id in created
        ]
        if self.moto.enforcer is not None:
            self.moto.enforcer.load(
                {
                    **policies.principals(template, self._translated),
                    "Deployer": policies.deployer(),
                    "CloudFormation": policies.service_role(),
                }
            )
        restored = journal.restore()  # until it has run, the journal refuses to save
        if restored.items or restored.objects or restored.messages:
            print(
                f"Restored {restored.items} items, {restored.objects} objects and {restored.messages} queued messages "
                f"from {journal.directory}",
                flush=True,
            )
        # After the restore, so restored objects do not notify again.
        resources.create_notifications(template, client("s3"))
        champion = bootstrap_model(client("s3"), self.bucket, template.physical_name("RegistryTable"))
        return self.endpoint.create(champion)

    def _start_notifications(self) -> None:
        topics = [self.template.arn(logical_id) for logical_id in self.template.of_type("AWS::SNS::Topic")]
        sqs = self.moto.client("sqs")
        url = subscribe_queue(self.moto.client("sns"), sqs, f"{self.settings.prefix}-notifications", topics)
        self._notifications = NotificationLog(sqs, url, self.notifications_log)
        self._notifications.start()

    def _start_event_sources(self, runner: Runner) -> None:
        for logical_id, _name, properties in self.template.events("SQS"):
            queue = properties["Queue"]["Fn::GetAtt"][0]
            poller = SqsPoller(
                runner,
                logical_id,
                # Lambda polls the queue with the function's own role.
                sqs=self.moto.client("sqs", self.template.execution_role_arn(logical_id)),
                queue_url=self.template.queue_url(queue, self.moto.url),
                queue_arn=self.template.arn(queue),
                properties=self.template.resolve(properties),
            )
            poller.start()
            self._pollers.append(poller)

    def _event_rules(self, runner: Runner) -> EventRules:
        try:
            return EventRules.from_template(self.template, runner)
        except PatternError as error:
            raise StackError(str(error)) from error

    def _start_schedules(self, runner: Runner) -> None:
        for logical_id, name, properties in self.template.events("Schedule"):
            resolved = self.template.resolve(properties)
            if resolved.get("Enabled") is False or resolved.get("State") == "DISABLED":
                continue
            try:
                seconds = rate_seconds(str(resolved["Schedule"]))
            except ValueError as error:
                raise StackError(f"{logical_id}'s {name} schedule: {error}") from error
            rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.settings.prefix}-{logical_id}{name}"
            schedule = Schedule(runner, logical_id, rule_arn=rule_arn, seconds=seconds)
            schedule.start()
            self._pollers.append(schedule)

    def _start_ttl(self) -> None:
        """DynamoDB deletes expired items itself; moto does not (sentiment_local.moto.ttl)."""
        tables = [
            self.template.physical_name(logical_id) for logical_id in self.template.of_type("AWS::DynamoDB::Table")
        ]
        sweeper = TtlSweeper(self.moto.client("dynamodb"), tables)
        sweeper.start()
        self._pollers.append(sweeper)

    def _start_gateway(self, runner: Runner) -> None:
        gateway = Gateway(
            self.template.http_routes(), runner.invoke, Cors.of(self.template.http_api_cors()), ROOT / "frontend"
        )
        # CloudFront in front of the HTTP API and the page, as on AWS: its web ACL, and the origin header
        # without which the API's public routes answer 401.
        secrets = self.moto.client("secretsmanager")
        added = origin_headers(
            self.template, lambda secret: str(secrets.get_secret_value(SecretId=secret)["SecretString"])
        )
        edge = Edge(
            gateway,
            self._client_rules,
            behind_proxy=self.settings.behind_proxy,
            added_headers=added,
            ordered=behaviours(self.template),
            s3_url=self.moto.url,
        )
        # One request as CloudFront forwards it before the stack says it is up: the origin authorizer's answer
        # is then cached, so a page's first burst of requests does not start an authorizer environment for
        # each of them at once. It goes to the gateway itself, so it counts towards no client's limit.
        Client(gateway).get("/health", headers=added)
        self._gateway = make_server(self.settings.host, self.settings.port, edge, threaded=True)
        serve(self._gateway, "gateway")

    # ---- run and stop ----

    def banner(self) -> str:
        settings = self.settings
        api, model = settings.url(settings.port), self.model_server.url
        champion = self.endpoint.champion
        version = champion.version if champion else "?"
        default = settings.data_dir == Settings().data_dir
        wipe = "make clean wipes it" if default else "delete the folder to start afresh"
        return "\n".join(
            [
                "",
                "The local stack is up.",
                f"  API and web page   {api}",
                f"  OpenAPI document   {api}/openapi.json",
                f"  AWS endpoint       {self.moto.url}   (moto; AWS_ENDPOINT_URL for the AWS CLI and boto3)",
                f"  model server       {model}   (model {version}, behind the {settings.backend} backend)",
                f"  admin key          {self.key}",
                f"  data               {settings.data_dir}   (kept across restarts; {wipe})",
                f"  function logs      {settings.data_dir / 'logs'}",
                f"  notifications      {self.notifications_log}",
                "  IAM                "
                + (
                    f"each call checked against its role's policies; granted actions used: {settings.iam_usage_file}"
                    if settings.iam_enforced
                    else "not checked (LOCAL_IAM=off)"
                ),
                *self._training_limits_line(),
                self._client_limits_line(),
                "Press Ctrl-C to stop.",
                "",
            ]
        )

    def _client_limits_line(self) -> str:
        """The web ACL's limits per client address, as the gateway enforces them."""
        limits = "; ".join(f"{rule.name} {rule.limit} per {rule.window} s" for rule in self._client_rules)
        return f"  limits per client  {limits or 'none (CLIENT_RATE_LIMIT=0)'}"

    def _training_limits_line(self) -> list[str]:
        """What SageMaker is set to refuse, when LOCAL_TRAINING_QUOTA or LOCAL_TRAINING_THROTTLE is given."""
        quota, throttle = self.settings.training_quota, self.settings.training_throttle
        said = [
            *(
                f"beyond {instances} instance(s) of {'each type' if kind == ANY_INSTANCE_TYPE else kind} at once"
                for kind, instances in quota.items()
            ),
            *([f"the first {throttle} CreateTrainingJob call(s), throttled"] if throttle else []),
        ]
        return [f"  training jobs      refused by SageMaker: {'; '.join(said)}"] if said else []

    def stop(self) -> None:
        self._stop.set()
        # Executions still running lose their functions, their training job and then moto itself on
        # the way out; moto's interpreter would log each of those failures. They end with the process.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        self.model_server.stop_supervising()
        if self._gateway is not None:  # the gateway first; moto last
            self._gateway.shutdown()
        self._stop_functions()
        if self._notifications is not None:
            self._notifications.stop()
            self._notifications.join(timeout=5)
        if self._training is not None:
            self._training.close()
        self.model_server.stop()
        if self._journal is not None:
            self._journal.close()
        self.moto.shutdown()
        self.moto.close()
        if self._gateway is not None:
            self._gateway.server_close()
        self.moto.undo_gaps()
        if self._wrote_state_file:
            with contextlib.suppress(FileNotFoundError):
                self.settings.state_file.unlink()

    def _stop_functions(self) -> None:
        for poller in self._pollers:
            poller.stop()
        for poller in self._pollers:
            poller.join(timeout=5)
        if self.runner is not None:
            self.runner.close()


class StopSignal:
    """SIGINT or SIGTERM received. Python runs a signal handler in the main thread between two of its
    bytecodes, which may be inside ``threading.Event.wait`` while it holds the event's lock: a handler
    that called ``Event.set`` would then wait for that lock forever, and the stack would never stop. The
    handler therefore only writes a flag, and the main thread polls it."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self, signum: int, _frame: Any) -> None:
        del signum
        self.received = True

    def install(self) -> StopSignal:
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)
        return self

    def wait(self, poll_s: float = 0.5) -> None:
        while not self.received:
            time.sleep(poll_s)


def up(settings: Settings) -> int:
    stack = Stack(settings)
    stop_signal = StopSignal().install()
    try:
        stack.start()
        print(stack.banner(), flush=True)
        stop_signal.wait()
        print("Stopping...", flush=True)
    except StackError as error:
        print(f"make up: {error}", file=sys.stderr)
        return 2
    finally:
        # A stop that hangs says where: every thread's stack, once, after STOP_REPORT_S.
        faulthandler.dump_traceback_later(STOP_REPORT_S, file=sys.stderr)
        try:
            stack.stop()
        finally:
            faulthandler.cancel_dump_traceback_later()
    print("Stopped; the data is kept.", flush=True)
    return 0
