"""Agreement at a glance: how a reviewing coder judged a run's suggestions, per code.

A review decision is a human coding with ``suggestion_pk`` (the code application it answers),
``suggestion_run_id`` and ``decision`` (``accepted``, ``adjusted``, ``replaced``, ``rejected``;
migration 0002). Per suggested code this counts the suggestions of the run, how many the coder
reviewed and how, and the run's precision as the researcher judged it:

* precision = (accepted + adjusted) / reviewed: the code was right (an adjusted span is still
  the right code);
* strict precision = accepted / reviewed: code and span were right as suggested.

A suggestion with several decisions (replaced by two codes, or decided again) counts once, by
its latest decision. A decision on the same suggestion of an earlier run (a re-run of the
pipeline) counts for the later run too (:func:`qualkit.workbench.review.carried_decisions`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError, NotFoundError
from .review import SUGGESTING_KINDS, carried_decisions

DECISIONS = ("accepted", "adjusted", "replaced", "rejected")


@dataclass
class CodeReviewStats:
    code_id: str
    label: str
    suggestions: int  # the run's applications of this code
    accepted: int = 0
    adjusted: int = 0
    replaced: int = 0
    rejected: int = 0
    replaced_by: dict[str, int] = field(default_factory=dict)  # code chosen instead -> count

    @property
    def reviewed(self) -> int:
        return self.accepted + self.adjusted + self.replaced + self.rejected

    @property
    def pending(self) -> int:
        return max(self.suggestions - self.reviewed, 0)

    @property
    def precision(self) -> float | None:
        return (self.accepted + self.adjusted) / self.reviewed if self.reviewed else None

    @property
    def strict_precision(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reviewed": self.reviewed, "pending": self.pending,
                "precision": self.precision, "strict_precision": self.strict_precision}


@dataclass
class ReviewStats:
    coder: str
    run_id: int
    codes: list[CodeReviewStats]

    def _sum(self, name: str) -> int:
        return sum(getattr(code, name) for code in self.codes)

    @property
    def total(self) -> CodeReviewStats:
        """All codes together (``code_id`` is ``*``)."""
        total = CodeReviewStats("*", "all codes", self._sum("suggestions"))
        for name in DECISIONS:
            setattr(total, name, self._sum(name))
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"coder": self.coder, "run_id": self.run_id, "codes": [c.as_dict() for c in self.codes],
                "total": self.total.as_dict()}


def reviewed_runs(study: Any, coder: str) -> list[int]:
    """Runs whose suggestions ``coder`` has decided on, newest first."""
    rows = _store(study).query(
        """SELECT DISTINCT suggestion_run_id FROM human_codings
           WHERE coder = ? AND suggestion_run_id IS NOT NULL ORDER BY suggestion_run_id DESC""",
        (coder,),
    )
    return [int(row[0]) for row in rows]


def _store(study: Any) -> Any:
    return getattr(study, "store", study)


def _coder_name(coder: str) -> str:
    name = (coder or "").strip()
    if name.startswith("human:"):
        name = name[len("human:"):]
    if not name or name.startswith("run:"):
        raise InputError(f"{coder!r} is not a human coder", hint="give the reviewing coder's name, e.g. --coder alice")
    return name


def reviewers(study: Any) -> list[str]:
    """Human coders who decided on any run's suggestions."""
    rows = _store(study).query("SELECT DISTINCT coder FROM human_codings WHERE suggestion_run_id IS NOT NULL ORDER BY coder")
    return [row[0] for row in rows]


def review_stats(study: Any, *, coder: str, run_id: int | None = None) -> ReviewStats:
    """Per code of run ``run_id`` (default: the newest run ``coder`` reviewed, else the latest rules run,
    all pending): decisions and precision.

    Codes with suggestions are listed in codebook order, then codes only the coder's decisions
    mention; a code nobody suggested is left out.
    """
    from ..analysis.code_names import study_code_tree
    from ..analysis.codings import latest_rules_run

    store = _store(study)
    name = _coder_name(coder)
    if run_id is None:
        runs = reviewed_runs(study, name)
        latest = latest_rules_run(study)  # of the declared codebook, as reports and the review queue
        if not runs and latest is None:
            raise NotFoundError("this study has no rules run whose suggestions could be reviewed",
                                hint="run `qualkit code` first, then review its suggestions in `qualkit serve`")
        run_id = runs[0] if runs else int(latest["id"])
    run = store.run(int(run_id))  # NotFoundError when absent
    if run["kind"] not in SUGGESTING_KINDS:  # the review queue's kinds: rules and learned runs
        raise InputError(f"run {run_id} is of kind {run['kind']!r}: it made no suggestions",
                         hint="choose a rules or learned run (`qualkit runs list`)")
    suggested = {
        row["code_id"]: int(row["n"])
        for row in store.query("SELECT code_id, COUNT(*) AS n FROM code_applications WHERE run_id = ? GROUP BY code_id", (run_id,))
    }
    decisions = store.query(
        """SELECT hc.pk, hc.suggestion_pk, hc.decision, hc.code_id AS chosen, ca.code_id AS suggested
           FROM human_codings hc JOIN code_applications ca ON ca.pk = hc.suggestion_pk
           WHERE hc.coder = ? AND hc.suggestion_run_id = ? AND hc.decision IN ('accepted', 'adjusted', 'replaced', 'rejected')
           ORDER BY hc.pk""",
        (name, run_id),
    )
    latest: dict[int, str] = {}
    chosen: dict[int, list[str]] = {}
    code_of: dict[int, str] = {}
    for row in decisions:
        pk = int(row["suggestion_pk"])
        if latest.get(pk) != row["decision"]:
            chosen[pk] = []
        latest[pk] = row["decision"]
        code_of[pk] = row["suggested"]
        if row["decision"] == "replaced":
            chosen[pk].append(row["chosen"])
    for pk, row in carried_decisions(store, name, int(run_id)).items():  # made on the same suggestion of an earlier run
        if pk not in latest:
            latest[pk], code_of[pk] = row["decision"], row["suggested_code_id"]
            chosen[pk] = [row["code_id"]] if row["decision"] == "replaced" else []
    tree = study_code_tree(study)
    order = {code_id: i for i, code_id in enumerate(tree.preorder())}
    stats = {code_id: CodeReviewStats(code_id, tree.label(code_id), count) for code_id, count in suggested.items()}
    for pk, decision in latest.items():
        code_id = code_of[pk]
        entry = stats.setdefault(code_id, CodeReviewStats(code_id, tree.label(code_id), 0))
        setattr(entry, decision, getattr(entry, decision) + 1)
        for other in chosen.get(pk, []):
            entry.replaced_by[other] = entry.replaced_by.get(other, 0) + 1
    ordered = sorted(stats.values(), key=lambda s: (order.get(s.code_id, len(order)), s.code_id))
    return ReviewStats(name, int(run_id), ordered)


__all__ = ["CodeReviewStats", "DECISIONS", "ReviewStats", "review_stats", "reviewed_runs", "reviewers"]
