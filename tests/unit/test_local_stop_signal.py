"""``make up`` stops on SIGINT or SIGTERM whenever the signal arrives. Python runs the handler in the
main thread between any two lines it executes, so the handler is run here at each line of the wait in
turn, as a signal arriving at that moment would run it; the wait must end every time."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

import pytest

from sentiment_local.stack import StopSignal

LINES_TRIED = 80  # more than one whole turn of the wait, the lines of threading and time included


def _wait_with_the_signal_at_line(line: int) -> bool:
    """Wait for the stop signal, delivering it at the ``line``-th line executed; whether the wait ended."""
    stop_signal = StopSignal()
    executed = 0

    def trace(_frame: FrameType, event: str, _arg: Any) -> Any:
        nonlocal executed
        if event == "line":
            executed += 1
            if executed == line:
                stop_signal(signal.SIGTERM, None)
        return trace

    def wait() -> None:
        sys.settrace(trace)
        try:
            stop_signal.wait(poll_s=0.001)
        finally:
            sys.settrace(None)

    waiter = threading.Thread(target=wait, daemon=True)  # a wait that never ends must not hold up the run
    waiter.start()
    waiter.join(timeout=5)
    return not waiter.is_alive()


@pytest.mark.parametrize("line", range(1, LINES_TRIED + 1))
def test_a_stop_signal_arriving_at_any_line_of_the_wait_ends_it(line: int) -> None:
    assert _wait_with_the_signal_at_line(line), f"the signal delivered at line {line} of the wait left it waiting"


def test_the_stop_signal_is_what_sigint_and_sigterm_run() -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop_signal = StopSignal().install()
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        assert handlers == {signal.SIGINT: stop_signal, signal.SIGTERM: stop_signal}
        signal.raise_signal(signal.SIGTERM)
        stop_signal.wait(poll_s=0.001)
        assert stop_signal.received
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
