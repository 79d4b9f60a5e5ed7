"""The reassessment cadence: latest assessments, policies, cycles already due."""
from sqlalchemy import Column, DateTime, Integer, String, Table, select

from shared.projection import upsert
from shared.timeutil import parse_time

from ..domain import cadence as rules
from .base import aware, metadata, projection
from .calendar import appointments
from .clients import clients

CLINIC_WIDE = ""  # reassessment_policies.client_id of a clinic's own policy

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
    Column("client_id", String(36), primary_key=True),  # CLINIC_WIDE for the clinic's
    Column("every_sessions", Integer),
    Column("every_days", Integer),
)

# One row per cadence cycle that emitted ReassessmentDue.
reassessment_cycles = Table(
    "reassessment_cycles", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("cycle", String(36), primary_key=True),  # rules.cycle_key(last_assessment_id)
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False, index=True),
    Column("event_id", String(36), nullable=False),
    Column("last_assessment_id", String(36)),
    Column("sessions_since_assessment", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("due_by", String(20)),
    Column("reason", String(500), nullable=False),
)


@projection.on("ClientAssessed")
def client_assessed(conn, event):
    data = event.data
    assessed_at = parse_time(data["assessed_at"])
    held = conn.execute(select(latest_assessments.c.assessed_at)
                        .where(latest_assessments.c.client_id == data["client_id"])).first()
    if held is None or rules.supersedes(aware(held.assessed_at), assessed_at):
        upsert(conn, latest_assessments, {"client_id": data["client_id"]},
               {"assessment_id": data["assessment_id"], "assessed_at": assessed_at})


@projection.on("ReassessmentPolicySet")
def policy_set(conn, event):
    data = event.data
    upsert(conn, reassessment_policies, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "client_id": data.get("client_id") or CLINIC_WIDE},
        {"every_sessions": data.get("every_sessions"), "every_days": data.get("every_days")})


@projection.on("ReassessmentDue")
def reassessment_due(conn, event):
    data = event.data
    upsert(conn, reassessment_cycles, {
        "client_id": data["client_id"], "cycle": rules.cycle_key(data["last_assessment_id"])}, {
        "organisation_id": event.organisationid, "clinic_id": event.clinicid,
        "event_id": event.id, "last_assessment_id": data["last_assessment_id"],
        "sessions_since_assessment": data["sessions_since_assessment"],
        "due_at": parse_time(data["due_at"]), "due_by": data.get("due_by"),
        "reason": data["reason"]})


# -- what the application reads ------------------------------------------------
def _policy(conn, organisation_id, clinic_id, client_id):
    row = conn.execute(select(reassessment_policies).where(
        reassessment_policies.c.organisation_id == organisation_id,
        reassessment_policies.c.clinic_id == clinic_id,
        reassessment_policies.c.client_id == client_id)).first()
    if row is None or (row.every_sessions is None and row.every_days is None):
        return None
    return rules.Policy(row.every_sessions, row.every_days)


def clinic_policy(conn, organisation_id, clinic_id):
    """The clinic's own policy (None: the default applies)."""
    return _policy(conn, organisation_id, clinic_id, CLINIC_WIDE)


def client_policy(conn, organisation_id, clinic_id, client_id):
    """The client's override (None: the clinic's applies)."""
    return _policy(conn, organisation_id, clinic_id, str(client_id))


def effective_policy(conn, organisation_id, clinic_id, client_id):
    return rules.effective_policy(clinic_policy(conn, organisation_id, clinic_id),
                                  client_policy(conn, organisation_id, clinic_id, client_id))


def with_facts(conn, cadence, last_assessment=None):
    """`cadence` (a domain.cadence.Cadence: the cycles its stream flagged) with what
    the read models know of the client: the latest assessment, or `last_assessment`
    ((id, assessed_at)) to decide the cycle that one opened, and when each session
    was held."""
    client_id = str(cadence.client_id)
    if last_assessment is None:
        latest = conn.execute(select(latest_assessments)
                              .where(latest_assessments.c.client_id == client_id)).first()
        if latest is not None:
            last_assessment = (latest.assessment_id, aware(latest.assessed_at))
    if last_assessment is not None:
        cadence.assessed(*last_assessment)
    for (held_at,) in conn.execute(select(appointments.c.held_at).where(
            appointments.c.client_id == client_id, appointments.c.held_at.is_not(None))):
        cadence.held(aware(held_at))
    return cadence


def clients_to_check(conn, after="", limit=500):
    """A page of (client_id, organisation_id, clinic_id) with a session or an
    assessment behind them: the only ones a cadence can make due."""
    with_history = select(appointments.c.client_id).where(
        appointments.c.held_at.is_not(None)).union(select(latest_assessments.c.client_id))
    return conn.execute(
        select(clients.c.client_id, clients.c.organisation_id, clients.c.clinic_id)
        .where(clients.c.client_id > after, clients.c.client_id.in_(with_history))
        .order_by(clients.c.client_id).limit(limit)).all()


def open_cycles(conn, organisation_id=None, clinic_id=None):
    """Cycles flagged due that no newer assessment has closed yet (of one clinic,
    or of every clinic)."""
    query = (select(reassessment_cycles, latest_assessments.c.assessment_id)
             .join(latest_assessments, latest_assessments.c.client_id
                   == reassessment_cycles.c.client_id, isouter=True)
             .order_by(reassessment_cycles.c.due_at, reassessment_cycles.c.client_id))
    if clinic_id is not None:
        query = query.where(reassessment_cycles.c.organisation_id == organisation_id,
                            reassessment_cycles.c.clinic_id == clinic_id)
    return [r._asdict() for r in conn.execute(query)
            if rules.cycle_key(r.assessment_id) == r.cycle]


def overdue_counts(conn, cutoff):
    """{(organisation, clinic): open cycles due before `cutoff`}."""
    counts = {}
    for cycle in open_cycles(conn):
        if aware(cycle["due_at"]) < cutoff:
            key = (cycle["organisation_id"], cycle["clinic_id"])
            counts[key] = counts.get(key, 0) + 1
    return counts
