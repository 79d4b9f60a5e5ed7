"""Intake's nameko service: maps HTTP, RPC and events onto IntakeApplication."""
import json

from nameko.extensions import DependencyProvider

from shared.consumer import subscribers
from shared.errors import NotFound
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier, rpc
from shared.vocabulary import CONSENT_KINDS
from shared.web import caller_of, http, load_body, load_query, principal_of

from . import domain
from .application import IntakeApplication
from .schemas import (
    AcknowledgeRiskFlagSchema, AlertsQuery, AllianceSettingsSchema, AssessClientSchema, BreakGlassSchema,
    CareTeamMemberSchema, ChartQuery, ClinicListQuery, ClinicQuery, ConsentSchema,
    DateRangeQuery, DischargeSchema, ErasureRequestSchema, InstrumentDefinitionSchema, InstrumentQuery,
    NotOnTrackRuleSchema, OpenEpisodeSchema, RegisterClientSchema, RevokeConsentSchema,
    RateAllianceSchema, RiskFlagQuery, TrajectoryQuery, UpdateClientSchema)


class BreakGlassMinutes(DependencyProvider):
    """How long a break-glass grant opens a client's records (PRAXIS_BREAK_GLASS_MINUTES)."""

    def get_dependency(self, worker_ctx):
        return self.container.config.get("PRAXIS_BREAK_GLASS_MINUTES",
                                         domain.care_team.DEFAULT_BREAK_GLASS_MINUTES)


def named_scope(request):
    """[(name, value)] of every organisation_id and clinic_id the request names in its
    query string or JSON body. These only ever narrow a request (403 for one the token
    lacks, 404 for a record elsewhere); a record's own organisation and clinic always
    come from intake's store."""
    sources = [request.args]
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None  # load_body answers 400 later, once tenancy has been decided
    if isinstance(body, dict):
        sources.append(body)
    return [(name, str(source[name])) for source in sources
            for name in ("organisation_id", "clinic_id") if source.get(name) is not None]


# Other services' events: a handler per producer, from its subscription table.
class Service(CommonEndpoints, subscribers(IntakeApplication.subscriptions)):
    name = "intake"
    praxis = Praxis(IntakeApplication)
    verify = TokenVerifier()
    break_glass_minutes = BreakGlassMinutes()

    def _reach(self, request, client_id):
        """Tenancy first: for a client out of reach nothing else the request carries
        is read (404, or 403 for a clinic it names that the token lacks)."""
        self.praxis.reach_client(principal_of(request), client_id, named_scope(request))

    def _in_clinic(self, request, clinic_id):
        """A clinic's list: 403 for a clinic out of reach before its parameters count."""
        self.praxis.reach_clinic(principal_of(request), clinic_id, named_scope(request))

    # -- clients -----------------------------------------------------------
    @http("POST", "/clients", resource="client")
    def register_client(self, request):
        command = load_body(request, RegisterClientSchema())
        return 201, self.praxis.register_client(caller_of(request), command)

    @http("GET", "/clients", resource="client_directory")
    def client_directory(self, request):
        return self.praxis.directory(principal_of(request), load_query(request, ClinicQuery()))

    @http("GET", "/clients/<uuid:client_id>", resource="client")
    def get_client(self, request, client_id):
        self._reach(request, client_id)
        return self.praxis.client(principal_of(request), client_id)

    @http("GET", "/fhir/Patient/<uuid:client_id>/$everything", resource="fhir_record")
    def fhir_everything(self, request, client_id):
        self._reach(request, client_id)
        return self.praxis.fhir_everything(principal_of(request), client_id)

    @http("PATCH", "/clients/<uuid:client_id>", resource="client")
    def update_client(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, UpdateClientSchema())
        return self.praxis.update_client(caller_of(request), client_id, command)

    @http("GET", "/clients/<uuid:client_id>/consents", resource="consent")
    def get_consents(self, request, client_id):
        self._reach(request, client_id)
        return self.praxis.consents(principal_of(request), client_id)

    @http("POST", "/clients/<uuid:client_id>/consents", resource="consent")
    def give_consent(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, ConsentSchema())
        return 201, self.praxis.give_consent(caller_of(request), client_id, command)

    @http("POST", "/clients/<uuid:client_id>/consents/<kind>/revoke", resource="consent")
    def revoke_consent(self, request, client_id, kind):
        self._reach(request, client_id)
        if kind not in CONSENT_KINDS:
            raise NotFound(f"no consent kind {kind!r}; one of {', '.join(CONSENT_KINDS)}")
        command = load_body(request, RevokeConsentSchema())
        return self.praxis.revoke_consent(caller_of(request), client_id, kind, command)

    # -- episodes of care --------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/episodes", resource="episode", action="open")
    def open_episode(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, OpenEpisodeSchema())
        return 201, self.praxis.open_episode(caller_of(request), client_id, command)

    @http("POST", "/clients/<uuid:client_id>/discharge", resource="episode", action="discharge")
    def discharge(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, DischargeSchema())
        return self.praxis.discharge(caller_of(request), client_id, command)

    @http("POST", "/clients/<uuid:client_id>/erasure", resource="erasure", action="request")
    def request_erasure(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, ErasureRequestSchema())
        return self.praxis.request_erasure(caller_of(request), client_id, command)

    # -- measurement -------------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/assessments", resource="assessment")
    def assess_client(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, AssessClientSchema())
        return 201, self.praxis.assess_client(caller_of(request), client_id, command)

    @http("GET", "/clients/<uuid:client_id>/outcomes", resource="outcome")
    def trajectory(self, request, client_id):
        self._reach(request, client_id)
        return self.praxis.trajectory(principal_of(request), client_id,
                                      load_query(request, TrajectoryQuery()))

    @http("GET", "/clients/<uuid:client_id>/outcomes/<instrument>/chart", resource="outcome")
    def chart(self, request, client_id, instrument):
        self._reach(request, client_id)
        return self.praxis.chart(principal_of(request), client_id, instrument,
                                 load_query(request, ChartQuery()))

    @http("POST", "/clients/<uuid:client_id>/risk-flags/<uuid:flag_id>/acknowledge", resource="risk_flag")
    def acknowledge_risk_flag(self, request, client_id, flag_id):
        self._reach(request, client_id)
        command = load_body(request, AcknowledgeRiskFlagSchema())
        return self.praxis.acknowledge_risk_flag(caller_of(request), client_id, flag_id, command)

    # -- the alliance ----------------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/sessions/<uuid:session_id>/alliance",
          resource="alliance_rating")
    def rate_alliance(self, request, client_id, session_id):
        self._reach(request, client_id)
        command = load_body(request, RateAllianceSchema())
        return 201, self.praxis.rate_alliance(caller_of(request), client_id, session_id,
                                              command)

    @http("POST", "/clients/<uuid:client_id>/alliance-concerns/<uuid:flag_id>/acknowledge",
          resource="alliance_concern")
    def acknowledge_alliance_concern(self, request, client_id, flag_id):
        self._reach(request, client_id)
        command = load_body(request, AcknowledgeRiskFlagSchema())
        return self.praxis.acknowledge_alliance_concern(caller_of(request), client_id,
                                                        flag_id, command)

    @http("POST", "/clients/<uuid:client_id>/dropout-risks/<uuid:flag_id>/acknowledge",
          resource="alliance_concern")
    def acknowledge_dropout_risk(self, request, client_id, flag_id):
        self._reach(request, client_id)
        command = load_body(request, AcknowledgeRiskFlagSchema())
        return self.praxis.acknowledge_dropout_risk(caller_of(request), client_id,
                                                    str(flag_id), command)

    @http("GET", "/clinics/<clinic_id>/dropout-risks", resource="alliance_concern")
    def dropout_risks(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.dropout_risks(principal_of(request), clinic_id,
                                         load_query(request, RiskFlagQuery()))

    @http("GET", "/clinics/<clinic_id>/alliance-concerns", resource="alliance_concern")
    def alliance_concerns(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.alliance_concerns(principal_of(request), clinic_id,
                                             load_query(request, RiskFlagQuery()))

    @http("GET", "/clinics/<clinic_id>/alliance-settings", resource="clinic_settings")
    def get_alliance_settings(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.alliance_settings(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/alliance-settings", resource="clinic_settings")
    def set_alliance_settings(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        command = load_body(request, AllianceSettingsSchema())
        return self.praxis.set_alliance_settings(caller_of(request), clinic_id, command)

    # -- care team and break-glass (shared/care_team.py) ----------------------
    @http("GET", "/clients/<uuid:client_id>/care-team", resource="care_team")
    def get_care_team(self, request, client_id):
        self._reach(request, client_id)
        return self.praxis.care_team(principal_of(request), client_id)

    @http("POST", "/clients/<uuid:client_id>/care-team", resource="care_team")
    def add_care_team_member(self, request, client_id):
        self._reach(request, client_id)
        command = load_body(request, CareTeamMemberSchema())
        return 201, self.praxis.add_care_team_member(caller_of(request), client_id, command)

    @http("DELETE", "/clients/<uuid:client_id>/care-team/<clinician_id>", resource="care_team")
    def remove_care_team_member(self, request, client_id, clinician_id):
        self._reach(request, client_id)
        return self.praxis.remove_care_team_member(caller_of(request), client_id, clinician_id)

    @http("POST", "/clients/<uuid:client_id>/break-glass", resource="break_glass",
          action="grant")
    def break_glass(self, request, client_id):
        # No _reach: it would 404 a clinician outside the care team, who is who asks.
        command = load_body(request, BreakGlassSchema())
        return 201, self.praxis.grant_break_glass(caller_of(request), client_id, command,
                                                  self.break_glass_minutes)

    @http("GET", "/clinics/<clinic_id>/break-glass", resource="break_glass")
    def break_glass_grants(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.break_glass_grants(principal_of(request), clinic_id,
                                              load_query(request, ClinicListQuery()))

    # -- clinic lists --------------------------------------------------------
    @http("GET", "/clinics/<clinic_id>/reassessments/pending", resource="reassessment")
    def pending_reassessments(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.pending_reassessments(principal_of(request), clinic_id,
                                                 load_query(request, ClinicListQuery()))

    @http("GET", "/clinics/<clinic_id>/risk-flags", resource="risk_flag")
    def risk_flags(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.risk_flags(principal_of(request), clinic_id,
                                      load_query(request, RiskFlagQuery()))

    @http("GET", "/clinics/<clinic_id>/alerts", resource="outcome")
    def alerts(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.alerts(principal_of(request), clinic_id,
                                  load_query(request, AlertsQuery()))

    @http("GET", "/clinics/<clinic_id>/outcomes", resource="outcome")
    def clinic_outcomes(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.clinic_outcomes(principal_of(request), clinic_id,
                                           load_query(request, DateRangeQuery()))

    @http("GET", "/clinics/<clinic_id>/not-on-track-rule", resource="clinic_settings")
    def get_not_on_track_rule(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        return self.praxis.not_on_track_rule(principal_of(request), clinic_id)

    @http("PUT", "/clinics/<clinic_id>/not-on-track-rule", resource="clinic_settings")
    def set_not_on_track_rule(self, request, clinic_id):
        self._in_clinic(request, clinic_id)
        command = load_body(request, NotOnTrackRuleSchema())
        return self.praxis.set_not_on_track_rule(caller_of(request), clinic_id, command)

    # -- instruments ---------------------------------------------------------
    @http("GET", "/instruments", resource="instrument")
    def instruments(self, request):
        return self.praxis.instruments(principal_of(request))

    @http("GET", "/instruments/<code>", resource="instrument")
    def instrument(self, request, code):
        query = load_query(request, InstrumentQuery())
        return self.praxis.instrument(principal_of(request), code, query["version"])

    @http("POST", "/instruments", resource="instrument")
    def define_instrument(self, request):
        command = load_body(request, InstrumentDefinitionSchema())
        return 201, self.praxis.define_instrument(caller_of(request), command)

    # -- RPC -----------------------------------------------------------------
    @rpc(resource="client")
    def client(self, token, client_id):
        """RPC twin of GET /clients/<id>, for other systems inside the cluster."""
        return self.praxis.client(self.verify(token), client_id)

    @rpc(resource="outcome")
    def outcomes(self, token, client_id):
        """RPC twin of GET /clients/<id>/outcomes (the current episode)."""
        return self.praxis.trajectory(self.verify(token), client_id, {"episode_id": None})
