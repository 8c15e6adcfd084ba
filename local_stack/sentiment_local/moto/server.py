"""moto's server, standing in for AWS: started in this process with moto's gaps filled
(:mod:`sentiment_local.moto.gaps`), every request journaled (:mod:`sentiment_local.persistence.journal`) and, unless
``LOCAL_IAM=off``, checked against the caller's role (:mod:`sentiment_local.iam`)."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from werkzeug.serving import BaseWSGIServer, make_server

from sentiment_local.environment import Settings
from sentiment_local.iam.enforcer import Enforcer
from sentiment_local.iam.presigned import PresignedUrls, role_secret
from sentiment_local.moto import data as moto_data
from sentiment_local.moto import gaps as moto_gaps
from sentiment_local.moto import s3 as moto_s3
from sentiment_local.moto import sagemaker as moto_sagemaker
from sentiment_local.moto import status_events as moto_status_events
from sentiment_local.persistence.journal import Journal
from sentiment_local.runtime.functions import Runner
from sentiment_local.sagemaker.training_jobs import TrainingJobs
from sentiment_template import policies
from sentiment_template.reader import REGION


class JournalRequests:
    """WSGI middleware in front of moto: the objects and messages a request changed are journaled once
    moto has finished with them, before its answer leaves (tables are journaled as they are written)."""

    def __init__(self, app: Any, journal: Journal) -> None:
        self._app = app
        self._journal = journal

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._journal.request():
            return self._app(environ, start_response)


def serve(server: BaseWSGIServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


class MotoServer:
    """moto's server on ``MOTO_HOST``:``MOTO_PORT``, and the clients that call it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enforcer: Enforcer | None = None
        self._server: BaseWSGIServer | None = None
        self._undo_gaps: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        host = self.settings.moto_host
        return f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{self.settings.moto_port}"  # noqa: S104

    def client(self, service: str, role_arn: str | None = None) -> Any:
        """A client as the deployer (the local stack itself), or as a principal running with ``role_arn``."""
        keys = (
            policies.credentials_for(role_arn)
            if role_arn
            else {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}  # moto accepts any credentials
        )
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )

    def install_gaps(
        self,
        runner: Runner,
        model_url: Callable[[], str],
        training: TrainingJobs,
        on_endpoint_update: moto_sagemaker.EndpointUpdate,
        journal: Journal,
        *,
        instance_wait: moto_sagemaker.InstanceWait | None = None,
        status_changes: moto_status_events.Deliver | None = None,
    ) -> None:
        """What moto lacks: functions run by ``runner``, endpoints answered by the model server (after
        ``instance_wait``'s cold start), training jobs run by ``training``, endpoint updates handed to
        ``on_endpoint_update``; ``journal`` told of every change; executions' ends handed to
        ``status_changes``. Undone by :meth:`close`."""
        self._undo_gaps = moto_gaps.install(
            runner,
            model_url,
            training=training,
            on_endpoint_update=on_endpoint_update,
            changes=journal,
            instance_wait=instance_wait,
            status_changes=status_changes,
            authorize=self._authorize,
        )

    def _authorize(self, role_arn: str, action: str, resource: str) -> str | None:
        return self.enforcer.authorize(role_arn, action, resource) if self.enforcer is not None else None

    def start(self, journal: Journal) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto loads only when a stack runs
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        # MOTO_PORT: where moto's Step Functions interpreter calls. The rest: code in this process that
        # uses boto3's defaults (the registry's data access) talks to moto, never to AWS.
        os.environ.update(
            {
                "MOTO_PORT": str(self.settings.moto_port),
                "AWS_ENDPOINT_URL": self.url,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        )
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(name, None)
        app: Any = moto_s3.ObjectTransfers(DomainDispatcherApplication(create_backend_app))
        if self.settings.iam_enforced:
            # The roles are read once the resources exist (a secret's ARN is made up when it is created);
            # until then only the deployer calls.
            app = self.enforcer = Enforcer(
                app,
                {},
                secret_arn=moto_data.secret_arn,
                resource_tags=moto_data.resource_tags,
                usage_file=self.settings.iam_usage_file,
            )
        # Outermost: S3 refuses a presigned URL it would not take before IAM looks at who signed it.
        app = PresignedUrls(app, role_secret)
        self._server = make_server(
            self.settings.moto_host,
            self.settings.moto_port,
            JournalRequests(app, journal),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        serve(self._server, "moto")
        request = urllib.request.Request(  # noqa: S310 - our own moto server
            f"{self.url}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

    def shutdown(self) -> None:
        """Stop answering; the last of the stack to stop, since everything else calls it."""
        if self._server is not None:
            self._server.shutdown()

    def close(self) -> None:
        if self._server is not None:
            self._server.server_close()

    def undo_gaps(self) -> None:
        if self._undo_gaps is not None:
            self._undo_gaps()
