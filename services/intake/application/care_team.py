"""Use cases of a client's care team: clinicians an admin adds or takes off, and
break-glass access (who else cares for the client follows from other events,
shared/care_team.py)."""
from shared import audit, metrics
from shared.timeutil import iso, utc_now

from .. import domain
from .clients import load_client


class CareTeamUseCases:
    def add_care_team_member(self, caller, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record), domain.care_team.add_member(
                client, command["clinician_id"], caller.principal.user_id, iso(utc_now())))
        return self.care_team(caller.principal, client_id)

    def remove_care_team_member(self, caller, client_id, clinician_id):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record), domain.care_team.remove_member(
                client, clinician_id, caller.principal.user_id, iso(utc_now())))
        return self.care_team(caller.principal, client_id)

    def grant_break_glass(self, caller, client_id, command, minutes):
        """A clinician outside the care team opens the client's records for `minutes`."""
        with self.store.unit_of_work() as uow:
            # Tenancy still holds; the care team is what break-glass steps over.
            record, client = load_client(uow, caller.principal, client_id, care_team=False)
            (event,) = uow.save(client, caller.context_of(record),
                                domain.care_team.grant_break_glass(
                                    client, caller.principal.user_id, command["reason"],
                                    iso(utc_now()), minutes))
            audit.mark_break_glass()
        metrics.BREAK_GLASS.labels(self.service, record["organisation_id"],
                                   record["clinic_id"]).inc()
        return {key: event.data[key] for key in ("client_id", "clinician_id", "reason",
                                                 "granted_at", "expires_at")}
