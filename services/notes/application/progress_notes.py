"""Commands on progress notes: SessionHeld opens one (a reaction), drafts, signing,
co-signing, addenda; a clinician's supervision and the clinic's note deadline."""
import uuid

from shared.errors import InvalidInput
from shared.timeutil import iso, utc_now

from ..domain import progress_notes as note_rules
from ..domain.progress_notes import NoteDeadline, ProgressNote, Supervision
from ..queries.progress_notes import note_row, supervision_row


class ProgressNoteCommands:
    # -- the reaction to SessionHeld ------------------------------------------------
    def open_progress_note(self, uow, event, context):
        """A session was held: its note is due. Opened once, whatever arrives twice."""
        data = event.data
        note = uow.get(ProgressNote, data["appointment_id"])
        uow.save(note, context, note_rules.open_note(
            note, data["appointment_id"], data["client_id"], data["clinician_id"],
            data["start"], event.time))

    # -- commands on one note ---------------------------------------------------------
    def _change_note(self, caller, note_id, decide):
        """Load the note, let `decide(note, uow, row)` choose events, and save them at the
        version loaded (409 if the note changed meanwhile)."""
        with self.store.unit_of_work() as uow:
            row = caller.principal.require_visible(note_row(uow.conn, note_id), "note")
            note = uow.get(ProgressNote, row["appointment_id"])
            uow.save(note, caller.context_of(row), decide(note, uow, row))
        return self.note(caller.principal, note_id)

    def save_draft(self, caller, note_id, command):
        def decide(note, _uow, _row):
            return note_rules.save_draft(note, command["format"], command["sections"],
                                         caller.principal.user_id, iso(utc_now()))
        return self._change_note(caller, note_id, decide)

    def sign_note(self, caller, note_id, command):
        """Sign the saved draft, or save the draft given here and sign it in one go."""
        format_, sections = command.get("format"), command.get("sections")
        if (format_ is None) != (sections is None):
            raise InvalidInput("a draft given with the signature needs both",
                               {"format" if format_ is None else "sections":
                                ["required with the other"]})

        def decide(note, uow, row):
            supervision = uow.get(Supervision, row["organisation_id"], note.clinician_id)
            return note_rules.sign(note, supervision, caller.principal.user_id,
                                   iso(utc_now()),
                                   draft=None if format_ is None else (format_, sections))
        return self._change_note(caller, note_id, decide)

    def cosign_note(self, caller, note_id):
        def decide(note, _uow, _row):
            return note_rules.cosign(note, caller.principal.user_id, iso(utc_now()))
        return self._change_note(caller, note_id, decide)

    def add_addendum(self, caller, note_id, command):
        def decide(note, _uow, _row):
            return note_rules.add_addendum(note, str(uuid.uuid4()), command["text"],
                                           caller.principal.user_id, iso(utc_now()))
        return self._change_note(caller, note_id, decide)

    # -- supervision and deadlines: settings put outright -------------------------------
    def set_supervision(self, caller, clinician_id, command):
        principal = caller.principal
        if command.get("clinic_id") is not None:
            principal.require_clinic(principal.organisation_id, command["clinic_id"])
        with self.store.unit_of_work() as uow:
            stored = supervision_row(uow.conn, principal.organisation_id, clinician_id)
            if stored is not None:
                principal.require_visible(stored, "supervision")
            clinic_id = (command.get("clinic_id") or (stored and stored["clinic_id"])
                         or _single_clinic(principal))
            new_events = note_rules.set_supervision(
                clinician_id, command["pre_licensed"], command.get("supervisor_id"),
                principal.user_id, iso(utc_now()))
            # A blind write: a PUT sets the supervision outright, whatever it was, and
            # the last of two concurrent ones wins.
            uow.append_blind(Supervision.stream_of(principal.organisation_id, clinician_id),
                             caller.context(principal.organisation_id, clinic_id), new_events)
        return self.supervision(principal, clinician_id)

    def set_note_deadline(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            new_events = note_rules.set_deadline(command["deadline_hours"], principal.user_id,
                                                 iso(utc_now()))
            # A blind write: a PUT of the clinic's setting; the last writer wins.
            uow.append_blind(NoteDeadline.stream_of(principal.organisation_id, clinic_id),
                             caller.context(principal.organisation_id, clinic_id), new_events)
        return self.note_deadline(principal, clinic_id)


def _single_clinic(principal):
    clinics = principal.clinic_filter()
    if clinics is None or len(clinics) != 1:
        raise InvalidInput("name the clinic", {"clinic_id": [
            "required when your token covers more than one clinic"]})
    return clinics[0]
