"""What AWS runs in the background, as the local stack's threads run it: Lambda's pollers, EventBridge's
schedules, DynamoDB's time to live, the topics' deliveries. Each is a :class:`Background` thread doing one
step again and again until stopped, which outlives any one failure, as AWS's own do."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Background(threading.Thread):
    """A daemon thread that runs :meth:`step` every ``every`` seconds (0: again as soon as it returns, for a
    step that waits on its own) until :meth:`stop`. A failing step is logged with :meth:`failure`'s text and
    tried again after ``retry`` seconds."""

    def __init__(self, name: str, *, every: float = 0.0, retry: float = 0.0) -> None:
        super().__init__(name=name, daemon=True)
        self._every = every
        self._retry = retry
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def step(self) -> None:
        raise NotImplementedError

    def failure(self) -> str:
        return f"{self.name} failed"

    def run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.step()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("%s", self.failure())
                self._stopping.wait(self._retry)
