"""``qualkit topics``: fit a topic model, show topics, suggest codes for what the codebook misses."""

from __future__ import annotations

import click

from ..errors import display_path
from ._common import echo_json, get_study, handle_errors, json_option


@click.group("topics")
def topics() -> None:
    """The topic-model pass (BERTopic): themes the codebook may miss."""


@topics.command("fit")
@click.option("--embedding", help="Embedding backend: tfidf, minilm, or a local model folder (default: qualkit.toml).")
@click.option("--min-topic-size", type=click.IntRange(min=2), help="Smallest topic (default: qualkit.toml).")
@click.option("--seed", type=int, help="Random seed (default: qualkit.toml).")
@click.option("--unit", help="Unit of analysis: turn, sentence, window:N (default: qualkit.toml).")
@click.option("--reducer", type=click.Choice(["pca", "umap"]), default="pca", show_default=True, help="Dimensionality reduction.")
@click.option("--clusterer", type=click.Choice(["hdbscan", "kmeans", "hdbscan-lib"]), default="hdbscan", show_default=True, help="Clustering.")
@json_option
@click.pass_context
@handle_errors
def fit(ctx, embedding, min_topic_size, seed, unit, reducer, clusterer, as_json) -> None:
    """Fit BERTopic over the participants' segments and record a topics run."""
    from ..coding.topics import TopicParameters, fit_topics

    study = get_study(ctx)
    config = study.config.topics
    params = TopicParameters(
        embedding=embedding or config.embedding,
        min_topic_size=min_topic_size or config.min_topic_size,
        seed=config.seed if seed is None else seed,
        unit=unit or study.config.coding.unit,
        reducer=reducer,
        clusterer=clusterer,
    )
    summary = fit_topics(study, params)
    if as_json:
        echo_json(summary.__dict__)
        return
    if summary.status == "skipped":
        click.echo(f"Topic model skipped: {summary.reason}")
        return
    click.echo(
        f"Topic run {summary.run_id}: {summary.n_topics} topics over {summary.n_segments} segments, "
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
            raise click.BadParameter(f"topic {topic} is not in run {run_id}", param_hint="TOPIC")
    if as_json:
        echo_json({"run": run_id, "topics": items})
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if topic is None:
        table = Table(title=f"Topics of run {run_id}")
        for column in ("topic", "size", "terms", "coverage", "codes"):
            table.add_column(column)
        for item in items:
            codes = ", ".join(f"{c['code']} {c['share']:.0%}" for c in item["codes"][:2])
            terms = ", ".join(term for term, _ in item["terms"][:6])
            table.add_row(str(item["topic"]), str(item["size"]), terms, item["coverage"] or "-", codes)
        console.print(table)
        return
    item = items[0]
    console.print(f"[bold]Topic {item['topic']}[/bold]: {item['label']}  ({item['size']} segments, {item['coverage']})")
    console.print("Terms: " + ", ".join(f"{term} ({weight:.2f})" for term, weight in item["terms"]))
    console.print("Participants: " + ", ".join(f"{p} ({n})" for p, n in sorted(item["participants"].items())))
    for code in item["codes"]:
        console.print(f"  {code['code']}: share {code['share']:.0%}, similarity {code['similarity']:.2f}")
    rows = study.store.query(
        f"SELECT s.pk, s.text, t.participant_id FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk WHERE s.pk IN ({','.join('?' * len(item['representative']))})",
        item["representative"],
    ) if item["representative"] else []
    by_pk = {row["pk"]: row for row in rows}
    for pk in item["representative"][:3]:
        row = by_pk.get(pk)
        if row is not None:
            console.print(f"\n[dim]segment {pk}, {row['participant_id']}[/dim]\n{row['text'][:400]}")


@topics.command("suggest")
@click.option("--out", type=click.Path(dir_okay=False), default="codebook/suggested.yaml", show_default=True, help="Where to write the draft codes.")
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
