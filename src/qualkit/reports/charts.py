"""SVG charts for the report, drawn with matplotlib (no pyplot, no GUI backend).

Output is deterministic: fixed ``svg.hashsalt`` per chart, text kept as text
(``svg.fonttype: none``), no date in the metadata. Ids inside each SVG are prefixed with the
chart's key so several charts can be inlined in one HTML page.
"""

from __future__ import annotations

import io
import re
import textwrap

import numpy as np
import pandas as pd
from markupsafe import Markup
from matplotlib import rc_context
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .context import Chart

# Okabe-Ito: a colour-blind-safe qualitative palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
# A single-hue sequential map (white to Okabe-Ito blue), readable for every kind of colour vision.
SEQUENTIAL = LinearSegmentedColormap.from_list("qualkit-blues", ["#ffffff", "#cfe3f2", "#56B4E9", "#0072B2", "#08306b"])
INK = "#222222"
MUTED = "#666666"


def _rc(key: str) -> dict[str, object]:
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": f"qualkit-{key}",
        "font.family": "sans-serif",
        "font.sans-serif": ["Helvetica Neue", "Helvetica", "Arial", "DejaVu Sans"],
        "font.size": 9,
        "text.parse_math": False,
        "text.color": INK,
        "axes.labelcolor": INK,
        "axes.edgecolor": "#999999",
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig: Figure, key: str) -> Markup:
    """The figure as inline SVG markup, ids prefixed by ``key``."""
    buffer = io.StringIO()
    with rc_context(_rc(key)):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "qualkit"})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    ids = set(_ID.findall(text))
    text = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', text)
    for ident in sorted(ids, key=len, reverse=True):
        text = text.replace(f"url(#{ident})", f"url(#{key}-{ident})").replace(f'href="#{ident}"', f'href="#{key}-{ident}"')
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = text.replace("<svg ", f'<svg class="chart" role="img" aria-labelledby="{key}-title" ', 1)
    return Markup(text)


def _figure(key: str, width: float, height: float) -> Figure:
    with rc_context(_rc(key)):
        return Figure(figsize=(width, height), dpi=72)


#: Widest chart, in inches: 96 px an inch in the browser, so a chart this wide fills the report's
#: text column (about 800 px) without being scaled down, and its 8-9 pt text stays 11-12 px.
MAX_WIDTH_IN = 8.3
#: Smallest text on any chart, in points (about 10.7 px at the natural size).
MIN_FONT_PT = 8
LABEL_CHARS = 24  # axis labels of heatmaps are wrapped at this many characters


def _two_lines(label: str) -> str:
    """A heatmap label on at most two lines of :data:`LABEL_CHARS` characters ("…" when cut)."""
    return "\n".join(textwrap.TextWrapper(width=LABEL_CHARS, max_lines=2, placeholder=" …").wrap(label)) or label


def empty_chart(key: str, title: str, caption: str, filename: str, message: str) -> Chart:
    """A chart slot with nothing to draw: a short notice instead of a figure."""
    return Chart(key=key, title=title, caption=caption, svg=Markup(""), filename=filename, empty=True)


def heatmap(
    key: str,
    values: pd.DataFrame,
    *,
    colour: pd.DataFrame | None = None,
    xlabel: str,
    ylabel: str,
    colourbar: str,
    vmax: float | None = None,
) -> Markup:
    """An annotated heatmap: ``values`` printed in the cells, ``colour`` (default: values) as fill."""
    colour = values if colour is None else colour
    rows, cols = values.shape
    longest_col = max((len(str(c)) for c in values.columns), default=4)
    longest_row = max((len(str(r)) for r in values.index), default=4)
    width = heatmap_width(cols, longest_row)
    row_height = 0.3 if longest_row <= LABEL_CHARS else 0.42  # room for a label on two lines
    height = 1.2 + min(longest_col, LABEL_CHARS) * 0.08 + rows * row_height
    with rc_context(_rc(key)):
        fig = _figure(key, width, height)
        ax = fig.add_subplot()
        data = colour.to_numpy(dtype=float)
        top = vmax if vmax is not None else (np.nanmax(data) if data.size and np.nanmax(data) > 0 else 1.0)
        image = ax.imshow(data, cmap=SEQUENTIAL, vmin=0, vmax=top, aspect="auto")
        if longest_col <= 4:
            ax.set_xticks(range(cols), [str(c) for c in values.columns])
        else:
            ax.set_xticks(range(cols), [textwrap.shorten(str(c), LABEL_CHARS, placeholder=" …") for c in values.columns],
                          rotation=50, ha="right", rotation_mode="anchor")  # one line: rotated pairs of lines collide
        ax.set_yticks(range(rows), [_two_lines(str(r)) for r in values.index])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=1.2)
        ax.tick_params(which="both", length=0)
        shown = values.to_numpy()
        for i in range(rows):
            for j in range(cols):
                value = shown[i, j]
                if value == 0 or (isinstance(value, float) and np.isnan(value)):
                    continue
                dark = data[i, j] / top > 0.55 if top else False
                ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=MIN_FONT_PT, color="white" if dark else INK)
        bar = fig.colorbar(image, ax=ax, fraction=0.035, pad=0.02)
        bar.set_label(colourbar, color=MUTED)
        bar.outline.set_visible(False)
        bar.ax.tick_params(labelsize=MIN_FONT_PT, colors=MUTED)
        if vmax is None:
            bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        return _svg(fig, key)


def heatmap_width(cols: int, longest_row: int) -> float:
    """Inches a heatmap of ``cols`` columns takes, its row labels ``longest_row`` characters long."""
    return 1.6 + min(longest_row, LABEL_CHARS) * 0.065 + cols * 0.36


def columns_that_fit(longest_row: int = LABEL_CHARS) -> int:
    """How many heatmap columns fit in :data:`MAX_WIDTH_IN` (so the text is never scaled down)."""
    return max(2, int((MAX_WIDTH_IN - heatmap_width(0, longest_row)) / 0.36))


def cooccurrence_chart(counts: pd.DataFrame, jaccard: pd.DataFrame, labels: dict[str, str], *, max_codes: int | None = None) -> Chart:
    """Code x code heatmap of the ``max_codes`` most frequent codes: counts in the cells, colour by
    Jaccard, lower triangle only (each pair once)."""
    title = "Code co-occurrence"
    filename = "charts/cooccurrence.svg"
    n_codes = counts.shape[0]
    max_codes = max_codes if max_codes is not None else columns_that_fit() + 1  # the triangle drops one column
    scope = "" if n_codes <= max_codes else f" Shown for the {max_codes} most frequent of {n_codes} codes; Table 3 and the exports cover all."
    caption = (
        "Number of segments coded with both codes (each pair once); colour shows the Jaccard index "
        "(segments with both / segments with either)." + scope
    )
    if n_codes < 2:
        return empty_chart("cooccurrence", title, caption, filename, "fewer than two codes were applied")
    if n_codes > max_codes:
        sizes = pd.Series(np.diag(counts.to_numpy()), index=counts.index)
        keep = [c for c in counts.index if c in set(sizes.sort_values(ascending=False, kind="mergesort").index[:max_codes])]
        counts, jaccard = counts.loc[keep, keep], jaccard.loc[keep, keep]
    names = [labels.get(c, c) for c in counts.index]
    value_array = counts.to_numpy(dtype=float, copy=True)
    colour_array = jaccard.to_numpy(dtype=float, copy=True)
    upper = np.triu(np.ones_like(value_array, dtype=bool))
    value_array[upper] = np.nan
    colour_array[upper] = np.nan
    values = pd.DataFrame(value_array, index=names, columns=names).iloc[1:, :-1]
    colour = pd.DataFrame(colour_array, index=names, columns=names).iloc[1:, :-1]
    top = float(np.nanmax(colour.to_numpy())) if np.isfinite(colour.to_numpy()).any() else 1.0
    svg = heatmap("cooccurrence", values, colour=colour, xlabel="", ylabel="", colourbar="Jaccard index", vmax=max(top, 0.05))
    return Chart("cooccurrence", title, caption, svg, filename)


#: The participant x code heatmap shows at most this many participants (columns): as many as fit
#: the report's text column at a readable size.
MAX_MATRIX_PARTICIPANTS = 14


def matrix_chart(counts: pd.DataFrame, labels: dict[str, str]) -> Chart:
    """Code x participant heatmap of segment counts (codes that were applied, one row each)."""
    title = "Participants and codes"
    caption = "Segments of each participant (columns) coded with each code (rows); blank: never."
    filename = "charts/participant-code.svg"
    used = counts.loc[:, counts.sum(axis=0) > 0] if not counts.empty else counts
    if used.empty or used.shape[1] == 0:
        return empty_chart("matrix", title, caption, filename, "no codes were applied")
    if len(used.index) > MAX_MATRIX_PARTICIPANTS:
        # A corpus of hundreds of transcripts cannot be read (or drawn cheaply) one column each:
        # show the participants with the most coded segments and say so.
        busiest = used.sum(axis=1).sort_values(ascending=False, kind="mergesort").index[:MAX_MATRIX_PARTICIPANTS]
        used = used.loc[[pid for pid in used.index if pid in set(busiest)]]
        caption += (
            f" Shown for the {MAX_MATRIX_PARTICIPANTS} participants with the most coded segments of {len(counts.index)};"
            " the exported participant x code matrix has all of them."
        )
    values = used.T.copy()
    values.index = [labels.get(c, c) for c in used.columns]
    svg = heatmap("matrix", values, xlabel="Participant", ylabel="", colourbar="segments")
    return Chart("matrix", title, caption, svg, filename)


#: The saturation chart labels at most this many interviews on its axis (every k-th one beyond).
MAX_SATURATION_LABELS = 24


def saturation_ticks(ids: list[str]) -> tuple[list[int], list[str]]:
    """Positions and labels of the interviews named on the saturation axis: all up to
    :data:`MAX_SATURATION_LABELS`, else every k-th one (the first and the last always)."""
    n = len(ids)
    if n <= MAX_SATURATION_LABELS:
        return list(range(n)), ids
    step = int(np.ceil(n / MAX_SATURATION_LABELS))
    positions = list(range(0, n, step))
    if n - 1 - positions[-1] < step * 0.8:  # too close to the last one: it takes its place
        positions[-1] = n - 1
    else:
        positions.append(n - 1)
    return positions, [ids[i] for i in positions]


def saturation_chart(table: pd.DataFrame, k: int) -> Chart:
    """Bars: new codes per interview; line: cumulative codes; dashed line: the saturation point."""
    title = "Thematic saturation"
    caption = (
        f"New codes per interview (bars) and distinct codes so far (line), in interview order. "
        f"The dashed line marks the interview after which {k} consecutive interviews added no new code."
    )
    filename = "charts/saturation.svg"
    if table.empty or int(table["cumulative"].max()) == 0:
        return empty_chart("saturation", title, caption, filename, "no codes were applied")
    n = len(table)
    if n > MAX_SATURATION_LABELS:
        caption += f" One interview in {int(np.ceil(n / MAX_SATURATION_LABELS))} is named on the axis (and the last); the table below lists them all."
    with rc_context(_rc("saturation")):
        fig = _figure("saturation", max(5.0, min(MAX_WIDTH_IN, 2.0 + n * 0.45)), 3.2)
        ax = fig.add_subplot()
        x = np.arange(n)
        added = table["new_codes"].to_numpy() > 0  # only interviews that added codes have a bar to draw
        ax.bar(x[added], table["new_codes"].to_numpy()[added], color=OKABE_ITO[4], width=0.6 if n <= 60 else 0.9, label="new codes", zorder=2)
        ax.plot(x, table["cumulative"], color=OKABE_ITO[0], marker="o" if n <= 40 else None, markersize=4,
                linewidth=2 if n <= 100 else 1.5, label="cumulative codes", zorder=3)
        ticks, names = saturation_ticks(table["transcript_id"].astype(str).tolist())
        ax.set_xticks(ticks, names, rotation=0 if n <= 12 else 45, ha="center" if n <= 12 else "right",
                      rotation_mode="default" if n <= 12 else "anchor")
        ax.set_xlim(-0.7, n - 0.3)
        ax.set_xlabel("Interview (in the order conducted)")
        ax.set_ylabel("Codes")
        ax.set_ylim(0, float(table["cumulative"].max()) * 1.15 + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", color="#e5e5e5", linewidth=0.8, zorder=0)
        saturated = table.index[table["saturated"]]
        if len(saturated):
            at = int(np.flatnonzero(table["saturated"].to_numpy())[0])
            ax.axvline(at + 0.5, color=OKABE_ITO[3], linestyle="--", linewidth=1.2)
            ax.text(at + 0.6, ax.get_ylim()[1] * 0.95, "saturation", color=OKABE_ITO[3], va="top", fontsize=MIN_FONT_PT)
        ax.legend(frameon=False, loc="center right", fontsize=MIN_FONT_PT)
        return Chart("saturation", title, caption, _svg(fig, "saturation"), filename)


__all__ = [
    "MAX_MATRIX_PARTICIPANTS", "MAX_SATURATION_LABELS", "MAX_WIDTH_IN", "MIN_FONT_PT", "OKABE_ITO", "columns_that_fit", "cooccurrence_chart",
    "empty_chart", "heatmap", "matrix_chart", "saturation_chart", "saturation_ticks",
]
