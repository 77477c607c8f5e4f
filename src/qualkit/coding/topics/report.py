"""What the report's "Emergent themes" section needs from a topics run, and its intertopic map.

:func:`topics_report_data` returns plain data (no HTML): each topic's terms, size, participants
in the paper's style "(P2, P3, P8)", coverage by the codebook with the covering codes, and 2-3
representative quotes, plus an inline SVG scatter of the topics' 2-D positions. The SVG is
deterministic: Agg backend, fixed ``svg.hashsalt``, text kept as text, no date metadata.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from ...study import Study

#: A bracketed marker cut by sentence segmentation: "laughs] And ..." at the start, "... soapbox. [" at the end.
_BROKEN_START = re.compile(r"^[^\[\].!?]{1,30}\]\s*")
_BROKEN_END = re.compile(r"\s*\[[^\[\].!?]{0,30}$")

COVERAGE_COLOURS = {"covered": "#4c78a8", "partly covered": "#f2a93b", "not covered": "#e45756"}
QUOTES = 3


def clean_quote(text: str) -> str:
    """A segment's text as a quote: whitespace collapsed, broken bracket markers cut off its ends.

    Window and sentence segments can start or end inside a transcript marker ("[laughs]" split
    by sentence segmentation): a leading fragment closed by "]" and a trailing "[" that is never
    closed are removed; whole markers ("[laughs]", "[COMPANY]") are kept.
    """
    text = " ".join(text.split())
    text = _BROKEN_START.sub("", text, count=1)
    text = _BROKEN_END.sub("", text, count=1)
    return text.strip()


def representative_quotes(study: Study, segment_pks: list[int], *, limit: int = 3, words: int = 80) -> list[dict[str, Any]]:
    """The first ``limit`` of a topic's representative segments as cleaned quotes of at most
    ``words`` words: ``pk``, ``participant_id`` and ``quote``, in the order given."""
    pks = list(segment_pks)[:limit]
    if not pks:
        return []
    rows = study.store.query(
        f"""SELECT s.pk, s.text, t.participant_id FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk
            WHERE s.pk IN ({','.join('?' * len(pks))})""",
        pks,
    )
    by_pk = {row["pk"]: row for row in rows}
    return [
        {"pk": pk, "participant_id": by_pk[pk]["participant_id"], "quote": clean_quote(" ".join(by_pk[pk]["text"].split()[:words]))}
        for pk in pks
        if pk in by_pk
    ]


def participants_text(ids: list[str]) -> str:
    """Participant ids in the paper's style: ``(P2, P3, P8)``, P2 before P10."""
    from ...store import participant_sort_key

    return "(" + ", ".join(sorted(ids, key=participant_sort_key)) + ")" if ids else ""


def topics_report_data(study: Study, run_id: int | None = None) -> dict[str, Any] | None:
    """Everything the report's "Emergent themes" section shows, or None without a topics run.

    Shape::

        {"run_id": int, "embedding": str, "unit": str, "parameters": dict,
         "n_segments": int, "n_topics": int, "outliers": int, "outlier_share": float,
         "counts": {"covered": int, "partly covered": int, "not covered": int},
         "topics": [{"topic": int, "label": str, "terms": [str], "size": int,
                     "participants": [str], "participants_text": "(P2, P3, P8)",
                     "coverage": "covered" | "partly covered" | "not covered",
                     "covering_codes": [{"code": str, "label": str, "share": float}],
                     "quotes": [{"segment_id": int, "participant_id": str, "transcript_id": str,
                                 "turn_idx": int, "text": str}],
                     "x": float | None, "y": float | None}],   # by size, largest first
         "svg": str}                                             # "<svg ...>...</svg>"
    """
    from .model import load_topics

    row = study.store.latest_run("topics") if run_id is None else study.store.run(run_id)
    if row is None or row["kind"] != "topics" or row["status"] != "ok":
        return None
    run_id, topics = load_topics(study, int(row["id"]))
    parameters = json.loads(row["parameters"] or "{}")
    real = sorted((t for t in topics if t["topic"] != -1), key=lambda t: (-t["size"], t["topic"]))
    outliers = next((t["size"] for t in topics if t["topic"] == -1), 0)
    wanted = [int(pk) for topic in real for pk in topic["representative"][:QUOTES]]
    rows = study.store.query(
        f"""SELECT s.pk, s.text, t.participant_id, t.id AS transcript_id, u.idx AS turn_idx FROM segments s
            JOIN transcripts t ON t.pk = s.transcript_pk JOIN turns u ON u.pk = s.turn_pk
            WHERE s.pk IN ({','.join('?' * len(wanted)) or 'NULL'})""",
        wanted,
    )
    by_pk = {int(r["pk"]): r for r in rows}
    items = []
    for topic in real:
        people = list(topic["participants"])
        labels = {code["code"]: code for code in topic["codes"]}
        items.append(
            {
                "topic": topic["topic"],
                "label": topic["label"],
                "terms": [term for term, _ in topic["terms"]],
                "size": topic["size"],
                "participants": sorted(people, key=_sort_key),
                "participants_text": participants_text(people),
                "coverage": topic["coverage"],
                "covering_codes": [
                    {"code": code_id, "label": labels.get(code_id, {}).get("label", code_id), "share": labels.get(code_id, {}).get("share", 0.0)}
                    for code_id in topic["covered_by"]
                ],
                "quotes": [
                    {
                        "segment_id": pk,
                        "participant_id": by_pk[pk]["participant_id"] or by_pk[pk]["transcript_id"],
                        "transcript_id": by_pk[pk]["transcript_id"],
                        "turn_idx": int(by_pk[pk]["turn_idx"]),
                        "text": clean_quote(by_pk[pk]["text"]),
                    }
                    for pk in topic["representative"][:QUOTES]
                    if pk in by_pk
                ],
                "x": topic["x"],
                "y": topic["y"],
            }
        )
    n_segments = sum(t["size"] for t in topics)
    counts = {name: sum(1 for item in items if item["coverage"] == name) for name in COVERAGE_COLOURS}
    return {
        "run_id": run_id,
        "embedding": parameters.get("embedding"),
        "unit": parameters.get("unit"),
        "parameters": parameters,
        "n_segments": n_segments,
        "n_topics": len(items),
        "outliers": outliers,
        "outlier_share": round(outliers / n_segments, 4) if n_segments else 0.0,
        "counts": counts,
        "topics": items,
        "svg": intertopic_svg(items),
    }


def _sort_key(identifier: str) -> tuple[str, int, str]:
    from ...store import participant_sort_key

    return participant_sort_key(identifier)


#: Offsets (points) tried for a topic's label around its circle, nearest first.
_LABEL_OFFSETS = [(0, 0), (0, 12), (0, -12), (14, 0), (-14, 0), (0, 22), (0, -22), (26, 8), (-26, 8), (26, -8), (-26, -8), (0, 32), (0, -32)]


def place_topic_labels(figure: Any, axes: Any, items: list[dict[str, Any]], *, avoid: list[Any] = (), fontsize: float = 8) -> list[Any]:
    """Label each topic ("12: terms, terms") where the label overlaps no other label (nor ``avoid``).

    Largest topics first; each label tries :data:`_LABEL_OFFSETS` around its circle, inside the
    axes. A label that fits nowhere becomes the topic's number alone (the topic list below the
    map names it); a number that fits nowhere either is left out. Returns the labels' boxes
    (display coordinates), none of which overlap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas if hasattr(figure.canvas, "get_renderer") else FigureCanvasAgg(figure)
    renderer = canvas.get_renderer()
    axes.autoscale_view()
    axes.set_xlim(axes.get_xlim())  # fixed from here: the labels must not move the circles
    axes.set_ylim(axes.get_ylim())
    frame = axes.get_window_extent(renderer)
    taken = [artist.get_window_extent(renderer) for artist in avoid if artist is not None]
    boxes = []
    for item in sorted(items, key=lambda i: (-i["size"], i["topic"])):
        texts = [f"{item['topic']}: {', '.join(item['terms'][:2])}", str(item["topic"])]
        done = False
        for text in texts:
            for dx, dy in _LABEL_OFFSETS:
                label = axes.annotate(text, (item["x"], item["y"]), xytext=(dx, dy), textcoords="offset points",
                                      ha="center", va="center", fontsize=fontsize, annotation_clip=False)
                box = label.get_window_extent(renderer).expanded(1.04, 1.1)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                if inside and not any(box.overlaps(other) for other in taken):
                    taken.append(box)
                    boxes.append(box)
                    done = True
                    break
                label.remove()
            if done:
                break
    return boxes


def intertopic_svg(items: list[dict[str, Any]], *, width: float = 6.4, height: float = 4.2) -> str:
    """A 2-D scatter of topics (area = size, colour = coverage, label = id and first terms) as SVG text."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global state, the Agg-based SVG canvas
    from matplotlib.lines import Line2D

    placed = [item for item in items if item["x"] is not None and item["y"] is not None]
    with matplotlib.rc_context({"svg.hashsalt": "qualkit-topics", "svg.fonttype": "none", "font.size": 8}):
        figure = Figure(figsize=(width, height))
        axes = figure.subplots()
        largest = max((item["size"] for item in placed), default=1)
        for item in placed:
            colour = COVERAGE_COLOURS.get(item["coverage"] or "", "#999999")
            axes.scatter([item["x"]], [item["y"]], s=80 + 1400 * item["size"] / largest, color=colour, alpha=0.55, edgecolors="#333333", linewidths=0.6)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_xlabel("dimension 1 (PCA of topic centroids)")
        axes.set_ylabel("dimension 2")
        axes.set_title("Intertopic map: area = segments, colour = coverage by the codebook")
        handles = [Line2D([0], [0], marker="o", linestyle="", color=colour, alpha=0.7, label=name) for name, colour in COVERAGE_COLOURS.items()]
        legend = axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)  # beside the map, over no circle
        axes.margins(0.15)
        figure.tight_layout()
        place_topic_labels(figure, axes, placed, avoid=[legend])
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def emergent_themes_section(study: Study, context: Any = None) -> Any:
    """The report's "Emergent themes" section (a ``reports.context.EmergentThemes``), or None.

    Called by ``qualkit.reports.build`` for every report; reads the latest topics run.
    """
    from markupsafe import Markup

    from ...analysis.tables import trim_words, turn_anchor
    from ...reports.context import Chart, EmergentThemes, EmergentTopic, Quote

    data = topics_report_data(study)
    if data is None or not data["topics"]:
        return None
    counts = data["counts"]
    intro = (
        f"Topics found bottom-up by the topic-model pass (topics run {data['run_id']}: BERTopic over "
        f"{data['n_segments']} participant segments of unit {data['unit']}, embedding {data['embedding']}, "
        f"seed {data['parameters'].get('seed')}). Each topic is compared with the codebook: "
        f"{counts.get('covered', 0)} covered, {counts.get('partly covered', 0)} partly covered, "
        f"{counts.get('not covered', 0)} not covered. Uncovered topics are candidates for new codes "
        "(`qualkit topics suggest` drafts them)."
    )
    topics = [
        EmergentTopic(
            label=item["label"],
            terms=item["terms"][:8],
            size=item["size"],
            coverage=item["coverage"] or "",
            aligned_codes=[code["label"] for code in item["covering_codes"]],
            quotes=[
                Quote(trim_words(quote["text"], 60), quote["participant_id"], quote["transcript_id"], quote["turn_idx"],
                      turn_anchor(quote["transcript_id"], quote["turn_idx"]))
                for quote in item["quotes"][:2]
            ],
            participants=f"{len(item['participants'])} participants {item['participants_text']}",
        )
        for item in data["topics"]
    ]
    chart = Chart(
        key="topic-map",
        title="Intertopic map",
        caption="Each circle is a topic, placed by the first two principal components of its segments' mean embedding; "
        "its area is the number of segments and its colour the coverage by the codebook. Labels never overlap: "
        "a topic without room for its terms is shown by its number (the list below names it).",
        svg=Markup(data["svg"]),
        filename="charts/topic-map.svg",
    )
    return EmergentThemes(intro=intro, topics=topics, chart=chart, run_id=f"run:{data['run_id']}")
