"""The SageMaker endpoint: a new model and endpoint configuration, then UpdateEndpoint."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from pipeline_function.ports import EndpointStatus, ModelRelease
from sentiment_common.artifacts import MODEL_SHA256_ENV
from sentiment_common.dal.aws import client
from sentiment_common.dal.transient import unavailable_when_transient

_NAME = re.compile(r"[^a-zA-Z0-9-]")


def resource_name(*parts: str) -> str:
    """SageMaker names: letters, digits and hyphens, at most 63 characters."""
    return _NAME.sub("-", "-".join(parts))[:63].rstrip("-")


class SageMakerModelEndpoint:
    """:class:`~pipeline_function.ports.ModelEndpoint` on SageMaker."""

    _sagemaker = client("sagemaker")

    def __init__(self, endpoint_name: str) -> None:
        self.name = endpoint_name

    def describe(self) -> EndpointStatus:
        with unavailable_when_transient("SageMaker"):
            answer = self._sagemaker.describe_endpoint(EndpointName=self.name)
        return EndpointStatus(answer["EndpointStatus"], answer["EndpointConfigName"], answer.get("FailureReason"))

    def deploy(self, release: ModelRelease) -> str:
        """Serve the release's ``model_data_url`` with the current configuration's variant settings
        (serverless with its concurrency, or instances) under a new model, named for the version, and a new
        configuration, named for the version and the run. Each call is safe to repeat.
        ``network_isolation`` as the template's model has it: serverless endpoints refuse isolated models.

        Only the model changes, which Application Auto Scaling allows on a variant it scales (a new instance
        type would be refused). An endpoint of instances keeps the instance count and weight it has now
        (``RetainAllVariantProperties``): without it, SageMaker would go back to the configuration's
        ``InitialInstanceCount`` and undo what autoscaling set (SageMaker developer guide, "Update endpoints
        that use auto scaling"). A serverless endpoint scales by itself and is updated as it is.

        SageMaker extracts ``model_data_url`` before the container starts, so the container cannot check
        the archive's hash: it checks ``model.joblib`` against ``model_sha256`` (the registry's) before
        unpickling it, and refuses to serve it otherwise."""
        model_name = resource_name("sentiment", release.version)
        config_name = resource_name("sentiment", release.version, release.run_id)
        current = self.describe()
        with unavailable_when_transient("SageMaker"):
            variants = self._sagemaker.describe_endpoint_config(EndpointConfigName=current.config_name)[
                "ProductionVariants"
            ]
        self._ignore_existing(
            self._sagemaker.create_model,
            ModelName=model_name,
            ExecutionRoleArn=release.role_arn,
            PrimaryContainer={
                "Image": release.image,
                "ModelDataUrl": release.model_data_url,
                "Environment": {
                    "SERVER_WORKERS": "2",
                    "MODEL_VERSION": release.version,
                    MODEL_SHA256_ENV: release.model_sha256,
                },
            },
            EnableNetworkIsolation=release.network_isolation,
        )
        keep = {"VariantName", "InitialVariantWeight", "ServerlessConfig", "InstanceType", "InitialInstanceCount"}
        self._ignore_existing(
            self._sagemaker.create_endpoint_config,
            EndpointConfigName=config_name,
            ProductionVariants=[
                {key: value for key, value in variant.items() if key in keep} | {"ModelName": model_name}
                for variant in variants
            ],
        )
        if current.config_name != config_name:
            scaled = {"RetainAllVariantProperties": True} if any("InstanceType" in v for v in variants) else {}
            with unavailable_when_transient("SageMaker"):
                self._sagemaker.update_endpoint(EndpointName=self.name, EndpointConfigName=config_name, **scaled)
        return config_name

    @staticmethod
    def _ignore_existing(call: Any, **request: Any) -> None:
        try:
            with unavailable_when_transient("SageMaker"):
                call(**request)
        except ClientError as error:
            message = error.response["Error"].get("Message", "")
            if "already exist" not in message.lower():
                raise
