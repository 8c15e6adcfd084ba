"""Create the template's tables, buckets and queues on an AWS endpoint (moto), exactly as declared."""

from __future__ import annotations

import json
from typing import Any

from sentiment_local.template import Template

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")
_QUEUE_ATTRIBUTES = ("DelaySeconds", "VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize")


def table_request(template: Template, logical_id: str) -> dict[str, Any]:
    properties = template.resolve(template.resources[logical_id]["Properties"])
    request = {key: properties[key] for key in _TABLE_KEYS if key in properties}
    request["TableName"] = template.physical_name(logical_id)
    return request


def create_tables(template: Template, dynamodb: Any) -> list[str]:
    names = []
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        request = table_request(template, logical_id)
        dynamodb.create_table(**request)
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=ttl)
        names.append(request["TableName"])
    return names


def create_buckets(template: Template, s3: Any) -> list[str]:
    names = []
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        name = template.physical_name(logical_id)
        s3.create_bucket(Bucket=name)
        versioning = resource.get("Properties", {}).get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=versioning)
        names.append(name)
    return names


def create_queues(template: Template, sqs: Any) -> list[str]:
    """Dead-letter queues first, so a redrive policy can name them."""
    queues = template.of_type("AWS::SQS::Queue")
    ordered = sorted(queues, key=lambda logical_id: "RedrivePolicy" in queues[logical_id].get("Properties", {}))
    urls = []
    for logical_id in ordered:
        properties = template.resolve(queues[logical_id].get("Properties", {}))
        attributes = {key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        urls.append(sqs.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)["QueueUrl"])
    return urls
