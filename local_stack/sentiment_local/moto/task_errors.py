"""A service's refusal, as a Step Functions optimized integration names it in ``Error`` and ``Cause``.

Step Functions calls the services with the AWS SDK for Java, and a task's ``Error`` is the
integration's prefix and the name of the exception the SDK threw:

- an error the service's API declares is its own exception: SageMaker's ``ResourceLimitExceeded``
  is ``SageMaker.ResourceLimitExceededException``, Lambda's ``TooManyRequestsException`` is
  ``Lambda.TooManyRequestsException``, SNS's ``Throttled`` is ``SNS.ThrottledException`` (the SDK
  names a declared error by its shape, with ``Exception`` added where the shape has none);
- any other error (throttling, validation, access denied, which the APIs leave to their common
  errors) is the SDK's base exception of the service: ``SageMaker.AmazonSageMakerException``,
  ``Lambda.AWSLambdaException``, ``SNS.AmazonSNSException``, the service's own code only in the
  ``Cause``.

The ``Cause`` is the SDK's message: ``<message> (Service: AmazonSageMaker; Status Code: 400; Error
Code: ThrottlingException; Request ID: …; Proxy: null)``.

Sources:
- Step Functions developer guide, "Create and manage Amazon SageMaker AI jobs with Step Functions"
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html): its training job
  example retries ``SageMaker.AmazonSageMakerException`` and ``SageMaker.ResourceLimitExceededException``;
- "Handling errors in Step Functions workflows"
  (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html) and "Handle Lambda
  service exceptions" (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html):
  ``Lambda.ServiceException``, ``Lambda.AWSLambdaException``, ``Lambda.SdkClientException``,
  ``Lambda.TooManyRequestsException``;
- the AWS SDK for Java: ``ResourceLimitExceededException extends AmazonSageMakerException``
  (https://docs.aws.amazon.com/AWSJavaSDK/latest/javadoc/com/amazonaws/services/sagemaker/model/ResourceLimitExceededException.html);
- a throttled ``CreateTrainingJob`` reported as ``SageMaker.AmazonSageMakerException``, ``ThrottlingException``
  only in its cause (https://github.com/aws/aws-step-functions-data-science-sdk-python/issues/191).
Which errors an API declares is read from botocore's model of it, the service model the SDKs are
generated from.
"""

from __future__ import annotations

from functools import cache
from typing import Final, NamedTuple

from botocore.exceptions import ClientError
from botocore.loaders import create_loader
from botocore.model import ServiceModel


class Integration(NamedTuple):
    prefix: str  # the Error's prefix
    base_exception: str  # the SDK's exception for an error the API does not declare
    sdk_service: str  # "Service:" in the Cause


INTEGRATIONS: Final[dict[str, Integration]] = {
    "sagemaker": Integration("SageMaker", "AmazonSageMakerException", "AmazonSageMaker"),
    "lambda": Integration("Lambda", "AWSLambdaException", "AWSLambda"),
    "sns": Integration("SNS", "AmazonSNSException", "AmazonSNS"),
}


@cache
def declared_errors(service: str) -> dict[str, str]:
    """Each error code the service's API declares, with the name of its shape."""
    model = ServiceModel(create_loader().load_service_model(service, "service-2"), service)
    declared = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            declared[str(shape.metadata.get("error", {}).get("code", name))] = name
    return declared


def error_name(service: str, code: str) -> str:
    """What a task's ``Error`` is when ``service`` answers with ``code``."""
    integration = INTEGRATIONS[service]
    shape = declared_errors(service).get(code)
    if shape is None:
        return f"{integration.prefix}.{integration.base_exception}"
    return f"{integration.prefix}.{shape if shape.endswith('Exception') else shape + 'Exception'}"


def task_error(service: str, error: ClientError) -> tuple[str, str]:
    """``(Error, Cause)`` of a task whose call to ``service`` was refused with ``error``."""
    details = error.response.get("Error", {})
    metadata = error.response.get("ResponseMetadata", {})
    code = str(details.get("Code", "Unknown"))
    cause = (
        f"{details.get('Message', '')} (Service: {INTEGRATIONS[service].sdk_service}; "
        f"Status Code: {metadata.get('HTTPStatusCode', 400)}; Error Code: {code}; "
        f"Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
    )
    return error_name(service, code), cause
