"""The steps' failures, by name: the state machine's ``Catch`` sees the class name as the error."""

from __future__ import annotations


class PipelineError(Exception):
    """A step cannot do its work; retrying will not help."""


class NoBaseDataError(PipelineError):
    """The bucket holds no base or golden training data under ``data/``."""


class CandidateArtifactError(PipelineError):
    """The training job's model.tar.gz is missing, unreadable, or not the version asked for."""


class NothingToDeployError(PipelineError):
    """No model endpoint or service is deployed, so nothing can serve a new champion."""


class DeploymentFailedError(PipelineError):
    """The endpoint or service did not come to serve the new model."""
