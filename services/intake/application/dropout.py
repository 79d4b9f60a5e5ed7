"""Use cases of the dropout-risk rule: assessed when a session is missed (scheduling's
late cancellation or no-show) and when an alliance concern is flagged; a clinician
acknowledges a flag with what was done."""
from sqlalchemy import select

from shared.timeutil import aware, iso, parse_time, utc_now

from .. import domain
from ..domain import dropout
from ..read_models import alliance_concerns
from ..queries.alliance import dropout_rule_of
from ..read_models.dropout import missed_sessions
from .clients import load_client


class DropoutRiskUseCases:
    def on_session_missed(self, uow, event, context):
        """A late cancellation by the client or a no-show may complete the rule."""
        data = event.data
        if event.name == "AppointmentCancelled" and not (
                data["late"] and data["cancelled_by"] == "client"):
            return
        client = uow.get(domain.Client, str(data["client_id"]))
        if not client.registered or (client.organisation_id, client.clinic_id) \
                != (event.organisationid, event.clinicid):
            return  # not this clinic's client
        at = data["cancelled_at"] if event.name == "AppointmentCancelled" \
            else data["recorded_at"]
        self.assess_dropout_risk(uow, client.client_id, client.organisation_id,
                                 client.clinic_id, context, parse_time(at), event.id)

    def assess_dropout_risk(self, uow, client_id, organisation_id, clinic_id, context, at,
                            trigger_id):
        conn = uow.conn
        rule = dropout_rule_of(conn, organisation_id, clinic_id)
        concerns = conn.execute(select(alliance_concerns.c.flag_id,
                                       alliance_concerns.c.flagged_at).where(
            alliance_concerns.c.client_id == client_id)).all()
        misses = conn.execute(select(missed_sessions.c.appointment_id, missed_sessions.c.kind,
                                     missed_sessions.c.missed_at).where(
            missed_sessions.c.client_id == client_id)).all()
        risk = uow.get(dropout.ClientDropoutRisk, client_id)
        return uow.save(risk, context, dropout.assess(
            risk, rule, [(r.flag_id, aware(r.flagged_at)) for r in concerns],
            [(r.appointment_id, r.kind, aware(r.missed_at)) for r in misses],
            at, trigger_id, iso(utc_now())))

    def acknowledge_dropout_risk(self, caller, client_id, flag_id, command):
        with self.store.unit_of_work() as uow:
            record, _ = load_client(uow, caller.principal, client_id)
            risk = uow.get(dropout.ClientDropoutRisk, record["client_id"])
            (event,) = uow.save(risk, caller.context_of(record), dropout.acknowledge(
                risk, str(flag_id), caller.principal.user_id, command["action_taken"],
                iso(utc_now())))
        return event.data
