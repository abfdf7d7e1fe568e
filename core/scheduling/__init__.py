"""The periodic-task toolkit: turns management commands into scheduled tasks."""
