"""The topic-model pass (BERTopic): embeddings, fit, topic-to-code alignment, code suggestions."""

from .embeddings import Embedder, TfidfSvdEmbedder, embed_with_cache, get_embedder
from .model import TopicParameters, TopicRunSummary, fit_topics, load_topics, participant_segments
from .suggest import suggest_codes

__all__ = [
    "Embedder",
    "TfidfSvdEmbedder",
    "TopicParameters",
    "TopicRunSummary",
    "embed_with_cache",
    "fit_topics",
    "get_embedder",
    "load_topics",
    "participant_segments",
    "suggest_codes",
]
