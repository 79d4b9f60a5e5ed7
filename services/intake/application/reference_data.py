"""Use cases of intake's reference data: an organisation's instruments and a
clinic's not-on-track rule."""
from shared.auth import ALL_CLINICS
from shared.timeutil import iso, utc_now

from .. import domain


class ReferenceDataUseCases:
    def define_instrument(self, caller, command):
        """An organisation-wide definition: only an admin of every clinic may add one."""
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, ALL_CLINICS)
        with self.store.unit_of_work() as uow:
            catalogue = uow.get(domain.InstrumentCatalogue, principal.organisation_id)
            instrument, new_events = domain.define_instrument(
                catalogue, command, principal.user_id, iso(utc_now()))
            uow.save(catalogue, caller.context(principal.organisation_id, ALL_CLINICS),
                     new_events)
        return self.instrument(principal, instrument.code, instrument.version)

    def set_not_on_track_rule(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = domain.set_not_on_track_rule(command, principal.user_id, iso(utc_now()))
        with self.store.unit_of_work() as uow:
            # A blind write: the PUT sets the rule outright, so the last writer wins.
            uow.append_blind(domain.NotOnTrackRule.stream_of(principal.organisation_id, clinic_id),
                             caller.context(principal.organisation_id, clinic_id), new_events)
        return self.not_on_track_rule(principal, clinic_id)
