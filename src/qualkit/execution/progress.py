"""Progress bars for long steps: rich, on stderr, with counts and rates.

:func:`progress_bar` is a context manager that yields an ``advance(n, words=0)`` callable.
The bar shows ``done/total`` items, items per second and (when words are reported) words per
second, elapsed and remaining time. It stays on screen when the step ends, so a finished
command keeps a line per step with its rate. Nothing is printed when ``enabled`` is false or
stderr is not a terminal (set ``TTY_COMPATIBLE=1`` to force it, e.g. in CI logs).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Any, Iterator, Protocol


class Advance(Protocol):
    """Report progress: ``n`` more items done, ``words`` more words processed."""

    def __call__(self, n: int = 1, words: int = 0) -> None: ...


def _noop(n: int = 1, words: int = 0) -> None:  # noqa: ARG001 - same signature as the real one
    return None


def _human(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def _rate_column(unit: str) -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second and, when known, words per second (averaged over the whole step)."""

        def render(self, task: Any) -> Text:
            elapsed = task.finished_time if task.finished else task.elapsed
            if not elapsed:
                return Text(f"- {task.fields.get('unit', unit)}/s", style="progress.data.speed")
            text = f"{_human(task.completed / elapsed)} {task.fields.get('unit', unit)}/s"
            words = task.fields.get("words", 0)
            if words:
                text += f", {_human(words / elapsed)} words/s"
            return Text(text, style="progress.data.speed")

    return RateColumn()


def _terminal_console(enabled: bool, console: Any) -> Any:
    """The console to draw on (default: a rich console on stderr), or None when disabled or not a terminal."""
    if not enabled:
        return None
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    return console if console.is_terminal else None


@contextlib.contextmanager
def progress_bar(
    description: str,
    total: int | None,
    *,
    unit: str = "items",
    enabled: bool = True,
    console: Any = None,
) -> Iterator[Advance]:
    """A progress bar for one step; yields ``advance(n=1, words=0)``.

    ``total`` may be None when unknown (the bar then pulses). ``console`` defaults to a rich
    console on stderr.
    """
    console = _terminal_console(enabled, console)
    if console is None:
        yield _noop
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        _rate_column(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(description, total=total, words=0)
    words_done = 0
    last = 0.0

    def advance(n: int = 1, words: int = 0) -> None:
        nonlocal words_done, last
        words_done += words
        progress.update(task, advance=n, words=words_done)
        now = time.monotonic()
        if now - last > 0.25:  # refresh promptly even when the auto-refresh thread is starved
            last = now
            progress.refresh()

    progress.start()
    try:
        yield advance
    finally:
        progress.stop()


class ProgressCallback(Protocol):
    """What a pass calls to say how far it is, without knowing how (or whether) it is shown.

    ``stage`` names the part of the work ("lemmatizing", "fitting topics"); ``done`` is how many
    of ``total`` items that stage has finished so far (``total`` None: unknown); ``words`` is the
    number of words processed since the previous call of that stage (0: not counted); ``unit``
    names the items when they are not the renderer's default (e.g. "codes", "charts").
    """

    def __call__(self, stage: str, done: int, total: int | None, words: int = 0, unit: str | None = None) -> None: ...


def no_progress(stage: str, done: int, total: int | None, words: int = 0, unit: str | None = None) -> None:  # noqa: ARG001
    """A :class:`ProgressCallback` that shows nothing."""
    return None


_current: contextvars.ContextVar[ProgressCallback | None] = contextvars.ContextVar("qualkit_progress", default=None)


@contextlib.contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    """Within this block, :func:`current_progress` returns ``callback`` (the pipeline sets it for its steps)."""
    token = _current.set(callback)
    try:
        yield
    finally:
        _current.reset(token)


def current_progress() -> ProgressCallback | None:
    """The callback set by the innermost :func:`reporting` block, or None."""
    return _current.get()


@contextlib.contextmanager
def stage_progress(*, unit: str = "segments", enabled: bool = True, console: Any = None) -> Iterator[ProgressCallback]:
    """Render a pass's :class:`ProgressCallback` calls: one rich bar per stage, with counts and rates.

    Shown on stderr when it is a terminal (as :func:`progress_bar`); otherwise the callback
    yielded does nothing visible. The display is live only while a stage is unfinished, so other
    progress bars (e.g. the rules pass's own) may run between stages.
    """
    console = _terminal_console(enabled, console)
    if console is None:
        yield no_progress
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    live: dict[str, Any] = {"progress": None, "tasks": {}, "words": {}}
    last = 0.0

    def start() -> Any:
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            _rate_column(unit),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        progress.start()
        live.update(progress=progress, tasks={}, words={})
        return progress

    def callback(stage: str, done: int, total: int | None, words_now: int = 0, unit_now: str | None = None) -> None:
        nonlocal last
        progress = live["progress"] or start()
        tasks, words = live["tasks"], live["words"]
        if stage not in tasks:
            for other in tasks.values():  # a new stage: the earlier ones are over
                task = progress.tasks[other]
                if task.total is not None and task.completed < task.total:
                    progress.update(other, completed=task.total)
                progress.stop_task(other)
            tasks[stage] = progress.add_task(stage, total=total, words=0, unit=unit_now or unit)
            words[stage] = 0
        words[stage] += words_now
        progress.update(tasks[stage], completed=done, total=total, words=words[stage])
        if total is not None and done >= total and all(task.finished for task in progress.tasks):
            progress.stop()  # every stage so far is done: leave the lines, free the terminal
            live["progress"] = None
            return
        now = time.monotonic()
        if now - last > 0.25:
            last = now
            progress.refresh()

    try:
        yield callback
    finally:
        if live["progress"] is not None:
            live["progress"].stop()


__all__ = [
    "Advance", "ProgressCallback", "current_progress", "no_progress", "progress_bar", "reporting", "stage_progress",
]
