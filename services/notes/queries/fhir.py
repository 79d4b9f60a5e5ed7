"""Notes' part of a client's record as FHIR (adapters/fhir.py): the plan and the
signed progress notes; never a psychotherapy note or a journal entry."""
from sqlalchemy import select

from shared.fhir import searchset

from ..adapters import fhir
from ..read_models import progress_notes
from .common import visible_client


class FhirQueries:
    def fhir_everything(self, principal, client_id):
        plan = self.plan(principal, client_id)  # tenancy and care team, as for the plan
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            signed = conn.execute(
                select(progress_notes.c.note_id)
                .where(progress_notes.c.client_id == record["client_id"],
                       progress_notes.c.organisation_id == record["organisation_id"],
                       progress_notes.c.clinic_id == record["clinic_id"],
                       progress_notes.c.signed_at.is_not(None))
                .order_by(progress_notes.c.session_start, progress_notes.c.note_id)).scalars()
            note_ids = list(signed)
        notes = [self.note(principal, note_id) for note_id in note_ids]
        return searchset(fhir.everything(record["client_id"], plan, notes))
