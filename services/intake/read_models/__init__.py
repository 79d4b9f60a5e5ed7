"""Intake's read models: tables derived only from events (see `make rebuild`).

Deterministic functions of the events: no clock, no randomness.
"""
import json

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, \
    Table, Text, delete, insert, select, update

from shared import care_team
from shared.projection import Projection, upsert
from shared.timeutil import parse_date, parse_time

from ..domain import implicit_episode_id

metadata = MetaData()

# The client directory: one row per client, with the current episode.
clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("preferred_name", String(200)),
    Column("date_of_birth", Date, nullable=False),
    Column("email", String(200)),
    Column("phone", String(40)),
    Column("primary_clinician_id", String(64)),
    Column("details", Text, nullable=False),  # every registration detail, JSON
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("episode_id", String(36)),
    Column("episode_status", String(20), nullable=False),  # open, discharged
)

episodes = Table(
    "episodes", metadata,
    Column("episode_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("discharged_at", DateTime(timezone=True)),
    Column("reason", String(40)),
)

# The current state of each kind of consent of a client.
consents = Table(
    "consents", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),  # given, revoked
    Column("document_version", String(40), nullable=False),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("recorded_by", String(64), nullable=False),
)

consent_history = Table(
    "consent_history", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("sequence", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("action", String(20), nullable=False),  # given, revoked
    Column("document_version", String(40)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(64), nullable=False),
)

assessments = Table(
    "assessments", metadata,
    Column("assessment_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("episode_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),  # position in the client's stream
    Column("instrument", String(40), nullable=False),
    Column("instrument_version", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("answers", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("severity", String(60), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    # The change against the episode's baseline (null for the baseline itself).
    Column("baseline_assessment_id", String(36)),
    Column("baseline_total", Integer),
    Column("difference", Integer),
    Column("rci", Float),
    Column("category", String(30)),
    Column("response", Boolean),
    Column("remission", Boolean),
)

# Open from ReassessmentDue until the next assessment of that instrument
# ("*": the episode had no assessment yet, so any instrument closes it).
pending_reassessments = Table(
    "pending_reassessments", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("instrument", String(40), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("sessions_since_assessment", Integer, nullable=False),
    Column("last_assessment_id", String(36)),
)

risk_flags = Table(
    "risk_flags", metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("episode_id", String(36)),
    Column("assessment_id", String(36), nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("item", Integer),
    Column("answer", Integer),
    Column("reason", String(500), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("action_taken", Text),
)

# Reliable deteriorations and not-on-track flags: what a clinician acts on.
outcome_alerts = Table(
    "outcome_alerts", metadata,
    Column("alert_id", String(36), primary_key=True),  # the event's id
    Column("kind", String(30), nullable=False),  # reliable_deterioration, not_on_track
    Column("client_id", String(36), nullable=False, index=True),
    Column("sequence", Integer, nullable=False),  # position in the client's stream
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("episode_id", String(36)),
    Column("instrument", String(40), nullable=False),
    Column("assessment_id", String(36)),
    Column("rci", Float),
    Column("rule", String(100)),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)

instrument_definitions = Table(
    "instrument_definitions", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),  # the InstrumentDefined payload, JSON
    Column("defined_by", String(64), nullable=False),
    Column("defined_at", DateTime(timezone=True), nullable=False),
)

not_on_track_rules = Table(
    "not_on_track_rules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("reassessments_without_improvement", Integer),
    Column("sessions_without_improvement", Integer),
    Column("on_reliable_deterioration", Boolean, nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

# Break-glass grants as they were made: the privacy officer's list.
break_glass_grants = Table(
    "break_glass_grants", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("client_id", String(36), nullable=False),
    Column("clinician_id", String(200), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Sessions scheduling says were held: what an alliance rating may be about.
held_sessions = Table(
    "held_sessions", metadata,
    Column("session_id", String(36), primary_key=True),  # scheduling's appointment_id
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("clinician_id", String(200), nullable=False),
    Column("session_number", Integer, nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
)

alliance_ratings = Table(
    "alliance_ratings", metadata,
    Column("session_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("session_number", Integer, nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("instrument_version", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("subscales", Text, nullable=False),  # JSON: name -> {total, mean}
    Column("rated_by", String(20), nullable=False),
    Column("rated_at", DateTime(timezone=True), nullable=False),
)

# The clinic's alliance concerns (possible ruptures), open until acknowledged.
alliance_concerns = Table(
    "alliance_concerns", metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("session_id", String(36), nullable=False),
    Column("instrument", String(40), nullable=False),
    Column("total", Integer, nullable=False),
    Column("rules", String(100), nullable=False),  # comma-separated
    Column("reason", String(500), nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_by", String(64)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("action_taken", Text),
)

alliance_rules = Table(
    "alliance_rules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("instrument", String(40), nullable=False),
    Column("every_sessions", Integer, nullable=False),
    Column("drop_points", Integer),
    Column("set_by", String(64), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)
projection.erases_clients()  # an erased client's rows go


def _time(value):
    return parse_time(value) if value else None


def _contact(details):
    return details.get("contact") or {}


@projection.on("ClientRegistered")
def client_registered(conn, event):
    data = event.data
    details = {k: v for k, v in data.items() if k not in ("client_id", "registered_at")}
    conn.execute(insert(clients).values(
        client_id=data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, name=data["name"], preferred_name=data.get("preferred_name"),
        date_of_birth=parse_date(data["date_of_birth"]),
        email=_contact(data).get("email"), phone=_contact(data).get("phone"),
        primary_clinician_id=data.get("primary_clinician_id"),
        details=json.dumps(details, sort_keys=True),
        registered_at=parse_time(data["registered_at"]),
        episode_id=implicit_episode_id(data["client_id"]), episode_status="open"))


@projection.on("ClientDetailsUpdated")
def client_details_updated(conn, event):
    data = event.data
    row = conn.execute(select(clients.c.details)
                       .where(clients.c.client_id == data["client_id"])).first()
    if row is None:
        return
    details = {**json.loads(row.details), **data["changes"]}
    values = {"details": json.dumps(details, sort_keys=True), "name": details["name"],
              "preferred_name": details.get("preferred_name"),
              "date_of_birth": parse_date(details["date_of_birth"]),
              "email": _contact(details).get("email"), "phone": _contact(details).get("phone"),
              "primary_clinician_id": details.get("primary_clinician_id")}
    conn.execute(update(clients).where(clients.c.client_id == data["client_id"]).values(**values))


@projection.on("EpisodeOpened")
def episode_opened(conn, event):
    data = event.data
    conn.execute(insert(episodes).values(
        episode_id=data["episode_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        opened_at=parse_time(data["opened_at"])))
    conn.execute(update(clients).where(clients.c.client_id == data["client_id"])
                 .values(episode_id=data["episode_id"], episode_status="open"))


@projection.on("ClientDischarged")
def client_discharged(conn, event):
    data = event.data
    at = parse_time(data["discharged_at"])
    exists = conn.execute(select(episodes.c.episode_id)
                          .where(episodes.c.episode_id == data["episode_id"])).first()
    if exists is None:  # the implicit episode of a client registered before episodes
        conn.execute(insert(episodes).values(
            episode_id=data["episode_id"], client_id=data["client_id"],
            organisation_id=event.organisationid, clinic_id=event.clinicid,
            opened_at=select(clients.c.registered_at)
            .where(clients.c.client_id == data["client_id"]).scalar_subquery()))
    conn.execute(update(episodes).where(episodes.c.episode_id == data["episode_id"])
                 .values(discharged_at=at, reason=data["reason"]))
    conn.execute(update(clients).where(clients.c.client_id == data["client_id"])
                 .values(episode_status="discharged"))
    conn.execute(delete(pending_reassessments)
                 .where(pending_reassessments.c.client_id == data["client_id"]))


@projection.on("ConsentGiven", "ConsentRevoked")
def consent_changed(conn, event):
    data = event.data
    given = event.name == "ConsentGiven"
    at = parse_time(data["given_at"] if given else data["revoked_at"])
    conn.execute(insert(consent_history).values(
        event_id=event.id, client_id=data["client_id"], sequence=event.sequence,
        kind=data["kind"], action="given" if given else "revoked",
        document_version=data.get("document_version"), at=at, recorded_by=data["recorded_by"]))
    key = {"client_id": data["client_id"], "kind": data["kind"]}
    if given:  # the consent in force now, whatever was given or revoked before
        upsert(conn, consents, key, {
            "organisation_id": event.organisationid, "clinic_id": event.clinicid,
            "status": "given", "document_version": data["document_version"], "given_at": at,
            "revoked_at": None, "recorded_by": data["recorded_by"]})
    else:
        conn.execute(update(consents).where(
            consents.c.client_id == key["client_id"], consents.c.kind == key["kind"]).values(
            status="revoked", revoked_at=at, recorded_by=data["recorded_by"]))


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    change = data.get("change") or {}
    conn.execute(insert(assessments).values(
        assessment_id=data["assessment_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        episode_id=data.get("episode_id") or implicit_episode_id(data["client_id"]),
        sequence=event.sequence, instrument=data["instrument"],
        instrument_version=data.get("instrument_version", 1), kind=data["kind"],
        answers=json.dumps(data["answers"]), total=data["total"], severity=data["severity"],
        assessed_at=parse_time(data["assessed_at"]),
        baseline_assessment_id=change.get("baseline_assessment_id"),
        baseline_total=change.get("baseline_total"), difference=change.get("difference"),
        rci=change.get("rci"), category=change.get("category"),
        response=change.get("response"), remission=change.get("remission")))
    conn.execute(delete(pending_reassessments).where(
        pending_reassessments.c.client_id == data["client_id"],
        pending_reassessments.c.instrument.in_([data["instrument"], "*"])))


@projection.on("ReassessmentDue")
def reassessment_due(conn, event):
    """One pending reassessment per instrument used in the client's open episode."""
    data = event.data
    client = conn.execute(select(clients).where(clients.c.client_id == data["client_id"])).first()
    if client is None or (client.organisation_id, client.clinic_id) \
            != (event.organisationid, event.clinicid) or client.episode_status != "open":
        return  # not this clinic's client (intake's record says where the client is)
    latest = conn.execute(
        select(assessments.c.assessment_id).where(assessments.c.client_id == data["client_id"])
        .order_by(assessments.c.sequence.desc()).limit(1)).scalar()
    if latest is not None and latest != data["last_assessment_id"]:
        return  # arrived after a newer assessment closed that cycle
    # Each instrument's row points at that instrument's latest assessment in the
    # episode (the event names the client's latest of any instrument).
    latest_of = {}
    for instrument, assessment_id in conn.execute(
            select(assessments.c.instrument, assessments.c.assessment_id)
            .where(assessments.c.client_id == data["client_id"],
                   assessments.c.episode_id == client.episode_id)
            .order_by(assessments.c.sequence)).all():
        latest_of[instrument] = assessment_id
    conn.execute(delete(pending_reassessments)
                 .where(pending_reassessments.c.client_id == data["client_id"]))
    for instrument in sorted(latest_of) or ["*"]:
        conn.execute(insert(pending_reassessments).values(
            client_id=data["client_id"], instrument=instrument,
            organisation_id=client.organisation_id, clinic_id=client.clinic_id,
            due_at=parse_time(data["due_at"]), reason=data["reason"],
            sessions_since_assessment=data["sessions_since_assessment"],
            last_assessment_id=latest_of.get(instrument)))


@projection.on("RiskFlagRaised")
def risk_flag_raised(conn, event):
    data = event.data
    conn.execute(insert(risk_flags).values(
        flag_id=data["flag_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        episode_id=data.get("episode_id"), assessment_id=data["assessment_id"],
        instrument=data["instrument"], item=data.get("item"), answer=data.get("answer"),
        reason=data["reason"], raised_at=parse_time(data["raised_at"])))


@projection.on("RiskFlagAcknowledged")
def risk_flag_acknowledged(conn, event):
    data = event.data
    conn.execute(update(risk_flags).where(risk_flags.c.flag_id == data["flag_id"]).values(
        acknowledged_by=data["acknowledged_by"],
        acknowledged_at=parse_time(data["acknowledged_at"]),
        action_taken=data["action_taken"]))


@projection.on("ReliableDeteriorationDetected")
def reliable_deterioration(conn, event):
    data = event.data
    conn.execute(insert(outcome_alerts).values(
        alert_id=event.id, kind="reliable_deterioration", client_id=data["client_id"],
        sequence=event.sequence,
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        episode_id=data.get("episode_id"), instrument=data["instrument"],
        assessment_id=data["assessment_id"], rci=data["rci"],
        reason=f"reliably worse than the baseline {data.get('baseline_total')} "
               f"(now {data.get('total')})", at=parse_time(data["detected_at"])))


@projection.on("NotOnTrackFlagged")
def not_on_track(conn, event):
    data = event.data
    conn.execute(insert(outcome_alerts).values(
        alert_id=event.id, kind="not_on_track", client_id=data["client_id"],
        sequence=event.sequence,
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        episode_id=data.get("episode_id"), instrument=data["instrument"],
        assessment_id=data["assessment_id"], rule=data["rule"], reason=data["reason"],
        at=parse_time(data["flagged_at"])))


@projection.on("InstrumentDefined")
def instrument_defined(conn, event):
    data = event.data
    conn.execute(insert(instrument_definitions).values(
        organisation_id=event.organisationid, code=data["code"], version=data["version"],
        definition=json.dumps(data, sort_keys=True), defined_by=data["defined_by"],
        defined_at=parse_time(data["defined_at"])))


@projection.on("NotOnTrackRuleSet")
def not_on_track_rule_set(conn, event):
    data = event.data
    upsert(conn, not_on_track_rules,
           {"organisation_id": event.organisationid, "clinic_id": event.clinicid}, {
               "reassessments_without_improvement": data["reassessments_without_improvement"],
               "sessions_without_improvement": data["sessions_without_improvement"],
               "on_reliable_deterioration": data["on_reliable_deterioration"],
               "set_by": data["set_by"], "set_at": parse_time(data["set_at"])})


@projection.on("BreakGlassAccessGranted")
def break_glass_granted(conn, event):
    data = event.data
    upsert(conn, break_glass_grants, {"event_id": event.id}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "client_id": str(data["client_id"]), "clinician_id": data["clinician_id"],
        "reason": data["reason"], "granted_at": parse_time(data["granted_at"]),
        "expires_at": parse_time(data["expires_at"])})


@projection.on("SessionHeld")
def session_held(conn, event):
    data = event.data
    upsert(conn, held_sessions, {"session_id": str(data["appointment_id"])}, {
        "client_id": str(data["client_id"]), "organisation_id": event.organisationid,
        "clinic_id": event.clinicid, "clinician_id": data["clinician_id"],
        "session_number": data["session_number"], "start": parse_time(data["start"])})


@projection.on("AllianceRated")
def alliance_rated(conn, event):
    data = event.data
    conn.execute(insert(alliance_ratings).values(
        session_id=data["session_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        session_number=data["session_number"], instrument=data["instrument"],
        instrument_version=data["instrument_version"], total=data["total"],
        subscales=json.dumps(data["subscales"], sort_keys=True), rated_by=data["rated_by"],
        rated_at=parse_time(data["rated_at"])))


@projection.on("AllianceConcernFlagged")
def alliance_concern_flagged(conn, event):
    data = event.data
    conn.execute(insert(alliance_concerns).values(
        flag_id=data["flag_id"], client_id=data["client_id"],
        organisation_id=event.organisationid, clinic_id=event.clinicid,
        session_id=data["session_id"], instrument=data["instrument"], total=data["total"],
        rules=",".join(data["rules"]), reason=data["reason"],
        flagged_at=parse_time(data["flagged_at"])))


@projection.on("AllianceConcernAcknowledged")
def alliance_concern_acknowledged(conn, event):
    data = event.data
    conn.execute(update(alliance_concerns)
                 .where(alliance_concerns.c.flag_id == data["flag_id"]).values(
                     acknowledged_by=data["acknowledged_by"],
                     acknowledged_at=parse_time(data["acknowledged_at"]),
                     action_taken=data["action_taken"]))


@projection.on("AllianceSettingsSet")
def alliance_settings_set(conn, event):
    data = event.data
    upsert(conn, alliance_rules,
           {"organisation_id": event.organisationid, "clinic_id": event.clinicid}, {
               "instrument": data["instrument"], "every_sessions": data["every_sessions"],
               "drop_points": data["drop_points"], "set_by": data["set_by"],
               "set_at": parse_time(data["set_at"])})


from .therapy import client_approaches  # noqa: E402,F401 (notes' approach per client)
from .dropout import dropout_risks, dropout_rules, missed_sessions  # noqa: E402,F401
