"""SageMaker, locally: training jobs, Step Functions' SageMaker task, the endpoint and the model server behind it,
and a first start's model."""
