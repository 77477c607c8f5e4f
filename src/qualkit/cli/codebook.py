"""``qualkit codebook``: lint, show, test, fit, diff, export and import codebooks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..codebook import (
    EXPORT_FORMATS,
    Codebook,
    diff_codebooks,
    export_codebook,
    import_qdc,
    lint_codebook,
    load_codebook,
)
from ..errors import CodebookError, NoStudyError, display_path
from ..outputs import write_output
from ._common import echo_json, get_study, handle_errors, json_option


def _study_codebook(ctx: click.Context, ref: str | None) -> Codebook:
    """The codebook named on the command line, else the study's, else the bundled default."""
    if ref is not None:
        return load_codebook(ref)
    try:
        study = get_study(ctx)
    except NoStudyError:  # outside a study; a broken qualkit.toml is reported, not replaced by the default
        return load_codebook("default")
    return load_codebook(study.config.codebook.path, base_dir=study.root)


@click.group("codebook")
def codebook() -> None:
    """Lint, show, compare, export and import codebooks."""


@codebook.command("lint")
@click.argument("file")
@json_option
@handle_errors
def lint_command(file: str, as_json: bool) -> None:
    """Check FILE (or a bundled codebook's name) and list every problem with its line."""
    problems = lint_codebook(file)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if as_json:
        echo_json({"ok": not errors, "errors": len(errors), "warnings": len(warnings), "problems": [p.as_dict() for p in problems]})
    else:
        for problem in problems:
            click.secho(problem.format(), fg="red" if problem.severity == "error" else "yellow", err=problem.severity == "error")
        verdict = "FAILED" if errors else "ok"
        click.echo(f"{display_path(file) if Path(file).exists() else file}: {verdict}, {len(errors)} error(s), {len(warnings)} warning(s)")
    if errors:
        sys.exit(1)


@codebook.command("show")
@click.argument("file", required=False)
@click.option("--rules/--no-rules", default=False, help="Also list each code's rules.")
@json_option
@click.pass_context
@handle_errors
def show_command(ctx: click.Context, file: str | None, rules: bool, as_json: bool) -> None:
    """Show a codebook as a tree with definitions (default: the study's codebook)."""
    book = _study_codebook(ctx, file)
    if as_json:
        echo_json({**book.to_resolved_dict(), "hash": book.hash})
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from ..codebook.diff import rule_strings

    tree = Tree(f"[bold]{book.name}[/bold] {book.version or ''} [dim]({len(book)} codes, hash {book.short_hash})[/dim]")
    nodes: dict[str | None, Any] = {None: tree}
    for code, _depth in book.walk():
        n_rules = len(code.rules.phrases) + len(code.rules.patterns) + len(code.rules.regex)
        text = f"[bold]{code.label}[/bold] [cyan]{code.id}[/cyan] [dim]{n_rules} rules[/dim]"
        if code.definition:
            text += f"\n[dim]{code.definition.strip()}[/dim]"
        node = nodes[code.parent if code.parent in nodes else None].add(text)
        if rules:
            for rule in rule_strings(code):
                if not rule.startswith(("weight:", "phrase_attr:")):
                    node.add(f"[green]{rule}[/green]")
        nodes[code.id] = node
    console = Console(highlight=False, soft_wrap=False)
    console.print(tree)
    ties = book.ties()
    if ties:
        console.print(f"[bold]relations[/bold] [dim]({len(ties)}, each code's own and the top-level list)[/dim]")
        for tie in ties:
            note = f" [dim]{escape(tie.note)}[/dim]" if tie.note else ""
            console.print(f"  [cyan]{tie.from_}[/cyan] {tie.type} [cyan]{tie.to}[/cyan]{note}")


@codebook.command("test")
@click.argument("file", required=False)
@json_option
@click.pass_context
@handle_errors
def test_command(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Run each code's rules on its examples and counterexamples; exit 1 on any miss or hit.

    FILE is a path or a bundled name (default: the study's codebook, else `default`)."""
    from ..coding.examples import check_examples

    book = _study_codebook(ctx, file)
    report = check_examples(book)
    where = display_path(book.source_path) if getattr(book, "source_path", None) else repr(report.codebook_name)
    if report.examples + report.counterexamples == 0:  # "ok" would pass a codebook nothing tested
        raise CodebookError(
            f"codebook {where} has no examples or counterexamples: there is nothing to test",
            hint="add `examples:` (sentences a code must match) and `counterexamples:` (near misses it must not) "
            "under its codes; see docs/codebook-format.md",
        )
    untested = sum(report.untested.values())
    if untested and untested == report.examples + report.counterexamples:  # every sentence untested: not "ok"
        raise CodebookError(
            f"codebook {where}: none of its {untested} example sentence(s) could be tested: the codes that have "
            f"examples have no rules ({', '.join(sorted(report.untested))})",
            hint="add `rules:` (phrases, patterns or regex) to those codes; see docs/codebook-format.md",
        )
    if as_json:
        echo_json(report.as_dict())
    else:
        for failure in report.failures:
            click.secho(failure.describe(), fg="red")
        if report.without_examples:
            click.secho(f"{len(report.without_examples)} code(s) without examples: {', '.join(report.without_examples)}", fg="yellow")
        for code_id, count in report.untested.items():
            click.secho(f"{code_id}: {count} sentence(s) untested (no rules in the code or below it)", fg="yellow")
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@codebook.command("fit")
@click.argument("file", required=False)
@click.option("--top", type=click.IntRange(1, 500), default=30, show_default=True, help="How many frequent terms to check.")
@json_option
@click.pass_context
@handle_errors
def fit_command(ctx: click.Context, file: str | None, top: int, as_json: bool) -> None:
    """How much of the study's participant speech the codebook covers, and its frequent terms no rule touches.

    FILE is a path or a bundled name (default: the study's codebook, else `default`). Every
    participant turn is coded whole by the rules; nothing is stored."""
    from ..coding.fit import CodebookFit, codebook_fit

    book = _study_codebook(ctx, file)
    result = codebook_fit(get_study(ctx), book, top=top)
    if as_json:
        echo_json(result.as_dict())
        return
    colour = {"fits": "green", "fits partly": "yellow", "does not fit": "red"}[result.verdict]
    click.secho(result.verdict_line(n_terms=top), fg=colour)
    click.echo(f"{book.name} ({book.short_hash}); {result.n_turns} participant turns, {result.n_words} words; "
               f"thresholds: {CodebookFit.thresholds_text()}")
    click.echo(f"{'term':<20} {'score':>9} {'count':>7} {'in matches':>10} {'transcripts':>11}")
    for term in result.terms:
        mark = "" if term.touched else "  <- no rule touches it"
        click.echo(f"{term.term:<20} {term.score:>9.1f} {term.count:>7} {term.matched:>10} {term.transcripts:>11}{mark}")


@codebook.command("diff")
@click.argument("a")
@click.argument("b")
@json_option
@handle_errors
def diff_command(a: str, b: str, as_json: bool) -> None:
    """Compare codebooks A and B: codes and rules added, removed, changed."""
    result = diff_codebooks(load_codebook(a), load_codebook(b))
    if as_json:
        echo_json(result.as_dict())
        return
    if result.is_empty:
        click.echo(f"no differences (hash {result.a_hash[:12]})")
        return
    for line in result.lines():
        click.secho(line, fg={"+": "green", "-": "red"}.get(line.strip()[:1]))


@codebook.command("export")
@click.argument("file", required=False)
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="yaml", show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@click.pass_context
@handle_errors
def export_command(ctx: click.Context, file: str | None, fmt: str, out: str | None) -> None:
    """Export a codebook (default: the study's) as REFI-QDA QDC, resolved YAML, Markdown or CSV."""
    data = export_codebook(_study_codebook(ctx, file), fmt)
    if out:
        write_output(out, data)
        click.echo(f"wrote {display_path(out)} ({fmt}, {len(data)} bytes)", err=True)
    else:
        click.echo(data.decode("utf-8"), nl=False)  # every format is UTF-8 text (QDC is XML)


@codebook.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="YAML codebook to write.")
@handle_errors
def import_command(file: str, out: str) -> None:
    """Import a REFI-QDA codebook (.qdc) as a qualkit YAML codebook."""
    book = import_qdc(file, out)
    click.echo(f"wrote {display_path(out)}: {book.name}, {len(book)} codes (hash {book.short_hash})")
