"""Progress bars for long steps: rich, on stderr, with counts and rates.

:func:`progress_bar` is a context manager that yields an ``advance(n, words=0)`` callable.
The bar shows ``done/total`` items, items per second and (when words are reported) words per
second, elapsed and remaining time. It stays on screen when the step ends, so a finished
command keeps a line per step with its rate. Nothing is printed when ``enabled`` is false or
stderr is not a terminal (set ``TTY_COMPATIBLE=1`` to force it, e.g. in CI logs).
"""

from __future__ import annotations

import contextlib
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
                return Text(f"- {unit}/s", style="progress.data.speed")
            text = f"{_human(task.completed / elapsed)} {unit}/s"
            words = task.fields.get("words", 0)
            if words:
                text += f", {_human(words / elapsed)} words/s"
            return Text(text, style="progress.data.speed")

    return RateColumn()


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
    if not enabled:
        yield _noop
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = console if console is not None else Console(stderr=True)
    if not console.is_terminal:
        yield _noop
        return
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


__all__ = ["Advance", "progress_bar"]
