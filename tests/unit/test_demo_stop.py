"""``make demo`` stops on SIGINT also when started as a background job (where the shell
starts it with SIGINT ignored, so Python installs no KeyboardInterrupt handler) and on
SIGTERM; the supervisor then returns and the demo stops its parts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

SUPERVISOR = (
    "from devtools.demo import _supervise\n"
    "print('supervising', flush=True)\n"
    "_supervise([], {}, [])\n"
    "print('stopped', flush=True)\n"
)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does to a background job


@pytest.mark.parametrize(
    ("signum", "ignored"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGINT-background-job", "SIGINT-terminal", "SIGTERM"],
)
def test_the_supervisor_stops_on_a_signal(signum: int, ignored: bool) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if ignored else None,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "supervising\n"
        time.sleep(0.2)  # into the supervisor's loop
        process.send_signal(signum)
        out, _ = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert out == "stopped\n"
    assert process.returncode == 0
