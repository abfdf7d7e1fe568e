"""Data model: the SPOJ score table, SPOJ users and tags, and the periodic-task run records."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Lower, Now
from django.utils import timezone


def score_for(users: int) -> float:
    """SPOJ's value of a classical problem: 80 / (40 + users)."""
    return 80.0 / (40 + users)


class Tag(models.Model):
    """A SPOJ problem tag (``/problems/tag/<slug>``), e.g. ``dynamic-programming``."""

    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Problem(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255)
    spoj_id = models.PositiveIntegerField()
    users = models.PositiveIntegerField()
    # Stored (not computed in SQL) so the table can be ordered and indexed by it.
    score = models.FloatField()
    acceptance = models.FloatField()
    # Thumbs up minus thumbs down; null for problems nobody has rated.
    quality = models.IntegerField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    active = models.BooleanField(default=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="problems")
    # The last successful read of the problem's page for its tags (null: never).
    tags_fetched_at = models.DateTimeField(null=True, blank=True)
    # The last failed read, when the last attempt failed; both cleared by a
    # success. A failure keeps the tags read before. ``scrape_spoj_tags`` takes
    # problems by their last attempt, Coalesce(tags_error_at, tags_fetched_at):
    # never tried first, and a page that keeps failing goes to the back of the
    # queue instead of blocking the head of it on every run.
    tags_error = models.TextField(blank=True, default="", db_default="")
    tags_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "code"]
        indexes = [
            # The score page: active problems, highest score first (the default sort).
            models.Index(fields=["active", "-score"], name="problem_active_score"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class ProblemHistory(models.Model):
    """One row each time a problem's users count changes (and when it is first seen)."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="history")
    users = models.PositiveIntegerField()
    score = models.FloatField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at"]
        indexes = [
            # The problem page's chart: one problem's history in time order.
            models.Index(fields=["problem", "recorded_at"], name="history_problem_time"),
        ]
        verbose_name_plural = "problem history"

    def __str__(self) -> str:
        return f"{self.problem_id} {self.users} users @ {self.recorded_at:%Y-%m-%d %H:%M}"


class Scrape(models.Model):
    """A successful scrape, written in the same transaction as the problems it changed."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    base_url = models.CharField(max_length=200)
    pages = models.PositiveIntegerField()
    problems = models.PositiveIntegerField()
    new = models.PositiveIntegerField()
    changed = models.PositiveIntegerField()
    unchanged = models.PositiveIntegerField()
    gone = models.PositiveIntegerField()

    class Meta:
        get_latest_by = "finished_at"
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"scrape of {self.problems} problems @ {self.finished_at:%Y-%m-%d %H:%M}"


# --- SPOJ users ---------------------------------------------------------------------


class SpojUser(models.Model):
    """A SPOJ user's profile (``/users/<handle>/``) as last fetched in full.

    ``world_rank`` and ``spoj_points`` are what the profile showed (points
    rounded by SPOJ); null when the profile had no "World Rank" line. A user's
    exact points are computed from the score table over ``solved``.
    """

    handle = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255, blank=True)
    world_rank = models.PositiveIntegerField(null=True, blank=True)
    spoj_points = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    # How many codes ``solved`` holds, kept in the same transaction (the history
    # compares it, and lists can sort by it without counting).
    solved_count = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField()
    fetched_at = models.DateTimeField()
    # Tracked users are refreshed by the periodic scrape_spoj_users (without handles).
    tracked = models.BooleanField(default=True)
    # When SPOJ first said it has no such user (a 404, or its page without a
    # profile) for this stored user; null while SPOJ has it. Cleared by the
    # next successful fetch. The profile stays as last seen; once missing for
    # ``core.spoj.users.UNTRACK_AFTER`` the refresh stops tracking the user.
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["handle"]
        constraints = [
            # SPOJ's handles are lower-case; so is every handle stored, and the
            # unique constraint then means one row per SPOJ user.
            models.CheckConstraint(
                condition=Q(handle=Lower("handle")), name="spojuser_handle_lower"
            ),
        ]
        indexes = [
            # The periodic refresh: WHERE tracked ORDER BY fetched_at.
            models.Index(fields=["fetched_at"], condition=Q(tracked=True), name="spojuser_tracked"),
        ]

    def __str__(self) -> str:
        return self.handle

    def solved_problems(self) -> models.QuerySet[Problem]:
        """The problems of the score table among the user's solved codes (one query)."""
        return Problem.objects.filter(code__in=self.solved.values("code"))


class SolvedProblem(models.Model):
    """One classical problem in a user's solved list, by its code.

    A code, not a foreign key to ``Problem``: the profile can list codes the
    score table does not have (yet, or any more: a problem that left the list),
    and they must be kept and shown as such. Joining on ``Problem.code``
    (unique) matches a problem as soon as a list scrape adds it, with nothing
    to re-link and nothing that can point at the wrong row; a nullable foreign
    key would need a back-fill after every list scrape and could disagree with
    the code beside it.
    """

    user = models.ForeignKey(SpojUser, on_delete=models.CASCADE, related_name="solved")
    code = models.CharField(max_length=32)
    # When a fetch first found the code in the user's list (not when SPOJ
    # accepted it: the profile does not say).
    first_seen = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["user", "code"], name="solvedproblem_user_code"),
        ]
        indexes = [
            # Who solved a problem, and the problem side of the join:
            # WHERE code = ? / JOIN core_problem ON code. (user, code) is the unique index.
            models.Index(fields=["code"], name="solvedproblem_code"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} solved {self.code}"


class SpojUserHistory(models.Model):
    """One row per fetch whose rank, points or solved count changed (and the first one)."""

    user = models.ForeignKey(SpojUser, on_delete=models.CASCADE, related_name="history")
    world_rank = models.PositiveIntegerField(null=True, blank=True)
    spoj_points = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    solved_count = models.PositiveIntegerField()
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at"]
        indexes = [
            # The user page's chart: one user's history in time order.
            models.Index(fields=["user", "recorded_at"], name="userhistory_user_time"),
        ]
        verbose_name_plural = "SPOJ user history"

    def __str__(self) -> str:
        return f"{self.user_id} #{self.world_rank} @ {self.recorded_at:%Y-%m-%d %H:%M}"


# --- Periodic tasks ---------------------------------------------------------------


class Task(models.Model):
    """Operator-side state of a task declared in ``settings.SCHEDULED_TASKS``.

    The schedule itself lives in settings; this row holds what the admin can
    change at run time (enabled) and the notification streak marker. Rows are
    created on demand for every declared task.
    """

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(
        default=True, help_text="Disabled here, the task is skipped even if settings enable it."
    )
    # Set when the "N consecutive failures" mail went out; cleared by the
    # recovery mail. Claimed with a conditional UPDATE so one mail per streak.
    failure_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("run_task", "Can request a task run (run now / retry)")]

    def __str__(self) -> str:
        return self.name


class Trigger(models.TextChoices):
    CLOCK = "clock"
    SCHEDULER = "scheduler"
    MANUAL = "manual"
    ADMIN = "admin"
    RETRY = "retry"


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    ABANDONED = "abandoned"
    MISSED = "missed"
    SKIPPED = "skipped"


FINISHED = (
    Status.SUCCEEDED,
    Status.FAILED,
    Status.TIMED_OUT,
    Status.INTERRUPTED,
    Status.ABANDONED,
    Status.MISSED,
    Status.SKIPPED,
)
# Outcomes that count as a failure of the task (for retries, streaks, --check).
FAILURES = (Status.FAILED, Status.TIMED_OUT, Status.INTERRUPTED, Status.ABANDONED)


class TaskRunQuerySet(models.QuerySet["TaskRun"]):
    def running(self) -> TaskRunQuerySet:
        return self.filter(status=Status.RUNNING)

    def queued(self) -> TaskRunQuerySet:
        return self.filter(status=Status.QUEUED)

    def stale(self, stale_after: float) -> TaskRunQuerySet:
        """Running rows whose heartbeat (database time) is older than ``stale_after`` s."""
        return self.running().filter(heartbeat_at__lt=Now() - timedelta(seconds=stale_after))

    def latest_per_task(self, names: list[str], *, ticks_only: bool = False) -> dict[str, TaskRun]:
        """The newest run (by tick, then attempt) of each named task, in one query.

        With ``ticks_only``, only rows that belong to a tick of the schedule
        (``on_tick``): what the engine and ``tasks --check`` call a task's last
        tick. Each task's newest row is found through an index on (task,
        scheduled_for, attempt) — ``taskrun_tick_latest`` for ticks — so the cost
        does not grow with the number of past runs. Needs a ``Task`` row per
        name (see ``core.scheduling``).
        """
        rows = TaskRun.objects.filter(task=OuterRef("name"))
        if ticks_only:
            rows = rows.filter(on_tick=True)
        newest = rows.order_by("-scheduled_for", "-attempt", "-id").values("id")[:1]
        ids = Task.objects.filter(name__in=names).annotate(last=Subquery(newest)).values("last")
        return {run.task: run for run in self.filter(id__in=Subquery(ids))}


class TaskRun(models.Model):
    """One attempt at one tick of one task. The database enforces the guarantees:

    * ``(task, scheduled_for, attempt)`` is unique, so each attempt at a tick is
      claimed by exactly one INSERT, whoever races for it;
    * at most one ``running`` row per task among runs with ``exclusive`` set
      (tasks declared ``overlap="forbid"``), a partial unique index.
    """

    task = models.CharField(max_length=100)
    scheduled_for = models.DateTimeField(help_text="The tick (UTC), or when the run was requested.")
    # True when scheduled_for is a tick of the task's schedule (clock, runtasks
    # and retries of a tick); false for runs asked for by hand (a direct
    # manage.py run, runtasks --force, the admin's "run now"), whose
    # scheduled_for is the moment of the request. Only tick rows count as a
    # tick having been handled, so a manual run never hides, replaces or moves
    # one. Manual rows never share a tick's key: ticks fall on whole seconds,
    # request times never do (see core.scheduling.state.request_time).
    on_tick = models.BooleanField(
        default=True,
        db_default=True,
        help_text="scheduled_for is a tick of the schedule (not a manual request).",
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    exclusive = models.BooleanField(
        default=True, help_text="The task forbids overlapping runs (overlap='forbid')."
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    host = models.CharField(max_length=200, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    output = models.TextField(blank=True)
    # The arguments the command ran with, only when they differ from the task's
    # declared args (a request_run with args, a direct run with extra options).
    args = models.JSONField(
        null=True, blank=True, help_text="Arguments used instead of the declared ones."
    )
    requested_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="Who asked for this run (a request).",
    )

    # The executor that holds a queued run ("" while it waits for a clock or
    # runtasks to claim it; "celery" once claimed for Celery workers), when it
    # was last published to the broker (database time; null: not yet, e.g. the
    # broker was down) and how many times. See core.scheduling.executors.
    executor = models.CharField(
        max_length=16,
        blank=True,
        default="",
        db_default="",
        help_text="Where a claimed run executes: empty (fork, or not yet claimed) or celery.",
    )
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the run was last sent to the workers."
    )
    dispatches = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="How many times the run was sent to the workers."
    )

    objects = TaskRunQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for", "-attempt", "-id"]
        get_latest_by = ["scheduled_for", "attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "scheduled_for", "attempt"], name="taskrun_one_per_tick_attempt"
            ),
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(status="running", exclusive=True),
                name="taskrun_one_running_exclusive",
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="taskrun_attempt_positive"),
        ]
        indexes = [
            # Last run / consecutive failures per task: WHERE task=? ORDER BY scheduled_for DESC.
            models.Index(fields=["task", "-scheduled_for", "-attempt"], name="taskrun_task_latest"),
            # The engine's and `tasks`' last tick per task:
            # WHERE task = ? AND on_tick ORDER BY scheduled_for DESC, attempt DESC.
            models.Index(
                fields=["task", "-scheduled_for", "-attempt"],
                condition=Q(on_tick=True),
                name="taskrun_tick_latest",
            ),
            # Task status (`tasks`, the admin): WHERE status IN ('queued', 'running').
            models.Index(
                fields=["status"],
                condition=Q(status__in=["queued", "running"]),
                name="taskrun_active",
            ),
            # The reaper, every clock step: WHERE status = 'running' AND heartbeat_at < ?.
            # Partial, so it stays tiny and no planner statistics (SQLite's ANALYZE
            # sees one status on nearly every row) talk the planner out of it.
            models.Index(
                fields=["heartbeat_at"], condition=Q(status="running"), name="taskrun_running"
            ),
            # The poll for admin requests, every clock step:
            # WHERE status = 'queued' AND task IN (...) ORDER BY created_at.
            models.Index(
                fields=["created_at"], condition=Q(status="queued"), name="taskrun_queued"
            ),
            # prune_runs and the admin's date filter: WHERE finished_at < ?.
            models.Index(fields=["finished_at"], name="taskrun_finished_at"),
            # The admin's run list: ORDER BY scheduled_for DESC, attempt DESC, id DESC
            # LIMIT 100, so a page is read off the index instead of sorting the table.
            models.Index(fields=["-scheduled_for", "-attempt", "-id"], name="taskrun_recent"),
            # The same list filtered by status (?status__exact=failed): without the
            # leading status a rare status means walking most of taskrun_recent.
            models.Index(
                fields=["status", "-scheduled_for", "-attempt", "-id"], name="taskrun_status_recent"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.task} @ {self.scheduled_for:%Y-%m-%d %H:%M:%S} #{self.attempt} ({self.status})"
        )

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def lateness(self) -> timedelta | None:
        """How late the run started after its tick (started - scheduled)."""
        if self.started_at:
            return self.started_at - self.scheduled_for
        return None


__all__ = [
    "FAILURES",
    "FINISHED",
    "Problem",
    "ProblemHistory",
    "Scrape",
    "SolvedProblem",
    "SpojUser",
    "SpojUserHistory",
    "Status",
    "Tag",
    "Task",
    "TaskRun",
    "Trigger",
    "score_for",
]
