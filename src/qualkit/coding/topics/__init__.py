"""The topic-model pass (BERTopic): embeddings, fit, topic-to-code alignment, code suggestions, report data."""

from .embeddings import Embedder, TfidfSvdEmbedder, embed_with_cache, get_embedder
from .model import (
    TopicParameters,
    TopicRunSummary,
    fit_segments,
    fit_topics,
    load_topics,
    participant_segments,
    segment_assignments,
)
from .report import participants_text, topics_report_data
from .suggest import draft_codes, suggest_codes

__all__ = [
    "Embedder",
    "TfidfSvdEmbedder",
    "TopicParameters",
    "TopicRunSummary",
    "draft_codes",
    "embed_with_cache",
    "fit_segments",
    "fit_topics",
    "get_embedder",
    "load_topics",
    "participant_segments",
    "participants_text",
    "segment_assignments",
    "suggest_codes",
    "topics_report_data",
]
