"""Analysis: tables from codings (pandas DataFrames), used by the CLI, reports and exports.

Start with :func:`load_codings` (a coder's codings as a DataFrame), then any of the table
functions. Intercoder agreement lives in :mod:`qualkit.analysis.agreement`.
"""

from .codetree import CodeInfo, CodeTree, as_tree, tree_from_resolved
from .codings import (
    CODING_COLUMNS,
    coders,
    default_coder,
    load_codings,
    parse_coder,
    participants_frame,
    run_codebook,
    segment_count,
    transcripts_frame,
)
from .tables import (
    RunComparison,
    by_attribute,
    code_frequency,
    compare_codings,
    compare_runs,
    cooccurrence,
    cooccurrence_matrix,
    exemplar_quotes,
    format_participant_list,
    participant_code_matrix,
    prevalence,
    saturation,
    top_pairs,
    trim_quote,
    turn_anchor,
)

__all__ = [
    "CODING_COLUMNS",
    "CodeInfo",
    "CodeTree",
    "RunComparison",
    "as_tree",
    "by_attribute",
    "code_frequency",
    "coders",
    "compare_codings",
    "compare_runs",
    "cooccurrence",
    "cooccurrence_matrix",
    "default_coder",
    "exemplar_quotes",
    "format_participant_list",
    "load_codings",
    "parse_coder",
    "participant_code_matrix",
    "participants_frame",
    "prevalence",
    "run_codebook",
    "saturation",
    "segment_count",
    "top_pairs",
    "transcripts_frame",
    "tree_from_resolved",
    "trim_quote",
    "turn_anchor",
]
