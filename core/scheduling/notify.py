"""Failure notifications (placeholder until the notification module lands)."""

from core.models import TaskRun


def run_finished(run: TaskRun) -> None:
    """Called by the engine after a run reaches a terminal status."""
