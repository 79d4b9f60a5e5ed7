"""Clinics, rooms and clinicians' profiles."""
import uuid

from ..domain import calendar as settings_rules
from ..domain.calendar import Clinic, Clinician
from .reminders import count_reminders_from_zero


class ClinicCommands:
    def configure_clinic(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_role("admin")
        organisation_id = principal.organisation_id
        principal.require_clinic(organisation_id, clinic_id)
        new_events = settings_rules.configure_clinic(**command)
        with self.store.unit_of_work() as uow:
            # A blind write: the PUT sets the settings whole, whatever they were.
            uow.append_blind(Clinic.stream_of(organisation_id, clinic_id),
                             caller.context(organisation_id, clinic_id), new_events)
        if command.get("reminder_hours_before"):
            count_reminders_from_zero(organisation_id, clinic_id)
        return self.clinic(principal, clinic_id)

    def add_room(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_role("admin")
        organisation_id = principal.organisation_id
        principal.require_clinic(organisation_id, clinic_id)
        room_id = command.get("room_id") or str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            clinic = uow.get(Clinic, organisation_id, clinic_id)
            uow.save(clinic, caller.context(organisation_id, clinic_id),
                     settings_rules.add_room(clinic, room_id, command["name"]))
        return {"room_id": room_id, "name": command["name"], "clinic_id": clinic_id}

    def set_clinician_profile(self, caller, clinician_id, command):
        principal = caller.principal
        principal.require_role("admin")
        organisation_id = principal.organisation_id
        for clinic_id in command["clinic_ids"]:
            principal.require_clinic(organisation_id, clinic_id)
        new_events = settings_rules.set_clinician_profile(
            clinician_id, command["name"], command["clinic_ids"], command["working_hours"])
        with self.store.unit_of_work() as uow:
            clinician = uow.get(Clinician, organisation_id, clinician_id)
            # Changing a profile also changes what it says about its old clinics: who
            # may set it depends on the profile loaded, so it is saved at that version
            # (not a blind write, though the PUT sets it whole).
            for clinic_id in clinician.clinic_ids:
                principal.require_clinic(organisation_id, clinic_id)
            uow.save(clinician, caller.context(organisation_id, command["clinic_ids"][0]),
                     new_events)
        return self.clinician(principal, clinician_id)
