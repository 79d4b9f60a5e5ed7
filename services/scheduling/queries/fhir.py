"""Scheduling's part of a client's record as FHIR (adapters/fhir.py): the
clinicians they saw, their appointments, and an Encounter per session held."""
from shared.errors import NotFound
from shared.fhir import searchset
from shared.paging import MAX_LIMIT

from ..adapters import fhir


class FhirQueries:
    def fhir_everything(self, principal, client_id):
        appointments, offset = [], 0
        while offset is not None:  # every page, with the list's own tenancy checks
            page = self.client_appointments(principal, client_id,
                                            {"limit": MAX_LIMIT, "offset": offset})
            appointments += page["appointments"]
            offset = page["next"]
        profiles = {}
        for clinician_id in sorted({a["clinician_id"] for a in appointments}):
            try:
                profiles[clinician_id] = self.clinician(principal, clinician_id)
            except NotFound:
                pass  # no profile the caller sees: the appointment still names them
        return searchset(fhir.everything(appointments, profiles))
