"""The jobs behind the commands: plain functions that the CLI, the scheduler and the demo call.

Each job checks its inputs first, raises a :class:`~spotlight.exit_code.CommandError` that
carries its exit status, and leaves nothing half-written when it fails.
"""
