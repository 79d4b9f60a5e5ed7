"""Use cases of the alliance: a clinic's alliance settings, rating a held session
(the client after it, or a clinician), and acknowledging an alliance concern."""
from sqlalchemy import select

from shared import metrics
from shared.errors import NotFound
from shared.timeutil import iso, parse_time, utc_now

from ..domain import alliance
from ..queries.alliance import alliance_rule
from ..read_models import held_sessions
from .clients import load_client


class AllianceUseCases:
    def set_alliance_settings(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, clinic_id)
        new_events = alliance.set_settings(command, principal.user_id, iso(utc_now()))
        with self.store.unit_of_work() as uow:
            # A blind write, like the not-on-track rule: the PUT sets them outright.
            uow.append_blind(alliance.AllianceRule.stream_of(principal.organisation_id,
                                                             clinic_id),
                             caller.context(principal.organisation_id, clinic_id), new_events)
        return self.alliance_settings(principal, clinic_id)

    def rate_alliance(self, caller, client_id, session_id, command):
        """A client's token rates only their own sessions (visible_client); either way
        the session must be one scheduling says was held with this client."""
        with self.store.unit_of_work() as uow:
            record, _ = load_client(uow, caller.principal, client_id)
            session = uow.conn.execute(select(held_sessions).where(
                held_sessions.c.session_id == str(session_id),
                held_sessions.c.client_id == record["client_id"])).first()
            if session is None:
                raise NotFound("no held session with that id for this client (a session "
                               "is rated after scheduling records it held)",
                               {"session_id": ["not a held session of this client"]})
            rule, _ = alliance_rule(uow.conn, record["organisation_id"], record["clinic_id"])
            history = uow.get(alliance.ClientAlliance, record["client_id"])
            rated_by = "client" if caller.principal.role == "client" else "clinician"
            appended = uow.save(history, caller.context_of(record), alliance.rate_session(
                history, rule, {"session_id": session.session_id,
                                "session_number": session.session_number},
                command["item_scores"], rated_by, iso(utc_now())))
            if len(appended) > 1:  # a concern: with missed sessions, a dropout risk
                self.assess_dropout_risk(uow, record["client_id"], record["organisation_id"],
                                         record["clinic_id"], caller.context_of(record),
                                         parse_time(appended[1].data["flagged_at"]),
                                         appended[1].id)
            view = self.alliance_rating(uow.conn, session_id)
        if len(appended) > 1:
            metrics.ALLIANCE_CONCERNS_FLAGGED.labels(
                self.service, record["organisation_id"], record["clinic_id"]).inc()
        return view

    def acknowledge_alliance_concern(self, caller, client_id, flag_id, command):
        with self.store.unit_of_work() as uow:
            record, _ = load_client(uow, caller.principal, client_id)
            history = uow.get(alliance.ClientAlliance, record["client_id"])
            (event,) = uow.save(history, caller.context_of(record), alliance.acknowledge_concern(
                history, str(flag_id), caller.principal.user_id, command["action_taken"],
                iso(utc_now())))
        return event.data
