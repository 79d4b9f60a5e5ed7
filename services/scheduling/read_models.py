"""Scheduling's read models: tables derived only from events (see `make rebuild`).

Handlers are deterministic functions of the event: the moment a session was
held is the SessionHeld envelope's `time`, never the clock.
"""
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, \
    update

from shared.projection import Projection
from shared.timeutil import parse_time

from . import domain

metadata = MetaData()

# Who scheduling may book: from intake's ClientRegistered.
clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
)

appointments = Table(
    "appointments", metadata,
    Column("appointment_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("client_id", String(36), nullable=False, index=True),
    Column("clinician_id", String(64), nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("modality", String(20), nullable=False),
    Column("status", String(20), nullable=False),  # booked | held
    Column("minutes", Integer),
    Column("session_number", Integer),
    Column("held_at", DateTime(timezone=True)),    # the SessionHeld envelope time
)

# The newest assessment intake told us about, per client (late older ones ignored).
latest_assessments = Table(
    "latest_assessments", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("assessment_id", String(36), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
)

reassessment_policies = Table(
    "reassessment_policies", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("every_sessions", Integer, nullable=False),
)

# One row per cadence cycle that emitted ReassessmentDue.
reassessment_cycles = Table(
    "reassessment_cycles", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("cycle", String(36), primary_key=True),  # domain.cycle_key(last_assessment_id)
    Column("event_id", String(36), nullable=False),
    Column("sessions_since_assessment", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
)

projection = Projection(metadata)


def _aware(moment):
    """SQLite gives back naive datetimes; they are UTC."""
    return parse_time(moment.isoformat()) if moment is not None else None


@projection.on("ClientRegistered")
def client_registered(conn, event):
    conn.execute(insert(clients).values(
        client_id=event.data["client_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid))


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    assessed_at = parse_time(data["assessed_at"])
    held = conn.execute(select(latest_assessments.c.assessed_at)
                        .where(latest_assessments.c.client_id == data["client_id"])).first()
    if held is None:
        conn.execute(insert(latest_assessments).values(
            client_id=data["client_id"], assessment_id=data["assessment_id"],
            assessed_at=assessed_at))
    elif domain.supersedes(_aware(held.assessed_at), assessed_at):
        conn.execute(update(latest_assessments)
                     .where(latest_assessments.c.client_id == data["client_id"])
                     .values(assessment_id=data["assessment_id"], assessed_at=assessed_at))


@projection.on("AppointmentBooked")
def appointment_booked(conn, event):
    data = event.data
    conn.execute(insert(appointments).values(
        appointment_id=data["appointment_id"], organisation_id=event.organisationid,
        clinic_id=event.clinicid, client_id=data["client_id"],
        clinician_id=data["clinician_id"], start=parse_time(data["start"]),
        duration_minutes=data["duration_minutes"], modality=data["modality"],
        status="booked"))


@projection.on("SessionHeld")
def session_held(conn, event):
    data = event.data
    conn.execute(update(appointments)
                 .where(appointments.c.appointment_id == data["appointment_id"])
                 .values(status="held", minutes=data["minutes"],
                         session_number=data["session_number"],
                         held_at=parse_time(event.time)))


@projection.on("ReassessmentPolicySet")
def policy_set(conn, event):
    key = (reassessment_policies.c.organisation_id == event.organisationid) & \
          (reassessment_policies.c.clinic_id == event.clinicid)
    if conn.execute(select(reassessment_policies.c.clinic_id).where(key)).first() is None:
        conn.execute(insert(reassessment_policies).values(
            organisation_id=event.organisationid, clinic_id=event.clinicid,
            every_sessions=event.data["every_sessions"]))
    else:
        conn.execute(update(reassessment_policies).where(key)
                     .values(every_sessions=event.data["every_sessions"]))


@projection.on("ReassessmentDue")
def reassessment_due(conn, event):
    data = event.data
    conn.execute(insert(reassessment_cycles).values(
        client_id=data["client_id"], cycle=domain.cycle_key(data["last_assessment_id"]),
        event_id=event.id, sessions_since_assessment=data["sessions_since_assessment"],
        due_at=parse_time(data["due_at"])))


# -- what the application reads --------------------------------------------
def client_row(conn, client_id):
    row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
    return row._asdict() if row else None


def appointment_row(conn, appointment_id):
    row = conn.execute(select(appointments)
                       .where(appointments.c.appointment_id == str(appointment_id))).first()
    return row._asdict() if row else None


def held_count(conn, client_id):
    return len(conn.execute(select(appointments.c.appointment_id).where(
        appointments.c.client_id == str(client_id), appointments.c.status == "held")).all())


def every_sessions(conn, organisation_id, clinic_id):
    value = conn.execute(select(reassessment_policies.c.every_sessions).where(
        reassessment_policies.c.organisation_id == organisation_id,
        reassessment_policies.c.clinic_id == clinic_id)).scalar()
    return domain.DEFAULT_EVERY_SESSIONS if value is None else value


def cadence(conn, client_id):
    """The client's cadence state, as domain.Cadence, from the read models."""
    client_id = str(client_id)
    state = domain.Cadence(client_id)
    latest = conn.execute(select(latest_assessments)
                          .where(latest_assessments.c.client_id == client_id)).first()
    if latest is not None:
        state.assessed(latest.assessment_id, _aware(latest.assessed_at))
    for (held_at,) in conn.execute(select(appointments.c.held_at).where(
            appointments.c.client_id == client_id, appointments.c.held_at.is_not(None))):
        state.held(_aware(held_at))
    for (cycle,) in conn.execute(select(reassessment_cycles.c.cycle)
                                 .where(reassessment_cycles.c.client_id == client_id)):
        state.flagged_cycles.add(cycle)
    return state
