from __future__ import annotations

import pickle

from qualkit.errors import MissingDependencyError, Problem, TranscriptValidationError


def test_errors_survive_pickling_with_their_problems_and_hint():
    # errors raised on a Dask worker travel back to the client pickled
    error = MissingDependencyError("dask", "pip install 'qualkit[dask]'")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is MissingDependencyError and copy.render() == error.render()
    invalid = TranscriptValidationError("bad", problems=[Problem("text is blank", "P1.json", "turns[2].text", "write the text")])
    again = pickle.loads(pickle.dumps(invalid))
    assert again.problems == invalid.problems and "turns[2].text" in str(again)
