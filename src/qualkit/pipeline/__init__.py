"""``qualkit run``: the study pipeline, incremental like a build system.

The pipeline is a list of named steps (import, code, topics, analyse, report, export). Each
step declares its inputs as a dict whose content hash is the step's *fingerprint*; a step
runs only when its fingerprint differs from the one recorded after its last success (in the
store's ``pipeline_steps`` table), when an upstream step produced something new, or when it
is forced, or when a file it wrote is missing or changed since (output files are recorded with
their hashes). A failing step records nothing, so the next ``qualkit run`` resumes from it; a run
that fails before any step finished records nothing at all. One run at a time holds the study's
pipeline lock.

Steps are swappable parts: :func:`default_steps` returns the standard list and
:func:`run_pipeline` takes any list of :class:`Step` objects.

This module imports nothing heavy at import time: a no-op run stays fast.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from .. import __version__
from ..errors import PipelineError, QualkitError
from ..store import canonical_json, utcnow
from ..study import Study
from .fingerprint import fingerprint

class Step(Protocol):
    """One pipeline step: its name, what it depends on, its inputs, and how to run it."""

    name: str
    depends_on: tuple[str, ...]

    def enabled(self, study: Study) -> bool: ...

    # Optional: ``why_disabled(study) -> str``, said when :meth:`enabled` is False for a reason
    # other than qualkit.toml turning the step off.

    def inputs(self, study: Study, upstream: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The step's inputs, cheap to compute (hashes, parameters, upstream outputs)."""

    def run(
        self, study: Study, upstream: dict[str, dict[str, Any]], previous: dict[str, Any] | None, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        """Do the work; return the outputs that downstream steps and the manifest need.

        ``previous`` is the step's outputs from its last success (None if it never ran);
        ``inputs`` is what :meth:`inputs` returned for this run."""


@dataclass
class StepPlan:
    """What the pipeline will do (or did) with one step, and why."""

    name: str
    action: str  # run | skip | disabled
    reason: str
    fingerprint: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "action": self.action,
            "reason": self.reason,
            "fingerprint": self.fingerprint,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class PipelineResult:
    """The plan or outcome of ``qualkit run``: one entry per step, and the pipeline run's id."""

    steps: list[StepPlan]
    run_id: int | None
    dry_run: bool

    @property
    def ran(self) -> list[str]:
        return [step.name for step in self.steps if step.action == "run"]

    def step(self, name: str) -> StepPlan:
        return next(step for step in self.steps if step.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run, "steps": [step.as_dict() for step in self.steps]}


def _recorded(study: Study) -> dict[str, dict[str, Any]]:
    rows = study.store.query("SELECT step, fingerprint, run_id, outputs FROM pipeline_steps")
    recorded = {}
    for row in rows:
        payload = json.loads(row["outputs"] or "{}")
        recorded[row["step"]] = {"fingerprint": row["fingerprint"], "inputs": payload.get("inputs", {}), "outputs": payload.get("outputs", {})}
    return recorded


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [key for key in keys if canonical_json(old.get(key)) != canonical_json(new.get(key))]


def run_pipeline(
    study: Study,
    *,
    steps: Sequence[Step] | None = None,
    dry_run: bool = False,
    force: Sequence[str] = (),
    on_step: Callable[[StepPlan], None] | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    on_progress: Callable[..., None] | None = None,
) -> PipelineResult:
    """Bring every output of the study up to date, running only steps whose inputs changed.

    One writer at a time: a run holds the study's pipeline lock (see :mod:`.lock`); a second
    run waits for it (``on_wait`` gets a message) or, with ``wait=False``, refuses.
    A dry run only reads and takes no lock. ``on_progress`` (a
    :class:`qualkit.execution.progress.ProgressCallback`) hears the progress of long steps.
    """
    from .steps import default_steps

    steps = list(steps) if steps is not None else default_steps()
    names = [step.name for step in steps]
    unknown = [name for name in force if name not in names]
    if unknown:
        raise PipelineError(f"unknown step(s) for --force: {', '.join(unknown)}", hint=f"steps are: {', '.join(names)}")
    if dry_run:
        return _run_steps(study, steps, dry_run=True, force=force, on_step=on_step)
    from .lock import pipeline_lock

    from ..execution.progress import reporting

    with pipeline_lock(study.store_path.parent, wait=wait, on_wait=on_wait), reporting(on_progress):
        return _run_steps(study, steps, dry_run=False, force=force, on_step=on_step)


def _run_steps(
    study: Study, steps: list[Step], *, dry_run: bool, force: Sequence[str], on_step: Callable[[StepPlan], None] | None
) -> PipelineResult:
    recorded = _recorded(study)  # read under the lock: a run that waited sees what the other one did
    upstream: dict[str, dict[str, Any]] = {}
    will_run: set[str] = set()
    plans: list[StepPlan] = []
    pipeline_run: int | None = None
    started, started_at = time.perf_counter(), utcnow()
    try:
        for step in steps:
            if not step.enabled(study):
                why = getattr(step, "why_disabled", None)
                plan = StepPlan(step.name, "disabled", why(study) if why else "turned off in qualkit.toml")
                plans.append(plan)
                if on_step:
                    on_step(plan)
                continue
            previous = recorded.get(step.name)
            dirty_upstream = [name for name in step.depends_on if name in will_run]
            if dry_run and dirty_upstream:
                plan = StepPlan(step.name, "run", f"upstream step {', '.join(dirty_upstream)} will run")
                will_run.add(step.name)
                plans.append(plan)
                if on_step:
                    on_step(plan)
                continue
            try:
                inputs = step.inputs(study, upstream)
            except QualkitError as error:
                raise _step_error(step.name, error, plans) from error
            fp = fingerprint(inputs)
            if step.name in force:
                reason = "forced with --force"
            elif previous is None:
                reason = "never ran"
            elif previous["fingerprint"] != fp:
                reason = "inputs changed: " + ", ".join(_changed_keys(previous["inputs"], inputs))
            else:
                reason = check_outputs(study, previous["outputs"])
            if not reason:
                plan = StepPlan(step.name, "skip", "up to date", fp, inputs, previous["outputs"])
                upstream[step.name] = previous["outputs"]
                plans.append(plan)
                if on_step:
                    on_step(plan)
                continue
            will_run.add(step.name)
            plan = StepPlan(step.name, "run", reason, fp, inputs)
            if dry_run:
                plans.append(plan)
                if on_step:
                    on_step(plan)
                continue
            t0 = time.perf_counter()
            try:
                outputs = step.run(study, upstream, previous["outputs"] if previous else None, inputs)
            except QualkitError as error:
                raise _step_error(step.name, error, plans) from error
            outputs = record_output_files(study, outputs)
            plan.seconds = time.perf_counter() - t0
            plan.outputs = outputs
            upstream[step.name] = outputs
            with study.store.transaction() as conn:
                if pipeline_run is None:  # recorded with the first finished step: a run that changes nothing records nothing
                    pipeline_run = study.store.start_run("pipeline", {"force": list(force)}, started_at=started_at)
                conn.execute(
                    """INSERT INTO pipeline_steps (step, fingerprint, run_id, outputs, updated_at) VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT(step) DO UPDATE SET fingerprint = excluded.fingerprint, run_id = excluded.run_id,
                       outputs = excluded.outputs, updated_at = excluded.updated_at""",
                    (step.name, fp, pipeline_run, canonical_json({"inputs": inputs, "outputs": outputs}), utcnow()),
                )
            plans.append(plan)
            if on_step:
                on_step(plan)
    except BaseException as error:
        if pipeline_run is not None:
            study.store.finish_run(pipeline_run, status="failed", manifest=_manifest(plans, started), error=str(error))
        raise
    if pipeline_run is not None:
        study.store.finish_run(pipeline_run, manifest=_manifest(plans, started))
    return PipelineResult(plans, pipeline_run, dry_run)


def _step_error(name: str, error: QualkitError, plans: list[StepPlan]) -> PipelineError:
    """The error of a failed step, saying exactly what the run recorded."""
    from .hints import config_hints

    error = config_hints(error)
    finished = [plan.name for plan in plans if plan.action == "run"]
    if finished:
        recorded = (
            f"steps {', '.join(finished)} finished and are kept (the pipeline run is recorded as failed, "
            "with this error); `qualkit run` resumes at this step once it is fixed"
        )
    else:
        recorded = "nothing was recorded; fix it and run `qualkit run` again"
    return PipelineError(
        f"step '{name}' failed: {error.message}",
        problems=error.problems,
        hint=(error.hint + "; " if error.hint else "") + recorded,
    )


# -- outputs: recorded with their hashes, checked before a step is skipped ---------------------------


def _file_state(path: Path) -> dict[str, Any]:
    from .fingerprint import file_sha256

    stat = path.stat()
    return {"sha256": file_sha256(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def record_output_files(study: Study, outputs: dict[str, Any]) -> dict[str, Any]:
    """Add ``output_files`` (sha256, size, mtime of each file a step wrote) to its outputs."""
    files = outputs.get("files")
    if not files or not isinstance(files, list):  # the import step's "files" are its inputs, not outputs
        return outputs
    states = {}
    for name in files:
        path = study.path(name)
        if path.is_file():
            states[name] = _file_state(path)
    return {**outputs, "output_files": states}


def check_outputs(study: Study, outputs: dict[str, Any]) -> str:
    """Why a step whose inputs are unchanged must still run: an output file missing or changed
    since it was written ("" when every recorded output is as written). A file whose size and
    modification time are unchanged is not hashed again, so a no-op run stays fast."""
    missing, changed = [], []
    states = outputs.get("output_files") or {}
    listed = outputs.get("files")
    if isinstance(listed, list):  # recorded before output hashes were kept: check that they exist
        missing.extend(name for name in listed if name not in states and not study.path(name).is_file())
    for name, state in states.items():
        path = study.path(name)
        try:
            stat = path.stat()
        except OSError:
            missing.append(name)
            continue
        if stat.st_size == state.get("size") and stat.st_mtime_ns == state.get("mtime_ns"):
            continue
        if not path.is_file() or _file_state(path)["sha256"] != state.get("sha256"):
            changed.append(name)
    parts = []
    if missing:
        parts.append("output missing: " + ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    if changed:
        parts.append("output changed since written: " + ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
    return "; ".join(parts)


def _manifest(plans: list[StepPlan], started: float) -> dict[str, Any]:
    import platform

    return {
        "qualkit_version": __version__,
        "python": platform.python_version(),
        "steps": [plan.as_dict() | {"inputs": plan.inputs} for plan in plans],
        "seconds": round(time.perf_counter() - started, 3),
    }


__all__ = ["PipelineResult", "Step", "StepPlan", "check_outputs", "record_output_files", "run_pipeline"]
