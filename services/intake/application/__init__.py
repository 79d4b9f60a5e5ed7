"""Intake's use cases: each command is one unit of work (events + read models).

Commands load the client's stream, let the domain decide, and append what it
decided. Queries (the read side) live in queries.py. Which role may call each
is the access policy's (shared/access.py), checked before a request gets here.
"""
import uuid

from sqlalchemy import select

from shared import audit, metrics
from shared.application import Application
from shared.auth import ALL_CLINICS
from shared.envelope import Context
from shared.timeutil import iso, utc_now

from .. import domain
from ..queries import IntakeQueries, assessment_view, open_risk_flag_counts
from ..read_models import assessments, clients, projection
from ..subscriptions import SUBSCRIPTIONS

class IntakeApplication(IntakeQueries, Application):
    service = "intake"
    projection = projection
    subscriptions = SUBSCRIPTIONS

    # -- clients -----------------------------------------------------------
    def register_client(self, principal, correlation_id, command):
        principal.require_clinic(command["organisation_id"], command["clinic_id"])
        client_id, episode_id = str(uuid.uuid4()), str(uuid.uuid4())
        context = Context(command["organisation_id"], command["clinic_id"], correlation_id,
                          actor=principal.user_id)
        new_events = domain.register(client_id, episode_id, _details(command), iso(utc_now()))
        with self.store.unit_of_work() as uow:
            uow.append(domain.stream_of(client_id), 0, context, new_events)
        return {"client_id": client_id, "episode_id": episode_id}

    def update_client(self, principal, correlation_id, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            new_events = domain.update_details(client, _details(command), iso(utc_now()))
            if new_events:
                uow.append(domain.stream_of(client.client_id), client.version,
                           self._context(record, principal, correlation_id), new_events)
        return self.client(principal, client_id)

    def give_consent(self, principal, correlation_id, client_id, command):
        given_at = iso(command["given_at"] or utc_now())
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            new_events = domain.give_consent(client, command["kind"], command["document_version"],
                                             given_at, principal.user_id)
            uow.append(domain.stream_of(client.client_id), client.version,
                       self._context(record, principal, correlation_id), new_events)
        return self.consents(principal, client_id)

    def revoke_consent(self, principal, correlation_id, client_id, kind, command):
        revoked_at = iso(command["revoked_at"] or utc_now())
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            new_events = domain.revoke_consent(client, kind, revoked_at, principal.user_id)
            uow.append(domain.stream_of(client.client_id), client.version,
                       self._context(record, principal, correlation_id), new_events)
        return self.consents(principal, client_id)

    # -- episodes of care --------------------------------------------------
    def open_episode(self, principal, correlation_id, client_id, command):
        episode_id = str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            new_events = domain.open_episode(client, episode_id,
                                             iso(command["opened_at"] or utc_now()))
            uow.append(domain.stream_of(client.client_id), client.version,
                       self._context(record, principal, correlation_id), new_events)
        return {"client_id": client.client_id, "episode_id": episode_id, "status": "open"}

    def discharge(self, principal, correlation_id, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            (event,) = uow.append(
                domain.stream_of(client.client_id), client.version,
                self._context(record, principal, correlation_id),
                domain.discharge(client, command["reason"],
                                 iso(command["discharged_at"] or utc_now())))
        return {**event.data, "status": "discharged"}

    # -- measurement -------------------------------------------------------
    def assess_client(self, principal, correlation_id, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            catalogue = self._instruments_of(uow, record["organisation_id"])
            rule = self._rule_of(uow, record["organisation_id"], record["clinic_id"])
            assessed_at = iso(command["assessed_at"] or utc_now())
            new_events = domain.assess(client, catalogue, rule, str(uuid.uuid4()),
                                       command["instrument"], command["answers"], assessed_at)
            appended = uow.append(domain.stream_of(client.client_id), client.version,
                                  self._context(record, principal, correlation_id), new_events)
            row = uow.conn.execute(select(assessments).where(
                assessments.c.assessment_id == appended[0].data["assessment_id"])).one()
        view = assessment_view(row._asdict())
        view["raised"] = [{"event": e.name, **{k: v for k, v in e.data.items()
                                                if k in ("flag_id", "rule", "reason", "rci")}}
                          for e in appended[1:]]
        return view

    def acknowledge_risk_flag(self, principal, correlation_id, client_id, flag_id, command):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            (event,) = uow.append(
                domain.stream_of(client.client_id), client.version,
                self._context(record, principal, correlation_id),
                domain.acknowledge_risk_flag(client, str(flag_id), principal.user_id,
                                             command["action_taken"], iso(utc_now())))
        return event.data

    # -- care team and break-glass (shared/care_team.py) ---------------------
    def add_care_team_member(self, principal, correlation_id, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            new_events = domain.care_team.add_member(
                client, command["clinician_id"], principal.user_id, iso(utc_now()))
            if new_events:
                uow.append(domain.stream_of(client.client_id), client.version,
                           self._context(record, principal, correlation_id), new_events)
        return self.care_team(principal, client_id)

    def remove_care_team_member(self, principal, correlation_id, client_id, clinician_id):
        with self.store.unit_of_work() as uow:
            record, client = self._load(uow, principal, client_id)
            uow.append(domain.stream_of(client.client_id), client.version,
                       self._context(record, principal, correlation_id),
                       domain.care_team.remove_member(client, clinician_id, principal.user_id,
                                                      iso(utc_now())))
        return self.care_team(principal, client_id)

    def grant_break_glass(self, principal, correlation_id, client_id, command, minutes):
        """A clinician outside the care team opens the client's records for `minutes`."""
        with self.store.unit_of_work() as uow:
            # Tenancy still holds; the care team is what break-glass steps over.
            record, client = self._load(uow, principal, client_id, care_team=False)
            (event,) = uow.append(
                domain.stream_of(client.client_id), client.version,
                self._context(record, principal, correlation_id),
                domain.care_team.grant_break_glass(client, principal.user_id,
                                                   command["reason"], iso(utc_now()), minutes))
            audit.mark_break_glass()
        metrics.BREAK_GLASS.labels(self.service, record["organisation_id"],
                                   record["clinic_id"]).inc()
        return {key: event.data[key] for key in ("client_id", "clinician_id", "reason",
                                                 "granted_at", "expires_at")}

    # -- reference data ----------------------------------------------------
    def define_instrument(self, principal, correlation_id, command):
        """An organisation-wide definition: only an admin of every clinic may add one."""
        principal.require_clinic(principal.organisation_id, ALL_CLINICS)
        organisation_id = principal.organisation_id
        stream = domain.instruments_stream(organisation_id)
        context = Context(organisation_id, ALL_CLINICS, correlation_id, actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            events = uow.load(stream)
            catalogue = domain.InstrumentCatalogue.of_organisation(
                [e.data for e in events if e.name == "InstrumentDefined"])
            instrument, new_events = domain.define_instrument(
                catalogue, command, principal.user_id, iso(utc_now()))
            uow.append(stream, events[-1].sequence if events else 0, context, new_events)
        return self.instrument(principal, instrument.code, instrument.version)

    def set_not_on_track_rule(self, principal, correlation_id, clinic_id, command):
        principal.require_clinic(principal.organisation_id, clinic_id)
        rule = domain.NotOnTrackRule(command["reassessments_without_improvement"],
                                     command["sessions_without_improvement"],
                                     command["on_reliable_deterioration"])
        stream = domain.not_on_track_rule_stream(principal.organisation_id, clinic_id)
        context = Context(principal.organisation_id, clinic_id, correlation_id,
                          actor=principal.user_id)
        with self.store.unit_of_work() as uow:
            uow.append_blind(stream, context,
                             domain.set_not_on_track_rule(rule, principal.user_id, iso(utc_now())))
        return self.not_on_track_rule(principal, clinic_id)

    # -- reactions ---------------------------------------------------------
    def on_session_held(self, uow, event, context):
        """The session limit of the clinic's not-on-track rule may be reached."""
        client_id = str(event.data["client_id"])
        stream = domain.stream_of(client_id)
        client = domain.Client.from_events(client_id, uow.load(stream))
        if not client.registered or (client.organisation_id, client.clinic_id) \
                != (event.organisationid, event.clinicid):
            return  # not this clinic's client (intake's record says where the client is)
        rule = self._rule_of(uow, client.organisation_id, client.clinic_id)
        new_events = domain.session_held(client, rule, event.data["session_number"],
                                         iso(utc_now()))
        if new_events:
            uow.append(stream, client.version, context, new_events)

    def refresh_gauges(self):
        """praxis_risk_flags_open per clinic (what GET /clinics/{clinic}/risk-flags lists)."""
        with self.store.read() as conn:
            counts = open_risk_flag_counts(conn)
        values = self.set_practice_gauge(metrics.RISK_FLAGS_OPEN, counts)
        # Each clinic's break-glass counter exists from 0, so increase() sees a first grant.
        for organisation_id, clinic_id in values:
            metrics.BREAK_GLASS.labels(self.service, organisation_id, clinic_id)
        return values

    # -- helpers -------------------------------------------------------------
    def _load(self, uow, principal, client_id, care_team=True):
        """The client's row (tenancy, care team) and the Client its stream says it is."""
        client_id = str(client_id)
        row = uow.conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        record = principal.require_visible(row._asdict() if row else None, "client",
                                           care_team=care_team)
        principal.require_own_record(client_id)
        return record, domain.Client.from_events(client_id, uow.load(domain.stream_of(client_id)))

    @staticmethod
    def _context(record, principal, correlation_id):
        return Context(record["organisation_id"], record["clinic_id"], correlation_id,
                       actor=principal.user_id)

    @staticmethod
    def _instruments_of(uow, organisation_id):
        events = uow.load(domain.instruments_stream(organisation_id))
        return domain.InstrumentCatalogue.of_organisation(
            [e.data for e in events if e.name == "InstrumentDefined"])

    @staticmethod
    def _rule_of(uow, organisation_id, clinic_id):
        return domain.NotOnTrackRule.of_clinic(
            uow.load(domain.not_on_track_rule_stream(organisation_id, clinic_id)))


def _details(command):
    """Registration details in their event (JSON) form, only those given."""
    details = {name: command[name] for name in domain.DETAIL_FIELDS if name in command}
    if details.get("date_of_birth") is not None:
        details["date_of_birth"] = details["date_of_birth"].isoformat()
    return details
