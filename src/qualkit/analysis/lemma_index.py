"""The lemma index of search: each transcript version's tokens as lemmas and offsets.

Lemmas come from the rules pass's pipeline (``coding/nlp.py``: spaCy's tokenizer and the lowercase
lookup lemmatizer), so a search finds what the rules would match. An index is keyed by the
transcript version's content hash: it is written under ``.qualkit/cache/lemmas/`` and kept in
memory (within a budget) for a long-running ``qualkit serve``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TurnTokens:
    """The tokens of one turn, kept compact: ``lemmas`` space-joined, ``offsets`` the start and length
    of each token (code points into the turn's text). Decoded only for turns that may match."""

    lemmas: str
    offsets: str  # start and length of each token, space-joined: "0 9 11 6 ..."

    def lemma_list(self) -> list[str]:
        return self.lemmas.split(" ") if self.lemmas else []

    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each token."""
        numbers = [int(n) for n in self.offsets.split(" ")] if self.offsets else []
        return [(start, start + length) for start, length in zip(numbers[::2], numbers[1::2])]

    def may_contain(self, lemma: str) -> bool:
        """A quick test before decoding: could ``lemma`` (or, ending in ``*``, a prefix) be a token here?"""
        if lemma.endswith("*"):
            return True
        return f" {lemma} " in f" {self.lemmas} "


#: Lemma indexes kept in memory (a long-running ``qualkit serve`` searches without reading files):
#: content hash -> tokens per turn, up to about this many characters in all.
MEMORY_BUDGET_CHARS = 200_000_000
_memory: "OrderedDict[str, list[TurnTokens]]" = OrderedDict()
_memory_chars = 0
_memory_lock = threading.Lock()


def forget_lemma_indexes() -> None:
    """Drop the lemma indexes held in memory (the cache files stay)."""
    global _memory_chars
    with _memory_lock:
        _memory.clear()
        _memory_chars = 0


@functools.lru_cache(maxsize=1)
def _signature() -> str:
    from ..coding.nlp import LEMMA_OVERRIDES, versions

    data = json.dumps({"versions": versions(), "overrides": LEMMA_OVERRIDES, "format": 3}, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]


def _tokenize(texts: list[str]) -> list[TurnTokens]:
    """Lemmas and offsets of every non-space token, read from spaCy's arrays (no Token objects)."""
    from spacy.attrs import IDX, IS_SPACE, LEMMA, LENGTH

    from ..coding.nlp import get_nlp

    nlp = get_nlp()
    strings = nlp.vocab.strings
    names: dict[int, str] = {}

    def name(lemma: int) -> str:
        found = names[lemma] = strings[lemma].replace(" ", "_") or "_"
        return found

    result = []
    for doc in nlp.pipe(texts, batch_size=256):
        array = doc.to_array([LEMMA, IDX, LENGTH, IS_SPACE])
        array = array[array[:, 3] == 0]
        lemmas = " ".join([names.get(h) or name(h) for h in array[:, 0].tolist()])
        offsets = " ".join(map(str, array[:, 1:3].ravel().tolist()))
        result.append(TurnTokens(lemmas, offsets))
    return result


def _remember(key: str, tokens: list[TurnTokens]) -> None:
    global _memory_chars
    size = sum(len(t.lemmas) + len(t.offsets) for t in tokens)
    with _memory_lock:
        if key in _memory:
            return
        _memory[key] = tokens
        _memory_chars += size
        while _memory_chars > MEMORY_BUDGET_CHARS and len(_memory) > 1:
            _, dropped = _memory.popitem(last=False)
            _memory_chars -= sum(len(t.lemmas) + len(t.offsets) for t in dropped)


def transcript_tokens(study: Any, content_hash: str, texts: list[str]) -> list[TurnTokens]:
    """Tokens of a transcript version's turns (in turn order): from memory, else the cache file,
    else lemmatized now (and cached under ``.qualkit/cache/lemmas/``)."""
    key = f"{content_hash}-{_signature()}"
    with _memory_lock:
        known = _memory.get(key)
        if known is not None and len(known) == len(texts):
            _memory.move_to_end(key)
            return known
    cache_dir = getattr(study, "cache_dir", None)
    path = Path(cache_dir) / "lemmas" / f"{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if len(data) == len(texts) and all(isinstance(a, str) and isinstance(b, str) for a, b in data):
                tokens = [TurnTokens(a, b) for a, b in data]
                _remember(key, tokens)
                return tokens
        except (OSError, ValueError, TypeError):
            pass  # a damaged cache file is rebuilt below
    tokens = _tokenize(texts)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps([[t.lemmas, t.offsets] for t in tokens]), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # caching is an optimisation only
    _remember(key, tokens)
    return tokens


def prune_lemma_cache(study: Any, current_hashes: set[str]) -> int:
    """Delete cache files of transcript versions that are no longer current (or of another
    lemmatizer version); returns how many were deleted."""
    cache_dir = getattr(study, "cache_dir", None)
    folder = Path(cache_dir) / "lemmas" if cache_dir is not None else None
    if folder is None or not folder.is_dir():
        return 0
    keep = {f"{content_hash}-{_signature()}.json" for content_hash in current_hashes}
    deleted = 0
    for path in folder.glob("*.json"):
        if path.name not in keep:
            try:
                path.unlink()
                deleted += 1
            except OSError:
                pass  # another process may have removed it
    return deleted


__all__ = ["MEMORY_BUDGET_CHARS", "TurnTokens", "forget_lemma_indexes", "prune_lemma_cache", "transcript_tokens"]
