"""A clinic's billing settings and a client's sliding scale: each a PUT that replaces
the value outright, so each is a blind write (the last writer wins by design)."""
from ..domain import (BillingProfile, FeeScheduleHistory, SlidingScale, fees,
                      set_fee_schedule, superbill)
from ..queries.base import client_clinic, client_row, require_clinic


class SettingsCommands:
    def _set_blind(self, stream, context, new_events):
        with self.store.unit_of_work() as uow:
            return uow.append_blind(stream, context, new_events)

    def set_fee_schedule(self, caller, clinic_id, command):
        require_clinic(caller.principal, clinic_id)
        organisation_id = caller.principal.organisation_id
        (event,) = self._set_blind(
            FeeScheduleHistory.stream_of(organisation_id, clinic_id),
            caller.context(organisation_id, clinic_id),
            set_fee_schedule(command["currency"], command["prices"],
                             command.get("effective_from")))
        return {"organisation_id": organisation_id, "clinic_id": clinic_id,
                "currency": event.data["currency"], "prices": event.data["prices"],
                "effective_from": event.data.get("effective_from"),
                "version": event.sequence, "set_at": event.time}

    def set_policy(self, caller, clinic_id, command):
        require_clinic(caller.principal, clinic_id)
        organisation_id = caller.principal.organisation_id
        (event,) = self._set_blind(fees.ClinicPolicy.stream_of(organisation_id, clinic_id),
                                   caller.context(organisation_id, clinic_id),
                                   fees.set_policy(**command))
        return {"clinic_id": clinic_id, "version": event.sequence, **event.data}

    def set_profile(self, caller, clinic_id, clinician_id, command):
        require_clinic(caller.principal, clinic_id)
        organisation_id = caller.principal.organisation_id
        (event,) = self._set_blind(
            BillingProfile.stream_of(organisation_id, clinic_id, clinician_id or ""),
            caller.context(organisation_id, clinic_id),
            superbill.set_profile(clinician_id, **command))
        return {"clinic_id": clinic_id, "version": event.sequence, **event.data}

    def set_sliding_scale(self, caller, client_id, command):
        principal = caller.principal
        with self.store.read() as conn:
            organisation_id, clinic_id = client_clinic(conn, principal, client_id,
                                                       command.get("clinic_id"))
            client = client_row(conn, organisation_id, clinic_id, client_id)
        (event,) = self._set_blind(
            SlidingScale.stream_of(organisation_id, clinic_id, client_id),
            caller.context(organisation_id, clinic_id),
            fees.set_sliding_scale(client_id, command["percent"], command["starts_on"],
                                   client.payer_kind if client else None, principal.user_id))
        return {"client_id": client_id, "clinic_id": clinic_id, "percent": event.data["percent"],
                "starts_on": event.data["starts_on"], "version": event.sequence}
