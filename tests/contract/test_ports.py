"""Each port names exactly its adapter's public methods, and the adapter and the fake take them alike."""

from __future__ import annotations

import inspect

import pytest

from jobs_function import ports as jobs_ports
from jobs_function.adapters.s3 import S3JobFiles
from pipeline_function import ports as pipeline_ports
from pipeline_function.adapters.s3 import S3DataStore
from pipeline_function.adapters.sagemaker import SageMakerModelEndpoint
from sentiment_common import ports
from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.dal.datasets import DynamoDbDatasets, S3DatasetFiles
from sentiment_common.dal.feedback import S3FeedbackArchive
from sentiment_common.dal.job_workflow import S3JobLinks, StepFunctionsJobWorkflow
from sentiment_common.dal.jobs import DynamoDbJobs
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.dal.pending import SqsRetryQueue
from sentiment_common.dal.reviewers import DynamoDbReviewers
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from tests.fakes.datasets import FakeDatasetFiles, FakeDatasets
from tests.fakes.jobs import FakeJobFiles, FakeJobLinks, FakeJobs, FakeJobWorkflow
from tests.fakes.pipeline import FakeDataStore, FakeModelEndpoint, FakeWithdrawnReviewers
from tests.fakes.reviewers import FakeReviewers
from tests.fakes.stores import (
    FakeCommentStore,
    FakeFeedbackArchive,
    FakeMonitoringCounters,
    FakeRetrainWorkflow,
    FakeRetryQueue,
)

TRIOS = [
    (ports.CommentStore, DynamoDbCommentStore, FakeCommentStore),
    (ports.FeedbackArchive, S3FeedbackArchive, FakeFeedbackArchive),
    (ports.RetryQueue, SqsRetryQueue, FakeRetryQueue),
    (ports.RetrainWorkflow, StepFunctionsRetrainWorkflow, FakeRetrainWorkflow),
    (ports.MonitoringCounters, DynamoDbMonitoringCounters, FakeMonitoringCounters),
    (ports.Reviewers, DynamoDbReviewers, FakeReviewers),
    (ports.Datasets, DynamoDbDatasets, FakeDatasets),
    (ports.DatasetFiles, S3DatasetFiles, FakeDatasetFiles),
    (pipeline_ports.DataStore, S3DataStore, FakeDataStore),
    (pipeline_ports.ModelEndpoint, SageMakerModelEndpoint, FakeModelEndpoint),
    (ports.Jobs, DynamoDbJobs, FakeJobs),
    (ports.JobWorkflow, StepFunctionsJobWorkflow, FakeJobWorkflow),
    (ports.JobLinks, S3JobLinks, FakeJobLinks),
    (jobs_ports.JobFiles, S3JobFiles, FakeJobFiles),
]


def public_methods(cls: type) -> set[str]:
    """Its own and inherited (the counters' rules are shared by the adapter and the fake), not typing's."""
    own = (klass for klass in cls.__mro__ if klass.__module__ not in ("builtins", "typing"))
    return {
        name for klass in own for name, value in vars(klass).items() if callable(value) and not name.startswith("_")
    }


@pytest.mark.parametrize(("port", "adapter", "fake"), TRIOS, ids=[trio[0].__name__ for trio in TRIOS])
def test_the_port_mirrors_its_adapter_and_the_fake_implements_it(port: type, adapter: type, fake: type) -> None:
    assert public_methods(port) == public_methods(adapter)
    for name in public_methods(port):
        expected = inspect.signature(getattr(port, name))
        assert inspect.signature(getattr(adapter, name)) == expected, f"{adapter.__name__}.{name}"
        assert inspect.signature(getattr(fake, name)) == expected, f"{fake.__name__}.{name}"


def test_what_prepare_reads_of_the_reviewers_is_part_of_their_store() -> None:
    # PrepareDataset is handed the reviewers' store (DynamoDbReviewers) where it expects WithdrawnReviewers
    for name in public_methods(ports.WithdrawnReviewers):
        expected = inspect.signature(getattr(ports.WithdrawnReviewers, name))
        assert inspect.signature(getattr(ports.Reviewers, name)) == expected
        assert inspect.signature(getattr(FakeWithdrawnReviewers, name)) == expected
