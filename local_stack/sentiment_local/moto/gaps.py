"""The things moto 5.2.5 does not do as AWS does, restored: one module per service, each opening with the
AWS behaviour it restores and the page that documents it, all installed by :func:`install`.

- :mod:`~sentiment_local.moto.awslambda`: an invocation runs the real handler in the local runtime, and S3
  invokes a function for a notification asynchronously;
- :mod:`~sentiment_local.moto.sagemaker`: ``InvokeEndpoint`` reaches the model server, training jobs train
  (and are throttled or refused over the quota), ``UpdateEndpoint`` swaps the model, SageMaker's rules for
  endpoint configurations and updates;
- :mod:`~sentiment_local.moto.stepfunctions`: the SageMaker integration, the names of a task's errors, the
  state machine's role on its calls, an execution's name;
- :mod:`~sentiment_local.moto.distributed_map`: a Distributed Map accepted as AWS accepts it and run as
  AWS runs it (:mod:`~sentiment_local.moto.map_run`);
- :mod:`~sentiment_local.moto.redrive`: ``RedriveExecution``, a map run redriven with it;
- :mod:`~sentiment_local.moto.status_events`: an execution's end sent to EventBridge's rules;
- :mod:`~sentiment_local.moto.application_autoscaling`: what Application Auto Scaling refuses
  (:mod:`~sentiment_local.moto.scaling` holds the rules);
- :mod:`~sentiment_local.moto.dynamodb`: isolated writes, a query's start key checked, requests that cost
  what they touch (:mod:`~sentiment_local.moto.dynamodb_order`);
- :mod:`~sentiment_local.moto.changes`: every change to a table, an object or a queue reported for the journal;
- :mod:`~sentiment_local.moto.memory`: moto's memory grows with the data, not with the requests;
- :mod:`~sentiment_local.moto.s3`: an object's bytes written, completed and answered a megabyte at a time,
  so that memory does not grow with the largest object either.

What AWS does on its own schedule is played beside moto: DynamoDB's time to live
(:mod:`~sentiment_local.moto.ttl`). What the journal and IAM read of moto's data directly is in
:mod:`~sentiment_local.moto.data`. The patches touch moto's internals, so they refuse any other moto version
(:mod:`~sentiment_local.moto.patching`).
"""

from __future__ import annotations

from collections.abc import Callable

from sentiment_local.moto import (
    application_autoscaling,
    awslambda,
    distributed_map,
    dynamodb,
    memory,
    redrive,
    s3,
    sagemaker,
    status_events,
    stepfunctions,
)
from sentiment_local.moto.changes import ChangeSink, plug_change_feed
from sentiment_local.moto.distributed_map import Authorize
from sentiment_local.moto.patching import Patches, check_version
from sentiment_local.moto.sagemaker import EndpointUpdate, InstanceWait
from sentiment_local.runtime.functions import Runner
from sentiment_local.sagemaker.training_jobs import TrainingJobs


def install(
    runner: Runner,
    model_url: Callable[[], str],
    *,
    training: TrainingJobs | None = None,
    on_endpoint_update: EndpointUpdate | None = None,
    changes: ChangeSink | None = None,
    instance_wait: InstanceWait | None = None,
    status_changes: status_events.Deliver | None = None,
    authorize: Authorize | None = None,
) -> Callable[[], None]:
    """Patch moto; returns the function that undoes it. Without ``training``, training jobs complete at
    once as moto has them; without ``on_endpoint_update``, an endpoint update swaps nothing; ``changes``
    is told of every change to tables, objects and queues; ``instance_wait`` says how long an invocation
    waits for an instance (none without it); ``status_changes`` is handed each execution's end as
    EventBridge receives it; ``authorize`` checks the calls a service makes with a role outside a request."""
    check_version()
    patches = Patches()
    awslambda.plug_invocations(patches, runner)
    sagemaker.plug_invoke_endpoint(patches, model_url, instance_wait)
    stepfunctions.plug_step_functions_sagemaker(patches)
    stepfunctions.plug_task_errors(patches)
    stepfunctions.plug_state_machine_credentials(patches)
    stepfunctions.plug_execution_names(patches)
    distributed_map.plug_distributed_map(patches, authorize)  # after the SageMaker plug: it wraps the task factory
    if status_changes is not None:
        redrive.plug_redrive(patches, status_events.plug_status_events(patches, status_changes))
    else:
        redrive.plug_redrive(patches)
    if training is not None:
        sagemaker.plug_training_jobs(patches, training)
    sagemaker.plug_update_endpoint(patches, on_endpoint_update or (lambda name, url, environment: None))
    sagemaker.plug_sagemaker_rules(patches)  # after plug_update_endpoint: it wraps the plugged update
    application_autoscaling.plug_application_autoscaling(patches)
    dynamodb.plug_dynamodb(patches, changes)
    memory.plug_instance_tracking(patches)
    s3.plug_s3_storage(patches)
    if changes is not None:
        plug_change_feed(patches, changes)
    return patches.undo
