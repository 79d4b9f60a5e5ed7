"""A clinic's settings and rooms; a clinician's profile."""
from shared.errors import NotFound

from . import records, views


class ClinicQueries:
    def clinic(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            settings = records.clinic_settings(conn, principal.organisation_id, clinic_id)
            configured = records.clinic_configured_row(
                conn, principal.organisation_id, clinic_id) is not None
            room_list = records.room_rows(conn, principal.organisation_id, clinic_id)
        return views.clinic(principal.organisation_id, clinic_id, settings, configured,
                            room_list)

    def clinician(self, principal, clinician_id):
        with self.store.read() as conn:
            row = records.clinician_row(conn, principal.organisation_id, clinician_id)
        if row is None or not any(principal.sees(principal.organisation_id, c)
                                  for c in row["profile"]["clinic_ids"]):
            raise NotFound("clinician not found")
        return {"organisation_id": principal.organisation_id, **row["profile"]}
