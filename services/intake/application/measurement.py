"""Use cases of measurement: assessments (with the risk flags, deterioration alerts and
not-on-track flags they raise), acknowledging a risk flag, and the reaction to
scheduling's sessions (the session limit of the clinic's not-on-track rule)."""
import uuid

from sqlalchemy import select

from shared.timeutil import iso, utc_now

from .. import domain
from ..queries import assessment_view
from ..read_models import assessments
from .clients import load_client


class MeasurementUseCases:
    def assess_client(self, caller, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            catalogue = uow.get(domain.InstrumentCatalogue, record["organisation_id"])
            rule = uow.get(domain.NotOnTrackRule, record["organisation_id"], record["clinic_id"])
            assessed_at = iso(command["assessed_at"] or utc_now())
            new_events = domain.assess(client, catalogue, rule, str(uuid.uuid4()),
                                       command["instrument"], command["answers"], assessed_at)
            appended = uow.save(client, caller.context_of(record), new_events)
            row = uow.conn.execute(select(assessments).where(
                assessments.c.assessment_id == appended[0].data["assessment_id"])).one()
        view = assessment_view(row._asdict())
        view["raised"] = [{"event": e.name, **{k: v for k, v in e.data.items()
                                                if k in ("flag_id", "rule", "reason", "rci")}}
                          for e in appended[1:]]
        return view

    def acknowledge_risk_flag(self, caller, client_id, flag_id, command):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            (event,) = uow.save(client, caller.context_of(record), domain.acknowledge_risk_flag(
                client, str(flag_id), caller.principal.user_id, command["action_taken"],
                iso(utc_now())))
        return event.data

    # -- reactions ---------------------------------------------------------
    def on_session_held(self, uow, event, context):
        """The session limit of the clinic's not-on-track rule may be reached."""
        client = uow.get(domain.Client, str(event.data["client_id"]))
        if not client.registered or (client.organisation_id, client.clinic_id) \
                != (event.organisationid, event.clinicid):
            return  # not this clinic's client (intake's record says where the client is)
        rule = uow.get(domain.NotOnTrackRule, client.organisation_id, client.clinic_id)
        uow.save(client, context, domain.session_held(
            client, rule, event.data["session_number"], iso(utc_now())))
