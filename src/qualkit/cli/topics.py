"""``qualkit topics``: fit a topic model, show topics, suggest codes for what the codebook misses."""

from __future__ import annotations

import click

from ..errors import NotFoundError, display_path
from ._common import echo_json, get_study, handle_errors, json_option


@click.group("topics")
def topics() -> None:
    """The topic-model pass (BERTopic): themes the codebook may miss."""


@topics.command("fit")
@click.option("--embedding", help="Embedding backend: tfidf, minilm, or a local model folder (default: qualkit.toml).")
@click.option("--min-topic-size", type=click.IntRange(min=2), help="Smallest topic (default: qualkit.toml).")
@click.option("--seed", type=int, help="Random seed (default: qualkit.toml).")
@click.option("--unit", help="Unit of analysis: turn, sentence, window:N (default: window:3).")
@click.option("--reducer", type=click.Choice(["pca", "umap", "none"]), help="Dimensionality reduction (default: pca).")
@click.option("--clusterer", type=click.Choice(["kmeans", "hdbscan", "hdbscan-lib"]), help="Clustering (default: kmeans).")
@click.option("--topics", "n_clusters", type=click.IntRange(min=2), help="k-means: number of clusters (default: about sqrt(segments / 4)).")
@click.option("--sample-size", type=click.IntRange(min=100), help="Fit on a seeded sample above this many segments (default: qualkit.toml, 20000).")
@json_option
@click.pass_context
@handle_errors
def fit(ctx, embedding, min_topic_size, seed, unit, reducer, clusterer, n_clusters, sample_size, as_json) -> None:  # type: ignore[no-untyped-def]
    """Fit BERTopic over the participants' segments and record a topics run."""
    from ..coding.topics import TopicParameters, fit_topics

    study = get_study(ctx)
    params = TopicParameters.from_study(
        study, embedding=embedding, min_topic_size=min_topic_size, seed=seed, unit=unit,
        reducer=reducer, clusterer=clusterer, n_clusters=n_clusters,
    )
    from ..execution.progress import stage_progress

    with stage_progress(enabled=not as_json) as on_progress:
        summary = fit_topics(study, params, sample_size=sample_size or study.config.topics.sample_size, on_progress=on_progress)
    if as_json:
        echo_json({"ok": True, **summary.as_dict()})
        return
    if summary.status == "skipped":
        click.echo(f"Topic model skipped: {summary.reason}")
        return
    click.echo(
        f"Topic run {summary.run_id}: {summary.n_topics} topics over {summary.n_segments} {params.unit} segments, "
        f"{summary.outlier_share:.0%} outliers; {summary.embeddings_computed} embeddings computed "
        f"({summary.timings.get('total_s', 0):.1f} s)."
    )
    click.echo("`qualkit topics show` lists them; `qualkit topics suggest` drafts codes for uncovered ones.")


@topics.command("show")
@click.argument("topic", type=int, required=False)
@click.option("--run", "run_id", type=int, help="Topics run (default: the latest).")
@json_option
@click.pass_context
@handle_errors
def show(ctx, topic, run_id, as_json) -> None:
    """List the topics with their coverage by the codebook, or show one TOPIC in detail."""
    from ..coding.topics import load_topics

    study = get_study(ctx)
    run_id, items = load_topics(study, run_id)
    if topic is not None:
        items = [item for item in items if item["topic"] == topic]
        if not items:
            raise NotFoundError(f"topic {topic} is not in topics run {run_id}", hint="`qualkit topics show` lists the topics")
    if as_json:
        echo_json({"run": run_id, "topics": items})
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..coding.topics.report import representative_quotes

    console = Console()
    if topic is None:
        table = Table(title=f"Topics of run {run_id}")
        for column in ("topic", "size", "terms", "coverage", "codes"):
            table.add_column(column)
        for item in items:
            shares = {c["code"]: c["share"] for c in item["codes"]}
            codes = ", ".join(f"{code} {shares.get(code, 0):.0%}" for code in item["covered_by"])
            terms = ", ".join(term for term, _ in item["terms"][:6])
            table.add_row(str(item["topic"]), str(item["size"]), terms, item["coverage"] or "-", codes)
        console.print(table)
        return
    item = items[0]
    console.print(f"[bold]Topic {item['topic']}[/bold]: {item['label']}  ({item['size']} segments, {item['coverage']})")
    console.print("Terms: " + ", ".join(f"{term} ({weight:.2f})" for term, weight in item["terms"]))
    console.print("Participants: " + ", ".join(f"{p} ({n})" for p, n in sorted(item["participants"].items())))
    for code in item["codes"]:
        console.print(f"  {code['code']}: share {code['share']:.0%} (lift {code.get('lift', 0):.1f}), similarity {code['similarity']:.2f}")
    for quote in representative_quotes(study, item["representative"]):
        console.print(f"\n[dim]segment {quote['pk']}, {escape(str(quote['participant_id']))}[/dim]\n{escape(quote['quote'])}")


@topics.command("suggest")
@click.option("--out", type=click.Path(dir_okay=False), default="codebook/suggested.yaml", show_default=True, help="Where to write the draft codes (relative to the study folder).")
@click.option("--run", "run_id", type=int, help="Topics run (default: the latest).")
@click.pass_context
@handle_errors
def suggest(ctx, out, run_id) -> None:
    """Draft codes for uncovered and partly covered topics, in a codebook that extends yours."""
    from ..coding.topics import suggest_codes

    study = get_study(ctx)
    path, drafts = suggest_codes(study, run_id=run_id, out=out)
    click.echo(f"Wrote {len(drafts)} draft code(s) to {display_path(path)}:")
    for draft in drafts:
        click.echo(f"  {draft['id']}: {', '.join(draft['rules']['phrases'])}")
    click.echo("Edit the definitions before use; `qualkit codebook lint` checks the file.")
