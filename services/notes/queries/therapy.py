"""What the therapy does, as read: the organisation's vocabulary (built-ins and its own)
and the interventions recorded on a session's note."""
from sqlalchemy import select

from shared.timeutil import iso
from shared.vocabulary import INTERVENTIONS, THERAPY_APPROACHES

from ..domain.therapy import Vocabulary
from ..read_models import note_interventions, therapy_vocabularies
from .common import json_or_none
from .progress_notes import note_row


def own_vocabulary(conn, organisation_id):
    """The organisation's own entries: ([{code, label}], [{code, label, approach}], row)."""
    row = conn.execute(select(therapy_vocabularies).where(
        therapy_vocabularies.c.organisation_id == organisation_id)).first()
    if row is None:
        return [], [], None
    return json_or_none(row.approaches), json_or_none(row.interventions), row


def vocabulary_of(conn, organisation_id):
    approaches, interventions, _ = own_vocabulary(conn, organisation_id)
    return Vocabulary.of(approaches, interventions)


class TherapyQueries:
    def therapy_vocabulary(self, principal):
        """Every approach with its interventions, built-in or the organisation's own."""
        with self.store.read() as conn:
            approaches, interventions, row = own_vocabulary(conn, principal.organisation_id)
        vocabulary = Vocabulary.of(approaches, interventions)
        labels = {e["code"]: e["label"] for e in approaches + interventions}
        return {
            "approaches": [{
                "code": code, "label": labels.get(code), "built_in": code in THERAPY_APPROACHES,
                "interventions": [{"code": i, "label": labels.get(i),
                                   "built_in": i in INTERVENTIONS.get(code, ())}
                                  for i in codes]}
                for code, codes in vocabulary.interventions.items()],
            "own": {"approaches": approaches, "interventions": interventions},
            "set_by": row.set_by if row else None,
            "set_at": iso(row.set_at) if row else None,
        }

    def session_interventions(self, principal, note_id):
        """The interventions recorded on a note ([] until some are)."""
        with self.store.read() as conn:
            note = principal.require_visible(note_row(conn, note_id), "note")
            row = conn.execute(select(note_interventions).where(
                note_interventions.c.note_id == note["note_id"])).first()
        if row is None:
            return {"note_id": note["note_id"], "appointment_id": note["appointment_id"],
                    "interventions": [], "approaches": [], "other_text": None,
                    "recorded_by": None, "recorded_at": None}
        return {"note_id": row.note_id, "appointment_id": row.appointment_id,
                "interventions": json_or_none(row.interventions),
                "approaches": json_or_none(row.approaches), "other_text": row.other_text,
                "recorded_by": row.recorded_by, "recorded_at": iso(row.recorded_at)}
