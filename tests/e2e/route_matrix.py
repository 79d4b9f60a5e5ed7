"""The route matrix of issue 11: every HTTP route of the four services, found by
walking each nameko Service class for its JsonHttp entrypoints, x every role x
{own record, another clinic's, another organisation's, a made-up id} x {without,
with an extra clinic_id=<the caller's own clinic>}.

This module holds the tables and the expectation rules; test_route_matrix.py sets
the data up through the real APIs and runs the cases. A route without a row in
ROUTES, or a path variable without a sample in PARAMS, fails
test_every_route_has_a_case, so a new route cannot be missed.

Tenants: org-alpha clinic-1 (the caller's own), org-alpha clinic-2 (another clinic
of the same organisation), org-bravo clinic-1 (another organisation, with the SAME
clinic id: the sneaky case). The caller's token: org-alpha, clinics ["clinic-1"];
for role client its client_id is the own client; the clinician is the own client's
primary clinician (and holds their sessions), so the own record is reachable.
"""
import importlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from shared import access
from shared.auth import ROLES
from shared.config import SERVICES
from shared.web import routes

OWN, OTHER_CLINIC, OTHER_ORG, MADE_UP = "own", "other_clinic", "other_org", "made_up"
TARGETS = (OWN, OTHER_CLINIC, OTHER_ORG, MADE_UP)
# For a path with a record under another (a client's goal, a clinic's room, a
# clinician's feed): the caller's own parent with another clinic's or organisation's
# child. {mixed target: where the child comes from}.
MIXED = {"own_parent_other_clinic_child": OTHER_CLINIC,
         "own_parent_other_org_child": OTHER_ORG}
# Path variables that name no record of a tenant (a consent kind, an instrument code).
NOT_RECORDS = ("kind", "instrument")
VARIANTS = ("plain", "with_clinic_id")
ORG_A, ORG_B = "org-alpha", "org-bravo"
OWN_CLINIC = "clinic-1"
CALLER_CLINICS = (OWN_CLINIC,)
MADE_UP_CLINIC = "clinic-9"
CLINICAL = frozenset({"admin", "clinician"})
ANSWER_KEYS = frozenset({"answers", "answer"})

# The tenants the data set is made in: (organisation, clinic, short name).
TENANTS = {OWN: (ORG_A, "clinic-1", "a1"), OTHER_CLINIC: (ORG_A, "clinic-2", "a2"),
           OTHER_ORG: (ORG_B, "clinic-1", "b1")}
NAMES = {OWN: "Ada Owncase", OTHER_CLINIC: "Zelda Otherclinic", OTHER_ORG: "Yorick Otherorg"}
BIRTHS = {OWN: "1990-01-02", OTHER_CLINIC: "1931-05-17", OTHER_ORG: "1927-11-23"}


def canary(kind, tenant):
    return f"{kind}-canary-{TENANTS[tenant][2]}"


def today():
    return datetime.now(timezone.utc).date()


# -- the routes ------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    service: str
    method: str
    url: str
    public: bool
    resource: str
    action: str

    @property
    def key(self):
        return (self.service, self.method, self.url)

    @property
    def params(self):
        return [m.group(2) for m in re.finditer(r"<(?:(\w+):)?(\w+)>", self.url)]

    @property
    def reads(self):
        return self.method == "GET"

    def __str__(self):
        return f"{self.service} {self.method} {self.url}"


def service_class(service):
    module = importlib.import_module(f"services.{service}.service")
    (cls,) = [value for value in vars(module).values()
              if isinstance(value, type) and getattr(value, "name", None) == service
              and hasattr(value, "praxis")]
    return cls


def all_routes():
    """Every JsonHttp entrypoint of every service class, as the services declare it."""
    found = []
    for service in SERVICES:
        for _name, entrypoint in routes(service_class(service)):
            found.append(Route(service, entrypoint.method, entrypoint.url, entrypoint.public,
                               entrypoint.resource, entrypoint.action))
    return found


# -- path variables: which sample of the data set each one takes -----------------------
# PARAMS[name] is the data set's key for that variable (by URL prefix where one name
# means two things).
PARAMS = {
    "client_id": "client_id", "clinic_id": "clinic_id", "appointment_id": "appointment_id",
    "series_id": "series_id", "charge_id": "charge_id", "invoice_id": "invoice_id",
    "goal_id": "goal_id", "homework_id": "homework_id", "entry_id": "entry_id",
    "message_id": "message_id",
    "flag_id": "flag_id", "clinician_id": "clinician_id", "feed_id": "feed_id",
    "room_id": "room_id", "code": "instrument_code", "kind": "consent_kind",
    "instrument": "instrument", "session_id": "session_id",
    "note_id": {"/notes/": "note_id", "/psychotherapy-notes/": "psychotherapy_note_id"},
}
# A clinician named under a client's path is a member of that client's care team.
PARAMS["clinician_id"] = {"/clients/": "care_member_id", "/": "clinician_id"}
PARAMS["flag_id"] = {"/clients/<uuid:client_id>/alliance-concerns/": "alliance_flag_id",
                     "/clients/<uuid:client_id>/dropout-risks/": "alliance_flag_id",
                     "/": "flag_id"}


def sample_key(url, name):
    key = PARAMS.get(name)
    if isinstance(key, dict):
        for prefix, value in key.items():
            if url.startswith(prefix):
                return value
        return None
    return key


# -- what each route is sent ------------------------------------------------------------
# `query` and `body` take the target's samples (a dict) and answer the query
# parameters and the JSON body. `carrier`: the route names no record in its path but
# in its query or body, so it runs for every target (else only for own).
# `foreign`: statuses besides 404 (and 403 for a clinic the token lacks) that a
# foreign or made-up target may get, with why. `own`: statuses an allowed role may
# get for its own record besides 2xx (reads) or 2xx/400/409/422 (writes), by role.
@dataclass(frozen=True)
class Spec:
    query: object = None
    body: object = None
    carrier: bool = False
    foreign: object = frozenset()   # a set for every foreign target, or {target: set}
    own: dict = field(default_factory=dict)
    foreign_by_role: dict = field(default_factory=dict)  # role -> statuses, any foreign target
    why: str = ""
    upsert: bool = False  # makes a record by the name in its path: runs after other writes

    def foreign_for(self, target, role):
        found = set(self.foreign.get(target, ()) if isinstance(self.foreign, dict)
                    else self.foreign)
        return found | set(self.foreign_by_role.get(role, ()))


def _s(**kwargs):
    return Spec(**kwargs)


def _future(days=14, hour=10):
    start = datetime.combine(today() + timedelta(days=days), datetime.min.time(),
                             tzinfo=timezone.utc) + timedelta(hours=hour)
    return start.isoformat()


def _booking(s, days, **extra):
    return {"organisation_id": s["organisation_id"], "clinic_id": s["clinic_id"],
            "client_id": s["client_id"], "clinician_id": s["clinician_id"],
            "start": _future(days), "duration_minutes": 50, "modality": "video",
            "override_working_hours": True, **extra}


def _period():
    return {"from": str(today() - timedelta(days=60)), "to": str(today() + timedelta(days=60))}


PROFILE = {"name": "Praxis Clinic", "npi": "1234567893", "tax_id": "12-3456789",
           "address": "1 Main St", "phone": "555-0100"}
INSTRUMENT = {"code": "MATRIX-2", "name": "Matrix two-item", "items": ["One?", "Two?"],
              "lowest": 0, "highest": 3, "bands": [{"low": 0, "high": 6, "label": "any"}],
              "cut_off": 3, "sd": 1.5, "reliability": 0.8}
UPSERT = "a PUT naming a clinician by id makes that clinician's record in the caller's own " \
         "organisation and clinic (ids are per organisation): not another tenant's record"

ROUTES = {
    # -- every service ---------------------------------------------------------------
    **{(svc, "GET", "/events"): _s(query=lambda s: {"limit": 1000}) for svc in SERVICES},
    **{(svc, "GET", "/audit/accesses"): _s(
        query=lambda s: {"client_id": s["client_id"]}, carrier=True,
        foreign={200}, why="the trail filtered by a client id out of reach is an empty "
                           "page of the caller's own rows")
       for svc in SERVICES},
    **{(svc, "GET", path): _s() for svc in SERVICES
       for path in ("/metrics", "/healthz", "/livez", "/readyz", "/openapi.json",
                    "/asyncapi.json")},
    # -- intake ----------------------------------------------------------------------
    ("intake", "GET", "/clients"): _s(
        query=lambda s: {"clinic_id": s["clinic_id"]}, carrier=True),
    ("intake", "POST", "/clients"): _s(
        body=lambda s: {"organisation_id": s["organisation_id"], "clinic_id": s["clinic_id"],
                        "name": "Matrix Newcomer", "date_of_birth": "1985-06-07",
                        "contact": {"email": "newcomer@example.org"}}, carrier=True,
        foreign={403}, why="registering names the organisation and clinic to act in"),
    ("intake", "GET", "/clients/<uuid:client_id>"): _s(),
    ("intake", "PATCH", "/clients/<uuid:client_id>"): _s(
        body=lambda s: {"preferred_name": "Addie"}),
    ("intake", "GET", "/clients/<uuid:client_id>/consents"): _s(),
    ("intake", "POST", "/clients/<uuid:client_id>/consents"): _s(
        body=lambda s: {"kind": "telehealth", "document_version": "v2"}),
    ("intake", "POST", "/clients/<uuid:client_id>/consents/<kind>/revoke"): _s(body=lambda s: {}),
    ("intake", "POST", "/clients/<uuid:client_id>/discharge"): _s(
        body=lambda s: {"reason": "planned_ending"}),
    ("intake", "POST", "/clients/<uuid:client_id>/episodes"): _s(body=lambda s: {}),
    # The own client is in care (and retained for years after): refused with 409, so
    # the matrix's data set is never erased under the other cases.
    ("intake", "POST", "/clients/<uuid:client_id>/erasure"): _s(
        body=lambda s: {"legal_basis": "objection", "reason": "the client objects"}),
    ("intake", "POST", "/clients/<uuid:client_id>/assessments"): _s(
        body=lambda s: {"instrument": "GAD-7", "answers": [1, 1, 1, 1, 1, 1, 1]}),
    ("intake", "GET", "/clients/<uuid:client_id>/outcomes"): _s(),
    ("intake", "GET", "/clients/<uuid:client_id>/outcomes/<instrument>/chart"): _s(),
    ("intake", "POST", "/clients/<uuid:client_id>/risk-flags/<uuid:flag_id>/acknowledge"): _s(
        body=lambda s: {"action_taken": "called the client"}),
    ("intake", "POST", "/clients/<uuid:client_id>/sessions/<uuid:session_id>/alliance"): _s(
        body=lambda s: {"item_scores": [9, 9, 9, 9]}),
    ("intake", "POST",
     "/clients/<uuid:client_id>/alliance-concerns/<uuid:flag_id>/acknowledge"): _s(
        body=lambda s: {"action_taken": "talked about the rupture"}),
    ("intake", "GET", "/clinics/<clinic_id>/alliance-concerns"): _s(
        query=lambda s: {"status": "all"}),
    ("intake", "POST",
     "/clients/<uuid:client_id>/dropout-risks/<uuid:flag_id>/acknowledge"): _s(
        body=lambda s: {"action_taken": "called about the missed sessions"},
        own={"admin": {404}, "clinician": {404}},
        why="the data set has no dropout risk: its sample is the own client's alliance "
            "concern id, which is no dropout risk of theirs (404)"),
    ("intake", "GET", "/clinics/<clinic_id>/dropout-risks"): _s(
        query=lambda s: {"status": "all"}),
    ("intake", "GET", "/clinics/<clinic_id>/alliance-settings"): _s(),
    ("intake", "PUT", "/clinics/<clinic_id>/alliance-settings"): _s(
        body=lambda s: {"instrument": "SRS", "every_sessions": 1, "drop_points": 5}),
    ("intake", "GET", "/clients/<uuid:client_id>/care-team"): _s(),
    ("intake", "GET", "/fhir/Patient/<uuid:client_id>/$everything"): _s(),
    ("intake", "POST", "/clients/<uuid:client_id>/care-team"): _s(
        body=lambda s: {"clinician_id": "clin-matrix"}),
    ("intake", "DELETE", "/clients/<uuid:client_id>/care-team/<clinician_id>"): _s(
        own={"admin": {404}}, why="the member is removed by the first case; after it 404"),
    ("intake", "POST", "/clients/<uuid:client_id>/break-glass"): _s(
        body=lambda s: {"reason": "matrix: on call, client in crisis"}),
    ("intake", "GET", "/clinics/<clinic_id>/break-glass"): _s(),
    ("intake", "GET", "/clinics/<clinic_id>/alerts"): _s(),
    ("intake", "GET", "/clinics/<clinic_id>/not-on-track-rule"): _s(),
    ("intake", "PUT", "/clinics/<clinic_id>/not-on-track-rule"): _s(
        body=lambda s: {"reassessments_without_improvement": 2,
                        "sessions_without_improvement": None,
                        "on_reliable_deterioration": True}),
    ("intake", "GET", "/clinics/<clinic_id>/outcomes"): _s(),
    ("intake", "GET", "/clinics/<clinic_id>/reassessments/pending"): _s(),
    ("intake", "GET", "/clinics/<clinic_id>/risk-flags"): _s(query=lambda s: {"status": "all"}),
    ("intake", "GET", "/instruments"): _s(),
    ("intake", "POST", "/instruments"): _s(
        body=lambda s: dict(INSTRUMENT),
        own={"admin": {403}}, why="only an organisation-wide admin defines an instrument; "
                                  "the caller's token has clinic-1 only"),
    ("intake", "GET", "/instruments/<code>"): _s(),
    # -- scheduling --------------------------------------------------------------------
    ("scheduling", "GET", "/clinics/<clinic_id>"): _s(),
    ("scheduling", "PUT", "/clinics/<clinic_id>"): _s(body=lambda s: {"name": "Clinic one"}),
    ("scheduling", "POST", "/clinics/<clinic_id>/rooms"): _s(body=lambda s: {"name": "Room"}),
    ("scheduling", "GET", "/clinics/<clinic_id>/rooms/<room_id>/occupancy"): _s(
        query=lambda s: {"date": str(today())}),
    ("scheduling", "GET", "/clinicians/<clinician_id>"): _s(),
    ("scheduling", "PUT", "/clinicians/<clinician_id>"): _s(
        body=lambda s: {"name": "Dr Matrix", "clinic_ids": [OWN_CLINIC]},
        foreign={OTHER_CLINIC: {403}, OTHER_ORG: {200, 201}, MADE_UP: {200, 201}}, upsert=True,
        why=UPSERT + "; a clinician of another clinic is 403 (not one of your clinics)"),
    ("scheduling", "GET", "/clinicians/<clinician_id>/calendar-feeds"): _s(
        own={"front_desk": {403}}, foreign_by_role={"front_desk": {403}},
        why="only the clinician themself or an admin lists feeds (checked before the "
            "clinician is looked up)"),
    ("scheduling", "POST", "/clinicians/<clinician_id>/calendar-feeds"): _s(
        body=lambda s: {}, foreign_by_role={"clinician": {403}},
        why="a clinician issues their own feeds only (checked before the clinician is "
            "looked up)"),
    ("scheduling", "DELETE", "/clinicians/<clinician_id>/calendar-feeds/<uuid:feed_id>"): _s(
        foreign_by_role={"clinician": {403}},
        why="a clinician manages their own feeds only (checked before the feed is looked up)"),
    ("scheduling", "GET", "/clinicians/<clinician_id>/calendar.ics"): _s(
        query=lambda s: {"feed_token": s["caller_feed_token"]}),
    ("scheduling", "GET", "/clinicians/<clinician_id>/day"): _s(
        query=lambda s: {"date": str(today() + timedelta(days=7))}),
    ("scheduling", "GET", "/clinicians/<clinician_id>/week"): _s(
        query=lambda s: {"date": str(today() + timedelta(days=7))}),
    ("scheduling", "POST", "/appointments"): _s(
        body=lambda s: _booking(s, 21), carrier=True, foreign={403, 422},
        why="a booking names its clinic (403 out of reach) and client (422 client_id "
            "unknown)"),
    ("scheduling", "GET", "/appointments/<uuid:appointment_id>"): _s(),
    ("scheduling", "POST", "/appointments/<uuid:appointment_id>/reschedule"): _s(
        body=lambda s: {"start": _future(8), "override_working_hours": True}),
    ("scheduling", "POST", "/appointments/<uuid:appointment_id>/cancel"): _s(
        body=lambda s: {"cancelled_by": "client" if s["role"] == "client" else "clinic",
                        "reason": "matrix"}),
    ("scheduling", "POST", "/appointments/<uuid:appointment_id>/check-in"): _s(),
    ("scheduling", "POST", "/appointments/<uuid:appointment_id>/no-show"): _s(),
    ("scheduling", "POST", "/appointments/<uuid:appointment_id>/held"): _s(
        body=lambda s: {"minutes": 50}),
    ("scheduling", "POST", "/series"): _s(
        body=lambda s: {**_booking(s, 35), "frequency": "weekly", "count": 2}, carrier=True,
        foreign={403, 422}, why="a series names its clinic and client, as a booking does"),
    ("scheduling", "GET", "/series/<uuid:series_id>"): _s(),
    ("scheduling", "POST", "/series/<uuid:series_id>/end"): _s(body=lambda s: {}),
    ("scheduling", "GET", "/clients/<uuid:client_id>/appointments"): _s(),
    ("scheduling", "GET", "/fhir/Patient/<uuid:client_id>/$everything"): _s(),
    ("scheduling", "GET", "/clients/<uuid:client_id>/appointments/upcoming"): _s(),
    ("scheduling", "GET", "/clinics/<clinic_id>/attendance"): _s(
        query=lambda s: {"from": str(today() - timedelta(days=60)), "to": str(today())}),
    ("scheduling", "GET", "/clinics/<clinic_id>/reassessments"): _s(),
    ("scheduling", "GET", "/clinics/<clinic_id>/reassessment-policy"): _s(),
    ("scheduling", "PUT", "/clinics/<clinic_id>/reassessment-policy"): _s(
        body=lambda s: {"every_sessions": 4}),
    ("scheduling", "GET", "/clients/<uuid:client_id>/reassessment-policy"): _s(),
    ("scheduling", "PUT", "/clients/<uuid:client_id>/reassessment-policy"): _s(
        body=lambda s: {"every_sessions": 6}),
    # -- notes ---------------------------------------------------------------------------
    ("notes", "GET", "/clients/<uuid:client_id>/chart"): _s(),
    ("notes", "GET", "/fhir/Patient/<uuid:client_id>/$everything"): _s(),
    ("notes", "PUT", "/clients/<uuid:client_id>/diagnoses"): _s(
        body=lambda s: {"codes": ["F32.1"]}),
    ("notes", "POST", "/clients/<uuid:client_id>/goals"): _s(
        body=lambda s: {"description": "A matrix goal", "target_date": "2027-06-01"}),
    ("notes", "PATCH", "/clients/<uuid:client_id>/goals/<uuid:goal_id>"): _s(
        body=lambda s: {"target_date": "2027-07-01"}),
    ("notes", "POST", "/clients/<uuid:client_id>/goals/<uuid:goal_id>/ratings"): _s(
        body=lambda s: {"level": 0}),
    ("notes", "POST", "/clients/<uuid:client_id>/goals/<uuid:goal_id>/status"): _s(
        body=lambda s: {"status": "on_hold"}),
    ("notes", "GET", "/clients/<uuid:client_id>/homework"): _s(),
    ("notes", "POST", "/clients/<uuid:client_id>/homework"): _s(
        body=lambda s: {"goal_id": s["goal_id"], "instructions": "Matrix homework",
                        "due_date": str(today() + timedelta(days=7))}),
    ("notes", "POST", "/clients/<uuid:client_id>/homework/<uuid:homework_id>/done"): _s(
        body=lambda s: {"reflection": "done it"}),
    ("notes", "GET", "/clients/<uuid:client_id>/journal"): _s(),
    ("notes", "POST", "/clients/<uuid:client_id>/journal"): _s(
        body=lambda s: {"mood": 5, "text": "matrix entry"}),
    ("notes", "PUT", "/clients/<uuid:client_id>/journal/<uuid:entry_id>/sharing"): _s(
        body=lambda s: {"shared": True}),
    ("notes", "GET", "/clients/<uuid:client_id>/messages"): _s(),
    ("notes", "POST", "/clients/<uuid:client_id>/messages"): _s(
        body=lambda s: {"text": "matrix message"}),
    ("notes", "POST", "/clients/<uuid:client_id>/messages/<uuid:message_id>/read"): _s(),
    ("notes", "POST", "/clients/<uuid:client_id>/messages/<uuid:message_id>/flag"): _s(),
    ("notes", "GET", "/clinicians/<clinician_id>/messages/unread"): _s(
        foreign={200}, foreign_by_role={"clinician": {403}},
        why="a clinician id is a name, not a record: anybody's unread messages are those "
            "at the token's clinics, an empty list for another tenant's clinician; a "
            "clinician sees their own only (403)"),
    ("notes", "GET", "/clinics/<clinic_id>/messaging-settings"): _s(),
    ("notes", "PUT", "/clinics/<clinic_id>/messaging-settings"): _s(
        body=lambda s: {"time_zone": "Europe/London", "crisis_line": "Call 988",
                        "office_hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}]}),
    ("notes", "GET", "/clients/<uuid:client_id>/notes"): _s(),
    ("notes", "GET", "/clients/<uuid:client_id>/plan"): _s(),
    ("notes", "PUT", "/clients/<uuid:client_id>/stage"): _s(body=lambda s: {"stage": "change"}),
    ("notes", "PUT", "/clients/<uuid:client_id>/approach"): _s(
        body=lambda s: {"approaches": ["systemic"]}),
    ("notes", "GET", "/notes/<uuid:note_id>/interventions"): _s(),
    ("notes", "PUT", "/notes/<uuid:note_id>/interventions"): _s(
        body=lambda s: {"interventions": ["exposure"]},
        own={"admin": {403}}, why="only the clinician who held the session records its "
                                  "interventions"),
    ("notes", "GET", "/therapy-vocabulary"): _s(),
    ("notes", "PUT", "/therapy-vocabulary"): _s(
        body=lambda s: {"approaches": [], "interventions": []},
        own={"admin": {403}}, why="only an organisation-wide admin sets the vocabulary; the "
                                  "caller's token has clinic-1 only"),
    ("notes", "GET", "/clinicians/<clinician_id>/notes-due"): _s(
        foreign={200}, foreign_by_role={"clinician": {403}},
        why="a clinician id is a name, not a record: anybody's notes due are those at the "
            "token's clinics, an empty list for another tenant's clinician; a clinician "
            "sees their own only (403)"),
    ("notes", "GET", "/clinicians/<clinician_id>/supervision"): _s(
        foreign={OTHER_ORG: {200}, MADE_UP: {200}},
        why="a clinician without supervision set in the caller's organisation reads as the "
            "default (not pre-licensed); one set in another clinic is 404"),
    ("notes", "PUT", "/clinicians/<clinician_id>/supervision"): _s(
        body=lambda s: {"pre_licensed": False, "clinic_id": OWN_CLINIC},
        foreign={200, 201}, upsert=True, why=UPSERT),
    ("notes", "GET", "/clinics/<clinic_id>/note-deadline"): _s(),
    ("notes", "PUT", "/clinics/<clinic_id>/note-deadline"): _s(
        body=lambda s: {"deadline_hours": 72}),
    ("notes", "GET", "/notes/<uuid:note_id>"): _s(),
    ("notes", "POST", "/notes/<uuid:note_id>/addenda"): _s(body=lambda s: {"text": "addendum"}),
    ("notes", "POST", "/notes/<uuid:note_id>/cosign"): _s(),
    ("notes", "PUT", "/notes/<uuid:note_id>/draft"): _s(
        body=lambda s: {"format": "DAP", "sections": {"data": "matrix data"}},
        own={"admin": {403}}, why="only the clinician who held the session writes its note"),
    ("notes", "POST", "/notes/<uuid:note_id>/sign"): _s(
        body=lambda s: {}, own={"admin": {403}},
        why="only the clinician who held the session signs its note"),
    ("notes", "GET", "/psychotherapy-notes"): _s(
        query=lambda s: {"client_id": s["client_id"]}, carrier=True),
    ("notes", "POST", "/psychotherapy-notes"): _s(
        body=lambda s: {"client_id": s["client_id"], "text": "matrix private note"},
        carrier=True, foreign={422}, why="a client out of reach named in the body"),
    ("notes", "GET", "/psychotherapy-notes/<uuid:note_id>"): _s(),
    ("notes", "PUT", "/psychotherapy-notes/<uuid:note_id>"): _s(
        body=lambda s: {"text": "revised private note"}),
    # -- billing -------------------------------------------------------------------------
    ("billing", "GET", "/charges"): _s(
        query=lambda s: {"clinic_id": s["clinic_id"], "client_id": s["client_id"]},
        carrier=True,
        foreign={200}, why="a list filtered by a client out of reach is empty"),
    ("billing", "GET", "/charges/<uuid:charge_id>"): _s(),
    ("billing", "POST", "/charges/<uuid:charge_id>/add-ons"): _s(
        body=lambda s: {"code": "90785"}),
    ("billing", "GET", "/clients/<uuid:client_id>/balance"): _s(),
    ("billing", "GET", "/fhir/Patient/<uuid:client_id>/$everything"): _s(),
    ("billing", "POST", "/clients/<uuid:client_id>/invoices"): _s(
        body=lambda s: {"period_start": str(today() - timedelta(days=60)),
                        "period_end": str(today() + timedelta(days=60))}),
    ("billing", "GET", "/clients/<uuid:client_id>/ledger"): _s(),
    ("billing", "POST", "/clients/<uuid:client_id>/payments"): _s(
        body=lambda s: {"amount_minor": 1000, "currency": "USD", "method": "card"}),
    ("billing", "POST", "/clients/<uuid:client_id>/refunds"): _s(
        body=lambda s: {"amount_minor": 100, "currency": "USD", "method": "card",
                        "reason": "matrix"}),
    ("billing", "PUT", "/clients/<uuid:client_id>/sliding-scale"): _s(
        body=lambda s: {"percent": 10, "starts_on": str(today())}),
    ("billing", "GET", "/clients/<uuid:client_id>/superbill"): _s(query=lambda s: _period()),
    ("billing", "GET", "/clients/<uuid:client_id>/superbill.pdf"): _s(query=lambda s: _period()),
    ("billing", "GET", "/clinics/<clinic_id>/billing-policy"): _s(),
    ("billing", "PUT", "/clinics/<clinic_id>/billing-policy"): _s(body=lambda s: {}),
    ("billing", "PUT", "/clinics/<clinic_id>/billing-profile"): _s(body=lambda s: dict(PROFILE)),
    ("billing", "GET", "/clinics/<clinic_id>/billing-profiles"): _s(),
    ("billing", "PUT", "/clinics/<clinic_id>/clinicians/<clinician_id>/billing-profile"): _s(
        body=lambda s: {"name": "Dr Matrix", "npi": "1245319599"},
        foreign={200, 201}, upsert=True, why=UPSERT),
    ("billing", "GET", "/clinics/<clinic_id>/fee-schedule"): _s(),
    ("billing", "PUT", "/clinics/<clinic_id>/fee-schedule"): _s(
        body=lambda s: {"currency": "USD", "prices": {"90834": 12000, "90837": 16000,
                                                      "96127": 500, "90785": 2000}}),
    ("billing", "GET", "/clinics/<clinic_id>/receivables"): _s(),
    ("billing", "GET", "/clinics/<clinic_id>/revenue"): _s(),
    ("billing", "GET", "/clinics/<clinic_id>/unbilled"): _s(),
    ("billing", "GET", "/invoices"): _s(
        query=lambda s: {"client_id": s["client_id"]}, carrier=True,
        foreign={200}, why="a list filtered by a client out of reach is empty"),
    ("billing", "GET", "/invoices/<uuid:invoice_id>"): _s(),
    ("billing", "POST", "/invoices/<uuid:invoice_id>/issue"): _s(),
    ("billing", "POST", "/invoices/<uuid:invoice_id>/void"): _s(
        body=lambda s: {"reason": "matrix"}),
    ("billing", "POST", "/invoices/<uuid:invoice_id>/write-offs"): _s(
        body=lambda s: {"reason": "matrix"}),
}


# -- the cases ---------------------------------------------------------------------------
@dataclass
class Case:
    route: Route
    role: str
    target: str
    variant: str
    path: str = ""
    query: dict = None
    body: object = None
    same_as_own: bool = False
    samples: dict = None

    @property
    def name(self):
        return f"{self.route} role={self.role} target={self.target} {self.variant}"

    def request_text(self):
        return self.path + json.dumps(self.query or {}) + json.dumps(self.body)


def children(route):
    """The record variables of a path below its first one (e.g. a client's goal)."""
    return [p for p in route.params[1:] if p not in NOT_RECORDS]


def targets_of(route):
    spec = ROUTES[route.key]
    found = TARGETS if route.params or spec.carrier else (OWN,)
    return found + tuple(MIXED) if children(route) else found


def samples_of(route, target, samples):
    if target not in MIXED:
        return samples[target]
    mixed = dict(samples[OWN])
    for name in children(route):
        key = sample_key(route.url, name)
        mixed[key] = samples[MIXED[target]][key]
    return mixed


def roles_of(route):
    return ("none",) if route.public else ROLES


def build(route, role, target, variant, samples):
    """The request of one case: path, query and body from the target's samples."""
    spec = ROUTES[route.key]
    s = {**samples_of(route, target, samples), "role": role}
    path = route.url
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", route.url):
        path = path.replace(match.group(0), str(s[sample_key(route.url, match.group(2))]))
    query = dict(spec.query(s)) if spec.query else {}
    body = spec.body(s) if spec.body else None
    if variant == "with_clinic_id":
        query["clinic_id"] = OWN_CLINIC
        if route.method in ("POST", "PUT", "PATCH") and isinstance(body, dict):
            body = {**body, "clinic_id": OWN_CLINIC}
    return Case(route, role, target, variant, path, query, body, samples=s)


def cases_of(route, samples, roles=None):
    """Every case of one route: roles x targets x variants, own first."""
    found = []
    for role in roles or roles_of(route):
        for variant in VARIANTS:
            own = build(route, role, OWN, variant, samples)
            for target in targets_of(route):
                case = build(route, role, target, variant, samples)
                case.same_as_own = target != OWN and case.request_text() == own.request_text()
                found.append(case)
    return found


def named_clinics(case, samples):
    """The clinic ids the request names: in its path, its query or its body."""
    found = []
    if "clinic_id" in case.route.params:
        found.append(case.samples["clinic_id"])
    for source in (case.query or {}, case.body if isinstance(case.body, dict) else {}):
        if source.get("clinic_id"):
            found.append(source["clinic_id"])
    return found


# -- what a case must answer -------------------------------------------------------------
@dataclass
class Expectation:
    statuses: frozenset      # the statuses allowed (2xx given as 200..299 members)
    why: str


SUCCESS = frozenset(range(200, 300))
WRITE_REFUSALS = frozenset({400, 409, 422})


def expected(case, samples):
    route, role = case.route, case.role
    spec = ROUTES[route.key]
    if route.public:
        return None  # checked by the public-route rules in the test
    decision = access.decide(role, route.resource, route.action)
    if decision == access.DENY:
        return Expectation(frozenset({403}), f"policy: {role} may not {route.action} "
                                             f"{route.resource}")
    if decision == access.CONCEAL:
        status = 404 if "<" in route.url else 403
        return Expectation(frozenset({status}), f"policy conceals {route.resource}")
    if any(c not in CALLER_CLINICS for c in named_clinics(case, samples)):
        return Expectation(frozenset({403}), "the request names a clinic the token lacks")
    if case.target == OWN or case.same_as_own:
        allowed = set(SUCCESS)
        if not route.reads:
            allowed |= WRITE_REFUSALS
        allowed |= spec.own.get(role, set())
        return Expectation(frozenset(allowed), "own record, role allowed"
                           + (f"; {spec.why}" if spec.own.get(role) else ""))
    extra = spec.foreign_for(case.target, role)
    return Expectation(frozenset({404} | extra), f"{case.target} record: not found"
                       + (f" ({spec.why})" if extra else ""))


def extra_clinic_refused(case, response):
    """In the with_clinic_id variant, a schema that takes no clinic_id answers 422
    naming it: validation of the extra parameter, acceptable for every target."""
    if case.variant != "with_clinic_id" or response.status_code != 422:
        return False
    try:
        fields = response.json().get("fields") or {}
    except ValueError:
        return False
    return "clinic_id" in json.dumps(fields)


# -- what a response must not contain ------------------------------------------------------
def foreign_strings(samples):
    """Identifiers and text of the other two tenants (and nothing of the caller's)."""
    found = set()
    for target in (OTHER_CLINIC, OTHER_ORG):
        s = samples[target]
        for key in ("client_id", "appointment_id", "series_id", "charge_id", "invoice_id",
                    "goal_id", "homework_id", "entry_id", "message_id", "flag_id", "note_id",
                    "session_id", "alliance_flag_id",
                    "psychotherapy_note_id", "feed_id", "room_id", "clinician_id",
                    "care_member_id",
                    "admin_user"):
            if s.get(key):
                found.add(str(s[key]))
        found |= {NAMES[target], BIRTHS[target]}
        found |= {canary(kind, target) for kind in CANARY_KINDS}
    found.add(ORG_B)
    return found


CANARY_KINDS = ("note", "psycho", "goal", "homework", "journal", "message")


def forbidden_own(case):
    """The caller's own tenant's text its role may not see, wherever it is."""
    role = case.role
    found = set()
    if role not in CLINICAL:
        found.add(canary("note", OWN))
    if not (role == "clinician" and case.route.url.startswith("/psychotherapy-notes")):
        found.add(canary("psycho", OWN))
    if role in ("front_desk", "billing", "integrator", "privacy_officer", "none"):
        found |= {canary("goal", OWN), canary("homework", OWN), canary("journal", OWN),
                  canary("message", OWN)}
    return found


# Documents of the API and its events: their keys name the fields of schemas (an
# assessment's "answers"), they carry no record.
DOCUMENTS = ("/openapi.json", "/asyncapi.json")


def hidden_keys(case):
    if case.route.url in DOCUMENTS:
        return set()
    if case.route.public:
        return ANSWER_KEYS
    keys = set(access.hidden_fields(case.role, case.route.resource))
    if case.role not in CLINICAL:
        keys |= ANSWER_KEYS
    return keys


def json_keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_keys(item)


def new_uuid():
    return str(uuid.uuid4())
