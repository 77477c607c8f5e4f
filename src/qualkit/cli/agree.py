"""``qualkit agree``: intercoder agreement between two coders (runs or human coders)."""

from __future__ import annotations

import math

import click


#: Mirrors ``qualkit.analysis.agreement.DEFAULT_UNCODED_SAMPLE`` (a test keeps them equal) so that
#: loading the CLI does not import pandas.
DEFAULT_UNCODED_SAMPLE = 0.25
#: Mirrors ``qualkit.analysis.agreement.SCOPES`` (a test keeps them equal).
SCOPES = ("auto", "coded-by-a", "coded-by-b", "either", "all")
from ._common import echo_json, get_study, handle_errors, json_option


def _fmt(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@click.command("agree")
@click.argument("coder_a")
@click.argument("coder_b")
@click.option("--unit", default="segment", show_default=True,
              help="Unit of analysis: segment (the study's/run's unit), turn, sentence or window:N.")
@click.option("--codes", multiple=True, help="Codes to compare (repeat or comma-separate; default: every code used).")
@click.option("--uncoded-sample", type=click.FloatRange(min=0), default=DEFAULT_UNCODED_SAMPLE, show_default=True,
              help="Uncoded units sampled, as a multiple of the coded units.")
@click.option("--scope", type=click.Choice(SCOPES), default="auto", show_default=True,
              help="Units compared: auto (the human coder's units when one coder is human, else either), "
              "coded-by-a, coded-by-b, either (coded by either plus a sample of uncoded), all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the uncoded-unit sample.")
@click.option("--max-disagreements", type=click.IntRange(min=0), default=20, show_default=True, help="Disagreements to show (0: none).")
@json_option
@click.pass_context
@handle_errors
def agree_command(ctx, coder_a, coder_b, unit, codes, uncoded_sample, scope, seed, max_disagreements, as_json) -> None:
    """Agreement of CODER_B with CODER_A (run:ID or human:NAME): per code and overall.

    Percent agreement, Cohen's kappa, Krippendorff's alpha (nominal), and precision, recall
    and F1 of B against A. By default a human coder is compared only on the units they coded
    (--scope); two runs or two humans on the units either coded plus a seeded sample of uncoded ones.
    """
    from ..analysis.agreement import compare_coders

    wanted = [code.strip() for item in codes for code in item.split(",") if code.strip()] or None
    result = compare_coders(get_study(ctx), coder_a, coder_b, unit=unit, codes=wanted, uncoded_sample=uncoded_sample, seed=seed,
                            scope=scope)
    if as_json:
        echo_json({"ok": True, **result.as_dict()})
        return
    o = result.overall
    click.echo(f"Agreement of {coder_b} with {coder_a} ({result.unit} units, scope {result.scope})")
    click.echo(f"  {result.unit_note}")
    click.echo(
        f"Overall over {o['n_units']} units x {o['n_codes']} codes = {o['n_decisions']} decisions: "
        f"agreement {_fmt(o['percent_agreement'])}, kappa {_fmt(o['kappa'])}, alpha {_fmt(o['alpha'])}, "
        f"P {_fmt(o['precision'])} R {_fmt(o['recall'])} F1 {_fmt(o['f1'])} (mean kappa per code {_fmt(o['mean_kappa'])})"
    )
    header = f"{'code':<28} {'units':>6} {'agree':>6} {'kappa':>6} {'alpha':>6} {'P':>6} {'R':>6} {'F1':>6} {'A':>5} {'B':>5}"
    click.echo(header)
    for row in result.per_code.to_dict("records"):
        click.echo(
            f"{row['code_id'][:28]:<28} {row['n_units']:>6} {_fmt(row['percent_agreement']):>6} {_fmt(row['kappa']):>6} "
            f"{_fmt(row['alpha']):>6} {_fmt(row['precision']):>6} {_fmt(row['recall']):>6} {_fmt(row['f1']):>6} "
            f"{row['a_count']:>5} {row['b_count']:>5}"
        )
    n = len(result.disagreements)
    if n and max_disagreements:
        click.echo(f"Disagreements ({n}; showing {min(n, max_disagreements)}):")
        for row in result.disagreements.head(max_disagreements).to_dict("records"):
            who = "A only" if row["coder_a"] else "B only"
            text = " ".join(str(row["text"]).split())
            click.echo(f"  [{row['transcript_id']} seg {row['segment_pk']}] {row['code_id']} ({who}): {text[:100]}")
    for warning in result.warnings:
        click.secho(f"note: {warning}", fg="yellow")
