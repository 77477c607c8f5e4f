"""Code queries: the turns where a boolean combination of codes holds, for any coder.

``X`` (a code and its descendants), ``X AND Y`` (both in the same turn), ``X NOT Y`` (X without Y in
that turn), ``OR`` and parentheses; codes by id or label (quote labels with spaces). Results carry
the coded spans of the query's codes with their text, and counts per participant; participants
are filtered by attribute as in :mod:`qualkit.analysis.search`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from ..errors import InputError, NotFoundError
from .code_names import resolve_code, study_code_tree
from .codetree import CodeTree
from .search import ParticipantCount, ParticipantTally, current_turns, select_participants, speaker_roles


@dataclass(frozen=True)
class _Code:
    code_id: str


@dataclass(frozen=True)
class _Not:
    operand: Any


@dataclass(frozen=True)
class _And:
    left: Any
    right: Any


@dataclass(frozen=True)
class _Or:
    left: Any
    right: Any


_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|\'([^\']*)\'|([^\s()]+))')


def _lex(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = query.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InputError(f"cannot read the code query {query!r} at {text[pos:]!r}",
                             hint='write codes with AND, OR, NOT and parentheses; quote labels with spaces: "Pain points"')
        pos = match.end()
        if match.group(1):
            tokens.append(("(", "("))
        elif match.group(2):
            tokens.append((")", ")"))
        elif match.group(3) is not None or match.group(4) is not None:
            tokens.append(("code", match.group(3) if match.group(3) is not None else match.group(4)))
        else:
            word = match.group(5)
            if word[0] in "\"'":  # the quoted form did not match: its closing quote is missing
                raise InputError(f"cannot read the code query {query!r}: the quote before {word[1:]!r} is not closed",
                                 hint=f'close the quote: {word[0]}{word[1:]} ...{word[0]}, e.g. "Pain points"')
            tokens.append((word.upper(), word) if word.upper() in ("AND", "OR", "NOT") else ("code", word))
    return tokens


class _Parser:
    """expr := and (OR and)* ; and := unary ((AND | NOT) unary)* ; unary := NOT unary | code | ( expr )"""

    def __init__(self, query: str, tokens: list[tuple[str, str]], tree: CodeTree) -> None:
        self.query, self.tokens, self.tree, self.pos = query, tokens, tree, 0

    def error(self, what: str) -> InputError:
        return InputError(f"cannot read the code query {self.query!r}: {what}",
                          hint='examples: velocity; velocity AND debugging; velocity NOT debugging; '
                          'validation OR (velocity AND NOT debugging)')

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise self.error("it is empty")
        node = self.expr()
        if self.pos != len(self.tokens):
            raise self.error(f"unexpected {self.tokens[self.pos][1]!r}")
        return node

    def expr(self) -> Any:
        node = self.conj()
        while self.peek() == "OR":
            self.take()
            node = _Or(node, self.conj())
        return node

    def conj(self) -> Any:
        node = self.unary()
        while self.peek() in ("AND", "NOT"):
            kind, _ = self.take()
            right = self.unary()
            node = _And(node, _Not(right) if kind == "NOT" else right)
        return node

    def unary(self) -> Any:
        kind = self.peek()
        if kind is None:
            raise self.error("it ends too early")
        if kind == "NOT":
            self.take()
            return _Not(self.unary())
        if kind == "(":
            self.take()
            node = self.expr()
            if self.peek() != ")":
                raise self.error("a parenthesis is not closed")
            self.take()
            return node
        if kind == "code":
            name = self.take()[1]
            try:
                return _Code(resolve_code(self.tree, name))
            except NotFoundError:
                self._unquoted_label(name)
                raise
        raise self.error(f"unexpected {self.tokens[self.pos][1]!r}")

    def _unquoted_label(self, name: str) -> None:
        """Raise a clear error when ``name`` and the words after it form a label written without quotes."""
        words = [name]
        for kind, word in self.tokens[self.pos:]:
            if kind != "code":
                break
            words.append(word)
            label = " ".join(words)
            try:
                resolve_code(self.tree, label)
            except NotFoundError:
                continue
            raise InputError(f"cannot read the code query {self.query!r}: the label {label!r} has spaces",
                             hint=f'put it in quotes: "{label}" (or use its code id)')
        if len(words) > 1:
            raise InputError(f"cannot read the code query {self.query!r}: unknown code {name!r} before {words[1]!r}",
                             hint='join codes with AND, OR or NOT; put a label with spaces in quotes, e.g. "Pain points"')


def parse_code_query(query: str, tree: CodeTree) -> Any:
    """Parse a code query into a small expression tree (codes resolved by id or label)."""
    return _Parser(query, _lex(query), tree).parse()


def _render(node: Any) -> str:
    if isinstance(node, _Code):
        return node.code_id
    if isinstance(node, _Not):
        inner = _render(node.operand)
        return f"NOT {inner}" if isinstance(node.operand, (_Code, _Not)) else f"NOT ({inner})"
    op = "AND" if isinstance(node, _And) else "OR"
    parts = []
    for side in (node.left, node.right):
        text = _render(side)
        parts.append(f"({text})" if isinstance(side, (_And, _Or)) and type(side) is not type(node) else text)
    return f" {op} ".join(parts)


def _evaluate(node: Any, codes: set[str]) -> bool:
    if isinstance(node, _Code):
        return node.code_id in codes
    if isinstance(node, _Not):
        return not _evaluate(node.operand, codes)
    if isinstance(node, _And):
        return _evaluate(node.left, codes) and _evaluate(node.right, codes)
    return _evaluate(node.left, codes) or _evaluate(node.right, codes)


def _positive_codes(node: Any, negated: bool = False) -> list[str]:
    if isinstance(node, _Code):
        return [] if negated else [node.code_id]
    if isinstance(node, _Not):
        return _positive_codes(node.operand, not negated)
    return _positive_codes(node.left, negated) + _positive_codes(node.right, negated)


@dataclass(frozen=True)
class CodedSpan:
    """A coded span of a turn: the code (as coded), its offsets into the turn, its text."""

    code_id: str
    start_char: int
    end_char: int
    text: str
    coder: str
    query_code: str  # the code of the query it counts for (the code itself or an ancestor)


@dataclass(frozen=True)
class TurnHit:
    """A turn where the query holds: its text, every code it has, and the spans of the query's codes."""

    transcript_id: str
    participant_id: str | None
    turn_idx: int
    turn_pk: int
    speaker: str
    text: str
    codes: tuple[str, ...]  # every code of the turn (with implied ancestors)
    spans: tuple[CodedSpan, ...]  # the spans of the query's positive codes
    start_s: float | None = None
    transcript_pk: int = 0  # the transcript version searched


@dataclass
class CodeQueryResult:
    """The turns a code query found, with counts per participant (spans, turns, words searched)."""

    query: str  # normalised: ids, explicit operators
    coder: str
    codes: list[str]  # the positive codes of the query
    hits: list[TurnHit]
    counts: list[ParticipantCount]
    turns_searched: int
    where: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.hits)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "coder": self.coder, "codes": self.codes, "total": self.total,
            "turns_searched": self.turns_searched, "where": self.where,
            "counts": [c.as_dict() for c in self.counts],
            "hits": [asdict(h) for h in self.hits],
        }


def code_query(
    study: Any,
    query: str,
    *,
    coder: str | None = None,
    where: Mapping[str, Sequence[str]] | None = None,
    unit: str | None = None,
    include_interviewer: bool = False,
    tree: CodeTree | None = None,
) -> CodeQueryResult:
    """The turns where ``query`` holds for ``coder`` (default: the latest rules run), with coded spans.

    A code in the query stands for itself and its descendants; ``X AND Y`` means both in the same
    turn, ``X NOT Y`` means X without Y in that turn. Spans are those of the query's codes that
    are not negated, with the text they cover.
    """
    from .codings import default_coder, load_codings

    tree = tree if tree is not None else study_code_tree(study)
    node = parse_code_query(query, tree)
    chosen = select_participants(study, where)
    coder = coder or default_coder(study)
    codings = load_codings(study, coder, unit=unit)
    positives = list(dict.fromkeys(_positive_codes(node)))
    lineage: dict[str, list[str]] = {}

    def implied(code_id: str) -> list[str]:
        if code_id not in lineage:
            lineage[code_id] = [code_id, *tree.ancestors(code_id)]
        return lineage[code_id]

    turn_codes: dict[int, set[str]] = {}
    turn_spans: dict[int, dict[tuple[str, int, int, str], CodedSpan]] = {}
    for row in codings.itertuples(index=False):
        turn_pk = int(row.turn_pk)
        codes = implied(row.code_id)
        turn_codes.setdefault(turn_pk, set()).update(codes)
        for query_code in positives:
            if query_code in codes:
                key = (row.code_id, int(row.start_char), int(row.end_char), query_code)
                if key not in turn_spans.setdefault(turn_pk, {}):
                    turn_spans[turn_pk][key] = CodedSpan(row.code_id, int(row.start_char), int(row.end_char), "",
                                                         str(row.coder), query_code)
    hits: list[TurnHit] = []
    tally = ParticipantTally()
    searched = 0
    roles = speaker_roles(include_interviewer)
    for row, turns in current_turns(study, chosen):
        pid = row.participant_id or row.id
        tally.begin(pid)
        for turn in turns:
            if turn.role not in roles:
                continue
            searched += 1
            tally.add_words(pid, len(turn.text.split()))
            codes = turn_codes.get(turn.turn_pk, set())
            if not _evaluate(node, codes):
                continue
            spans = sorted(
                (CodedSpan(s.code_id, s.start_char, s.end_char, turn.text[s.start_char : s.end_char], s.coder, s.query_code)
                 for s in turn_spans.get(turn.turn_pk, {}).values()),
                key=lambda s: (s.start_char, s.end_char, s.code_id),
            )
            hits.append(TurnHit(row.id, row.participant_id, turn.turn_idx, turn.turn_pk, turn.speaker, turn.text,
                                tuple(sorted(codes)), tuple(spans), turn.start_s, row.pk))
            tally.hit(pid, len(spans) or 1)
    counts = tally.counts()
    return CodeQueryResult(_render(node), coder, positives, hits, counts, searched,
                           {k: list(v) for k, v in (where or {}).items()})


__all__ = ["CodeQueryResult", "CodedSpan", "TurnHit", "code_query", "parse_code_query"]
