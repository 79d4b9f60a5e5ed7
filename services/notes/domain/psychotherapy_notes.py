"""Psychotherapy notes (HIPAA 45 CFR 164.501): the clinician's own analysis.

A separate record from progress notes, in its own stream
`psychotherapy-note-<note_id>`, whose events are private (never published or
fed). Only the author reads or rewrites one: for anybody else it does not
exist (NotFound), whatever their role.
"""
from dataclasses import dataclass

from shared.envelope import NewEvent
from shared.errors import NotFound

from .validation import Errors, text

TEXT_MAX = 50000


def stream_of(note_id):
    return f"psychotherapy-note-{note_id}"


@dataclass
class PsychotherapyNote:
    note_id: str
    version: int = 0
    client_id: str = None
    author_id: str = None
    text: str = None

    @classmethod
    def from_events(cls, note_id, events):
        note = cls(note_id)
        for event in events:
            note.version = event.sequence
            note.client_id, note.author_id = event.data["client_id"], event.data["author_id"]
            note.text = event.data["text"]
        return note


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
