"""Commands on psychotherapy notes: only their author writes or revises one.

Their events are private (never published or fed).
"""
import uuid

from shared.timeutil import iso, utc_now

from ..domain import psychotherapy_notes as rules
from ..domain.psychotherapy_notes import PsychotherapyNote
from ..queries.common import visible_client
from ..queries.psychotherapy_notes import AUTHOR_ROLES, authors_note


class PsychotherapyNoteCommands:
    def write_psychotherapy_note(self, caller, command):
        principal = caller.principal
        principal.require_role(*AUTHOR_ROLES)
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(command["client_id"]))
            note = uow.get(PsychotherapyNote, str(uuid.uuid4()))  # new: at version 0
            uow.save(note, caller.context_of(record), rules.write(
                note.note_id, record["client_id"], principal.user_id, command["text"],
                iso(utc_now())))
        return self.psychotherapy_note(principal, note.note_id)

    def revise_psychotherapy_note(self, caller, note_id, command):
        principal = caller.principal
        with self.store.unit_of_work() as uow:
            row = authors_note(uow.conn, principal, note_id)
            note = uow.get(PsychotherapyNote, row["note_id"])
            uow.save(note, caller.context_of(row), rules.revise(
                note, principal.user_id, command["text"], iso(utc_now())))
        return self.psychotherapy_note(principal, note_id)
