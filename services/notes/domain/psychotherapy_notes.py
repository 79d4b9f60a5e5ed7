"""Psychotherapy notes (HIPAA 45 CFR 164.501): the clinician's own analysis.

A separate record from progress notes, in its own stream
`psychotherapy-note-<note_id>`, whose events are private (never published or
fed). Only the author reads or rewrites one: for anybody else it does not
exist (NotFound), whatever their role.
"""
from dataclasses import dataclass

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import NotFound

from .validation import Errors, text

TEXT_MAX = 50000


@dataclass
class PsychotherapyNote(Aggregate):
    STREAM = "psychotherapy-note-{}"
    note_id: str
    version: int = 0
    client_id: str = None
    author_id: str = None

    def _on_PsychotherapyNoteWritten(self, event, data):
        self.client_id, self.author_id = data["client_id"], data["author_id"]


def _text(value):
    errors = Errors("psychotherapy note")
    text(value, "text", errors, TEXT_MAX)
    errors.raise_any()
    return value


def write(note_id, client_id, author_id, text_, written_at):
    return [NewEvent("PsychotherapyNoteWritten", {
        "note_id": note_id, "client_id": client_id, "author_id": author_id,
        "text": _text(text_), "written_at": written_at})]


def revise(note, author_id, text_, revised_at):
    if note.author_id is None or note.author_id != author_id:
        raise NotFound("psychotherapy note not found")
    return [NewEvent("PsychotherapyNoteRevised", {
        "note_id": note.note_id, "client_id": note.client_id, "author_id": author_id,
        "text": _text(text_), "revised_at": revised_at})]
