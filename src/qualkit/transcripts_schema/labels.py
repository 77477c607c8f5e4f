"""Speaker labels: which are pseudonyms (P3, Interviewer 1, [NAME]) and which name someone.

The anonymity check reports every label that is not a pseudonym form, whatever its shape
(``Bin Hu``, ``au774186``, ``Break``); :func:`looks_like_personal_name` says *why* a label looks
like a real name, and the pseudonymizer uses it to decide which labels to hunt for in the text.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- speaker labels

# Words that make a label a role rather than a name: "Interviewer 1", "Speaker B", "Host".
ROLE_WORDS = frozenset(
    """interviewer interviewers interviewee interviewees speaker speakers participant participants
    respondent respondents moderator host hosts cohost co-host guest guests researcher researchers
    facilitator facilitators observer observers notetaker note-taker translator interpreter
    narrator audience member members unknown unidentified other others all both everyone
    several multiple crosstalk voice voices person man woman male female student teacher user
    customer client engineer manager lead team pi investigator subject informant anonymous
    redacted name caller operator announcer panelist panellist chair reporter producer editor presenter
    transcriber coordinator assistant staff volunteer clinician patient parent child mother father nurse
    doctor officer leader coach trainer expert witness""".split()
)

# A small list of common given names (international). Single-word labels in this list are
# flagged; longer labels are judged by capitalisation instead.
GIVEN_NAMES = frozenset(
    """aaron abby adam adrian ahmed aisha alan albert alex alexander alexandra alexis ali alice alicia
    allison amanda amber amelia amir amit amy ana andre andrea andrew andy angela anil ann anna anne
    anthony antonio arjun ashley barbara ben benjamin beth betty bill bob brad brandon brenda brian
    bruce bryan carl carla carlos carol caroline catherine charles charlie chen chris christian
    christina christine christopher claire craig cynthia dan dana daniel daniela david deborah debra
    deepak dennis diana diane dmitri donald donna doug douglas dylan ed edward elena eli elijah
    elizabeth ella emily emma eric erica erik ethan eugene eva evan fatima felix fernando frank fred
    gabriel gary george grace greg gregory hannah harold harry heather helen henry hiroshi hugo ian
    isabel isabella ivan jack jacob james jamie jan jane janet jason javier jean jeff jeffrey jen
    jennifer jenny jeremy jerry jessica jill jim joan joe joel john johnny jon jonathan jordan jorge
    jose joseph josh joshua juan judy julia julie justin karen kate katherine kathleen kathy katie
    kelly ken kenneth kevin kim kyle laura lauren leo li lin linda lisa liz lucas lucy luis luke
    madison maria mark martin mary matt matthew megan mei melissa michael michelle mike mohamed
    mohammed muhammad nancy natalie nathan nicholas nick nicole nina noah olga oliver olivia omar
    pablo pamela patricia patrick paul paula peter philip priya rachel rahul raj ralph ramesh raymond
    rebecca richard rick rob robert roger ron ronald rose ruth ryan sam samantha samuel sandra sara
    sarah scott sean sergei sharon simon sophia sophie stephanie stephen steve steven sue susan tara
    thomas tim timothy tom tony tyler victor victoria vikram vincent walter wayne wei william yuki
    yusuf zachary zoe anand sanjay suresh vijay varun ravi harsha kwame kofi amara chidi ngozi
    oluwaseun tariq leila mateo diego lars sven ingrid hans klaus jurgen pierre marie sofia giulia
    luca marco ahmad hassan mehmet ayse kenji haruto sakura minh linh ji-woo seo-yeon""".split()
)

_PSEUDONYM_RES = (
    re.compile(r"[A-Za-z]{1,3}[ _\-]?\d{1,4}[A-Za-z]?"),  # P3, Lg2, Sm4, P-12, R2a
    re.compile(r"\[[^\]]+\]|<[^>]+>|\{[^}]+\}"),  # [NAME], [PERSON-1], <speaker>
    re.compile(r"[A-Z]"),  # A, B
    re.compile(r"(?:speaker|spk|spkr)[ _\-]?\d+|\d+", re.IGNORECASE),  # Speaker_01, spk1, 2
)
_PARTICLES = frozenset("van von der den de da del della di du le la bin ibn al el st".split())
_TITLES = frozenset("dr dr. mr mr. mrs mrs. ms ms. prof prof. sir dame".split())


def _is_capitalised(word: str) -> bool:
    """``Chris``, ``José``, ``DeBellis``, ``O'Neil``, ``Martinez-Cámara``, ``Dr.``; not ``ML``, ``of``, ``3D``."""
    word = word.rstrip(",.")
    letters = [char for char in word if char.isalpha()]
    if not letters or not word[0].isupper() or any(not (char.isalpha() or char in "'’-") for char in word):
        return False
    return len(letters) == 1 or not all(char.isupper() for char in letters)


def looks_like_pseudonym(label: str) -> bool:
    """True for labels such as P3, Lg2, Interviewer 1, Interviewee, Speaker 2, Host, [NAME].

    A label is a pseudonym when it is a short code with a number (``P3``, ``Lg2``), a bracketed
    redaction (``[NAME]``), a single capital letter, or made only of role words (see
    :data:`ROLE_WORDS`) optionally followed by a number or a single letter (``Interviewer 1``,
    ``Audience member B``).
    """
    text = " ".join(label.split())
    if not text:
        return True
    if any(pattern.fullmatch(text) for pattern in _PSEUDONYM_RES):
        return True
    words = re.split(r"[\s_]+", text)
    while words and (re.fullmatch(r"\d+[A-Za-z]?|[A-Z]|#\d+|\(\w+\)", words[-1])):
        words.pop()
    return bool(words) and all(word.casefold().strip(".:()") in ROLE_WORDS for word in words)


def looks_like_personal_name(label: str) -> str | None:
    """Why ``label`` looks like a real personal name, or ``None`` when it does not.

    The heuristic, applied to labels that are not pseudonyms: two or more capitalised words
    (``Chris Benson``, ``Mary-Jane van der Berg``, ``Dr. Smith``), allowing lower-case
    particles such as *van*, *de*, *bin* between them; or a single word that is a common given
    name from :data:`GIVEN_NAMES` (``Daniel``, ``priya``).
    """
    if looks_like_pseudonym(label):
        return None
    words = label.split()
    if len(words) == 1:
        word = words[0].strip(".:,")
        if word.casefold() in GIVEN_NAMES:
            return "a common given name"
        return None
    names = [word for word in words if word.casefold() not in _PARTICLES]
    if len(names) < 2 or len(names) > 5:
        return None
    if all(_is_capitalised(word) for word in names):
        if any(word.casefold() in _TITLES for word in names):
            return "a title and a name"
        if all(word.casefold() in ROLE_WORDS for word in names):
            return None
        return "capitalised like a first and last name"
    if words[0].strip(".:,").casefold() in GIVEN_NAMES:
        return "starts with a common given name"
    return None


def non_pseudonym_reason(label: str) -> str | None:
    """Why ``label`` is an anonymity finding, or ``None`` when it is a pseudonym form.

    Every label that is not a pseudonym form (see :func:`looks_like_pseudonym`: ``P3``,
    ``Participant 3``, ``Interviewer 2``, ``Speaker 1``, ``Interviewee``, a role word, a
    redaction marker such as ``[REDACTED]``) is a finding, whatever its shape: a Zoom display
    name (``Bin Hu``), a user name (``au774186``), a segment title (``Break``).
    """
    if looks_like_pseudonym(label):
        return None
    why = looks_like_personal_name(label)
    if why is not None:
        return f"looks like a real name: {why}"
    if re.search(r"\d", label) and re.search(r"[^\W\d_]", label):
        return "not a pseudonym: looks like a user name or an account id"
    return "not a pseudonym (P3, Participant 3, Interviewer 2, Speaker 1, a role word or [REDACTED])"


__all__ = ["GIVEN_NAMES", "ROLE_WORDS", "looks_like_personal_name", "looks_like_pseudonym", "non_pseudonym_reason"]
