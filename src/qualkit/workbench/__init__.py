"""The researcher's workbench as a library: read a coded transcript, review a run's suggestions,
code spans by hand, add codes to the codebook's extension, undo.

The web app (``qualkit.web``, ``qualkit serve``) is one face of this package; tests and
scripts call the same functions. Everything here returns data and prints nothing.

- :mod:`.transcript`: :func:`transcript_view`, :func:`list_transcripts`;
- :mod:`.review`: the review queue (:func:`suggestions`, :func:`queue_position`, :func:`decide`,
  :func:`review_progress`, :func:`review_decisions`, orderings via :func:`register_ordering`);
- :mod:`.edits`: :func:`add_coding`, :func:`remove_coding`, :func:`respan_coding`, :func:`undo`,
  :func:`remember` and :func:`undo_last` (undo history in the store), :class:`UndoStack`;
- :mod:`.codes`: :func:`code_catalogue`, :func:`add_code` (the codebook extension file);
- :mod:`.lock`: :class:`ServeLock`, one ``qualkit serve`` per study.
"""

from .codes import EXTENSION_FILE, CodeInfo, add_code, check_codes, code_catalogue, study_codebook
from .edits import Change, UndoStack, add_coding, check_coder, remember, remove_coding, respan_coding, undo, undo_last
from .lock import ServeLock
from .review import (
    ORDERINGS,
    QueuePosition,
    ReviewProgress,
    Suggestion,
    decide,
    queue_position,
    register_ordering,
    review_decisions,
    review_progress,
    review_run,
    suggestions,
)
from .transcript import TranscriptView, list_transcripts, transcript_view

__all__ = [
    "EXTENSION_FILE", "ORDERINGS", "Change", "CodeInfo", "QueuePosition", "ReviewProgress", "ServeLock", "Suggestion",
    "TranscriptView", "UndoStack", "add_code", "add_coding", "check_codes", "check_coder", "code_catalogue", "decide",
    "list_transcripts", "queue_position", "register_ordering", "remember", "remove_coding", "respan_coding",
    "review_decisions", "review_progress", "review_run", "study_codebook", "suggestions", "transcript_view", "undo",
    "undo_last",
]
