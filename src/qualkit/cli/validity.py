"""``qualkit validity``: how far each code of each pass agrees with a human coder."""

from __future__ import annotations

import math

import click

from ._common import echo_json, get_study, handle_errors, json_option

_VERDICT_COLOURS = {"trusted": "green", "review": "yellow", "do not use": "red"}


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}"


@click.command("validity")
@click.option("--coder", help="Human coder to measure against (default: every human coder, pooled).")
@click.option("--passes", default="rules,learned,union", show_default=True, help="Passes to measure, comma-separated.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Cross-validation folds of the learned pass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of folds, classifiers and bootstrap.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True, help="Bootstrap resamples for kappa's interval.")
@click.option("--unit", help="turn | sentence | window:N (default: [coding] unit).")
@json_option
@click.pass_context
@handle_errors
def validity_command(ctx, coder, passes, folds, seed, bootstrap, unit, as_json) -> None:  # type: ignore[no-untyped-def]
    """Per code: precision, recall, F1 and kappa (95% CI) of each pass against a human coder.

    Only the units the coder coded count. The learned pass is cross-validated. Verdicts:
    trusted (kappa >= 0.6), review (0.4-0.6), do not use (below, or too few examples).
    """
    from ..analysis.validity import measure_validity

    wanted = [name.strip() for name in passes.split(",") if name.strip()]
    result = measure_validity(get_study(ctx), coder=coder, passes=wanted, folds=folds, seed=seed, bootstrap=bootstrap, unit=unit)
    if as_json:
        echo_json({"ok": True, **result.as_dict()})
        return
    click.echo(f"Validity against {', '.join(f'human:{c}' for c in result.coders)}")
    click.echo(f"  {result.unit_note}")
    click.echo(f"{'code':<26} {'pass':<8} {'units':>5} {'human':>5} {'P':>5} {'R':>5} {'F1':>5} {'kappa':>5} {'95% CI':>11}  verdict")
    for row in result.rows:
        ci = f"{_fmt(row['kappa_low'])}-{_fmt(row['kappa_high'])}"
        line = (f"{row['code_id'][:26]:<26} {row['pass']:<8} {row['n_units']:>5} {row['n_examples']:>5} {_fmt(row['precision']):>5} "
                f"{_fmt(row['recall']):>5} {_fmt(row['f1']):>5} {_fmt(row['kappa']):>5} {ci:>11}  ")
        click.echo(line, nl=False)
        click.secho(f"{row['verdict']} ({row['reason']})", fg=_VERDICT_COLOURS.get(row["verdict"]))
    for message in result.messages:
        click.secho(f"note: {message}", fg="yellow")
