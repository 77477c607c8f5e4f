"""The report's "Emergent themes" section: the topics pass's data drawn as an intertopic map and
topic list (:func:`emergent_themes_section`, a contributor of ``reports.build``).

The SVG is deterministic: Agg backend, fixed ``svg.hashsalt``, text kept as text, no date
metadata; topic labels never overlap (:func:`place_topic_labels`).
"""

from __future__ import annotations

import io
from typing import Any

from ..coding.topics.report import COVERAGE_COLOURS


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


def emergent_themes_section(study: Any, context: Any = None) -> Any:
    """The report's "Emergent themes" section (a ``reports.context.EmergentThemes``), or None.

    Called by ``qualkit.reports.build`` for every report; reads the latest topics run.
    """
    from markupsafe import Markup

    from ..analysis.tables import trim_words, turn_anchor
    from ..coding.topics.report import topics_report_data
    from .context import Chart, EmergentThemes, EmergentTopic, Quote

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
        svg=Markup(intertopic_svg(data["topics"])),
        filename="charts/topic-map.svg",
    )
    return EmergentThemes(intro=intro, topics=topics, chart=chart, run_id=f"run:{data['run_id']}")


__all__ = ["emergent_themes_section", "intertopic_svg", "place_topic_labels"]
