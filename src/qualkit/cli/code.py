"""``qualkit code``: run the rule-based coding pass; ``qualkit code explain`` shows why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import echo_json, get_study, handle_errors, json_option

# One colour per code in `explain`, reused in turn.
_COLOURS = ("yellow", "cyan", "magenta", "green", "blue", "red", "bright_yellow", "bright_cyan", "bright_magenta")


@click.group("code", invoke_without_command=True)
@click.option("--codebook", "codebook_ref", help="Codebook YAML file or bundled name (default: [codebook] path).")
@click.option("--unit", help="turn | sentence | window:N (default: [coding] unit).")
@click.option("--include-interviewer/--participants-only", default=None, help="Also code interviewer speech.")
@click.option("--backend", type=click.Choice(["local", "dask"]), help="Execution backend (default: [execution] backend).")
@click.option("--workers", type=click.IntRange(min=1), help="Dask: start a local cluster of N worker processes.")
@click.option("--scheduler", help="Dask: address of an existing scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option("--pass", "pass_name", type=click.Choice(["rules", "learned"]), default="rules", show_default=True,
              help="rules: the codebook's rules; learned: classifiers trained on the human codings.")
@click.option("--coder", help="learned: the human coder to learn from (default: every human coder, pooled).")
@click.option("--seed", type=int, default=0, show_default=True, help="learned: seed of folds and classifiers.")
@click.option("--embedding", help="learned: add sentence embeddings of a local model (folder, minilm, or package).")
@json_option
@click.pass_context
@handle_errors
def code(
    ctx: click.Context,
    codebook_ref: str | None,
    unit: str | None,
    include_interviewer: bool | None,
    backend: str | None,
    workers: int | None,
    scheduler: str | None,
    pass_name: str,
    coder: str | None,
    seed: int,
    embedding: str | None,
    as_json: bool,
) -> None:
    """Code every transcript (the codebook's rules, or --pass learned) and record a run."""
    if ctx.invoked_subcommand is not None:
        return
    from ..execution.rules_run import run_rules

    _refuse_options_of_the_other_pass(ctx, pass_name)
    study = get_study(ctx)
    ref: str | Path | None = codebook_ref
    if codebook_ref is not None and Path(codebook_ref).exists():
        ref = Path(codebook_ref).resolve()  # a path on the command line is relative to the working folder
    if pass_name == "learned":
        _learned(study, ref, unit, include_interviewer, coder, seed, embedding, as_json)
        return
    if backend is None and (workers is not None or scheduler):
        backend = "dask"  # --workers/--scheduler only make sense with Dask
    summary = run_rules(
        study, codebook=ref, unit=unit, include_interviewer=include_interviewer, progress=not as_json,
        backend=backend, workers=workers, scheduler=scheduler,
    )
    if as_json:
        echo_json({"ok": True, **summary.as_dict()})
        return
    click.echo(
        f"run {summary.run_id}: coded {summary.segments_coded} {summary.unit} segments "
        f"({summary.words} words) of {summary.transcripts} transcripts with {summary.codebook_name} "
        f"[{summary.codebook_hash[:12]}]"
    )
    click.echo(
        f"{summary.applications} applications of {summary.codes_used} codes in {summary.seconds:.2f}s "
        f"({summary.words_per_second:,.0f} words/s)"
    )
    if summary.segments_created:
        click.echo(f"created {summary.segments_created} segments")


_ONLY_FOR = {"rules": ("backend", "workers", "scheduler"), "learned": ("coder", "seed", "embedding")}


def _refuse_options_of_the_other_pass(ctx: click.Context, pass_name: str) -> None:
    """A usage error (exit 2) for an option the chosen pass would silently ignore, e.g. --coder with the rules."""
    from click.core import ParameterSource

    other = "learned" if pass_name == "rules" else "rules"
    given = [name for name in _ONLY_FOR[other] if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
    if given:
        options = ", ".join(f"--{name}" for name in given)
        raise click.UsageError(
            f"{options} {'applies' if len(given) == 1 else 'apply'} only to --pass {other}; --pass {pass_name} would "
            f"ignore {'it' if len(given) == 1 else 'them'}: add --pass {other}, or leave {options} out", ctx=ctx,
        )


def _learned(study, ref, unit, include_interviewer, coder, seed, embedding, as_json) -> None:  # type: ignore[no-untyped-def]
    from ..coding.learned import run_learned

    summary = run_learned(study, coder=coder, codebook=ref, unit=unit, include_interviewer=include_interviewer,
                          seed=seed, embedding=embedding)
    if as_json:
        echo_json({"ok": True, **summary.as_dict()})
        return
    click.echo(
        f"run {summary.run_id} (learned): {len(summary.codes_learned)} codes learned from {summary.training_units} "
        f"{summary.unit} units coded by {', '.join(summary.coders)} [training set {summary.training_hash[:12]}]"
    )
    click.echo(f"{summary.applications} applications on {summary.segments_scored} segments in {summary.seconds:.2f}s")
    for code_id in summary.codes_learned:
        cv = summary.cv.get(code_id, {})
        kappa = cv.get("kappa")
        click.echo(f"  {code_id}: {summary.code_counts.get(code_id, 0)} applications, threshold "
                   f"{summary.thresholds[code_id]:.2f}, out-of-fold kappa {'-' if kappa is None else f'{kappa:.2f}'}")
    if summary.codes_learned:
        click.echo("  (out-of-fold kappa is optimistic: the threshold was tuned on it; `qualkit validity` measures it honestly)")
    if summary.skipped:
        click.secho(f"not learned ({len(summary.skipped)}):", fg="yellow")
        for code_id in sorted(summary.skipped):
            click.secho(f"  {summary.skipped[code_id]}", fg="yellow")
    for message in summary.messages:
        click.secho(f"note: {message}", fg="yellow")


@code.command("explain")
@click.argument("segment_id", type=int)
@click.option("--run", "run_id", type=int, help="Rules run (default: the latest with the segment's unit).")
@json_option
@click.pass_context
@handle_errors
def explain(ctx: click.Context, segment_id: int, run_id: int | None, as_json: bool) -> None:
    """Show segment SEGMENT_ID with its matches highlighted and the rule behind each."""
    from ..coding.browse import explain_segment

    result = explain_segment(get_study(ctx), segment_id, run_id=run_id)
    if as_json:
        echo_json(result.as_dict())
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    colours: dict[str, str] = {}
    for match in result.matches:
        colours.setdefault(match.code_id, _COLOURS[len(colours) % len(_COLOURS)])
    console.print(
        f"[bold]segment {result.segment_pk}[/bold] ({result.unit}) of {result.transcript_id}, "
        f"turn {result.turn}, {result.speaker} ({result.role})"
    )
    text = Text(result.text)
    for match in result.matches:
        text.stylize(f"bold {colours[match.code_id]} underline", match.start, match.end)
    console.print(text)
    if result.run_id is None:
        console.print("[dim]no rules run has coded this unit yet: run `qualkit code`[/dim]")
        return
    if not result.matches:
        console.print(f"[dim]run {result.run_id} found no codes in this segment[/dim]")
        return
    console.print(f"[dim]run {result.run_id}, codebook {result.codebook_name}: {len(result.matches)} match(es)[/dim]")
    for match in result.matches:
        source = match.rule_source if isinstance(match.rule_source, str) else json.dumps(match.rule_source)
        line = Text("  ")
        line.append(f"{match.label} ({match.code_id})", style=f"bold {colours[match.code_id]}")
        line.append(f"  {match.text!r} at {match.start}-{match.end}  by {match.rule}")
        line.append(f"  = {source}", style="dim")
        if match.score != 1:
            line.append(f"  score {match.score:g}")
        console.print(line, soft_wrap=True)
