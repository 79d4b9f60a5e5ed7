"""Scheduling's part of a client's record as FHIR (adapters/fhir.py): the
clinicians they saw, their appointments, and an Encounter per session held."""
from shared.errors import NotFound
from shared.fhir import searchset
from shared.paging import every_item

from ..adapters import fhir


class FhirQueries:
    def fhir_everything(self, principal, client_id):
        # every page, with the list's own tenancy checks
        appointments = every_item("appointments", lambda page: self.client_appointments(
            principal, client_id, page))
        profiles = {}
        for clinician_id in sorted({a["clinician_id"] for a in appointments}):
            try:
                profiles[clinician_id] = self.clinician(principal, clinician_id)
            except NotFound:
                pass  # no profile the caller sees: the appointment still names them
        return searchset(fhir.everything(appointments, profiles))
