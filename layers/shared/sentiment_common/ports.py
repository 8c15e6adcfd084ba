"""The ports: what the logic needs of each store, as protocols.

The functions' logic takes these, never a boto3-backed class. The adapters in ``sentiment_common.dal``
(and the pipeline's ``adapters``) implement them over AWS; the in-memory fakes in ``tests/fakes`` implement
them for unit tests, and the contract tests in ``tests/contract`` hold both to the same behaviour.
"""

from __future__ import annotations

# ---- comments, feedback, the pending queue, the workflow, the monitoring counters ----


# ---- the model registry, the run ledger and the pipeline's state ----
