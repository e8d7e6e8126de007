"""The exit status of every ``spotlight`` command, in one place.

Library code raises typed errors; the commands and jobs translate them into these codes, so a
scheduler or a shell script can tell what happened from the status alone.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How a command ended (see each member's comment)."""

    OK = 0              # done (retrain: promoted and published)
    FAILED = 1          # invalid data, an unservable model, a failed step: nothing was changed
    USAGE = 2           # a bad option, config, alias or run
    PARITY_FAILED = 3   # ONNX and LightGBM disagree: nothing was published
    KEPT = 4            # retrain: the champion stays (the gate, or nothing to do)
    ALERT = 5           # monitor: the live model raised an alert (the report says why)
    LOCKED = 75         # retrain: another job holds the lock (EX_TEMPFAIL)


class CommandError(Exception):
    """A job that stopped with a message for the user and the exit status to return."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code
