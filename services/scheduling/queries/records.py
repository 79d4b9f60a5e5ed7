"""The rows of scheduling's read models as the application reads them: for the
queries, and for the commands that decide from the calendar (under the store's
write lock, see ../application)."""
import json

from sqlalchemy import or_, select

from shared import client_history

from ..domain import appointments as booking
from ..domain import cadence as rules
from ..domain import calendar as calendar_rules
from ..read_models import aware
from ..read_models.cadence import CLINIC_WIDE, latest_assessments, reassessment_cycles, \
    reassessment_policies
from ..read_models.calendar import appointments, clinicians, clinics, rooms, series
from ..read_models.clients import client_facts, clients, episodes
from ..read_models.feeds import calendar_feeds


# -- clinics, rooms, clinicians, appointments and series ---------------------------
def clinic_settings(conn, organisation_id, clinic_id):
    """domain.calendar.ClinicSettings; the defaults for a clinic never configured."""
    row = conn.execute(select(clinics).where(clinics.c.organisation_id == organisation_id,
                                             clinics.c.clinic_id == clinic_id)).first()
    if row is None:
        return calendar_rules.ClinicSettings(clinic_id)
    return calendar_rules.ClinicSettings(
        clinic_id, row.name, row.time_zone, row.late_cancel_window_hours,
        row.video_link_template, row.calendar_shows_client_names,
        tuple(json.loads(row.reminder_hours_before or "[]")))


def clinic_configured_row(conn, organisation_id, clinic_id):
    row = conn.execute(select(clinics).where(clinics.c.organisation_id == organisation_id,
                                             clinics.c.clinic_id == clinic_id)).first()
    return row._asdict() if row else None


def room_rows(conn, organisation_id, clinic_id):
    return [r._asdict() for r in conn.execute(
        select(rooms).where(rooms.c.organisation_id == organisation_id,
                            rooms.c.clinic_id == clinic_id).order_by(rooms.c.room_id))]


def clinician_profile(conn, organisation_id, clinician_id):
    """domain.calendar.ClinicianProfile, or None when no profile was ever set."""
    row = clinician_row(conn, organisation_id, clinician_id)
    return calendar_rules.clinician_profile(row["profile"]) if row else None


def clinician_row(conn, organisation_id, clinician_id):
    row = conn.execute(select(clinicians).where(
        clinicians.c.organisation_id == organisation_id,
        clinicians.c.clinician_id == clinician_id)).first()
    if row is None:
        return None
    record = row._asdict()
    record["profile"] = json.loads(record["profile"])
    return record


def appointment_row(conn, appointment_id):
    row = conn.execute(select(appointments)
                       .where(appointments.c.appointment_id == str(appointment_id))).first()
    return row._asdict() if row else None


def clinician_appointment_clinics(conn, organisation_id, clinician_id):
    """The clinics of the organisation where the clinician has any appointment."""
    return set(conn.execute(select(appointments.c.clinic_id).distinct().where(
        appointments.c.organisation_id == organisation_id,
        appointments.c.clinician_id == clinician_id)).scalars())


def taken_slots(conn, organisation_id, start, end, clinician_id, client_id, room_id):
    """Appointments occupying their slot (all but cancelled ones) overlapping
    [start, end) that share the clinician, the client or the room
    (domain.appointments.Slot)."""
    who = [appointments.c.clinician_id == clinician_id,
           appointments.c.client_id == str(client_id)]
    if room_id is not None:
        who.append(appointments.c.room_id == room_id)
    rows = conn.execute(select(appointments).where(
        appointments.c.organisation_id == organisation_id,
        appointments.c.status.in_(booking.OCCUPYING),
        appointments.c.start < end, appointments.c.end > start, or_(*who)))
    return [booking.Slot(r.appointment_id, r.client_id, r.clinician_id, r.room_id,
                         aware(r.start), aware(r.end)) for r in rows]


def held_in_episode(conn, client_id, episode_id):
    """How many of the client's sessions were held in this episode (None: outside any)."""
    episode = appointments.c.episode_id.is_(None) if episode_id is None \
        else appointments.c.episode_id == str(episode_id)
    return len(conn.execute(select(appointments.c.appointment_id).where(
        appointments.c.client_id == str(client_id), appointments.c.status == "held",
        episode)).all())


def open_appointments_from(conn, client_id, moment):
    """The client's open appointments starting at or after `moment`."""
    return [r._asdict() for r in conn.execute(
        select(appointments).where(appointments.c.client_id == str(client_id),
                                   appointments.c.status.in_(booking.OPEN),
                                   appointments.c.start >= moment)
        .order_by(appointments.c.start, appointments.c.appointment_id))]


def series_row(conn, series_id):
    row = conn.execute(select(series).where(series.c.series_id == str(series_id))).first()
    return row._asdict() if row else None


def series_appointments(conn, series_id):
    return [r._asdict() for r in conn.execute(
        select(appointments).where(appointments.c.series_id == str(series_id))
        .order_by(appointments.c.start, appointments.c.appointment_id))]


# -- clients and their episodes -------------------------------------------------------
def client_row(conn, client_id):
    row = conn.execute(select(clients).where(clients.c.client_id == str(client_id))).first()
    return row._asdict() if row else None


def open_episode_id(conn, client_id):
    """The client's current episode of care (the latest opened, not closed), or None."""
    return conn.execute(
        select(episodes.c.episode_id)
        .where(episodes.c.client_id == str(client_id), episodes.c.closed_at.is_(None),
               episodes.c.opened_at.is_not(None))
        .order_by(episodes.c.opened_at.desc(), episodes.c.episode_id)).scalar()


def display_name(client):
    if client is None:
        return None
    return client.get("preferred_name") or client.get("name")


# -- the reassessment cadence -------------------------------------------------------
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


# -- calendar feeds ----------------------------------------------------------------------
def _record(row):
    if row is None:
        return None
    record = row._asdict()
    record["clinic_ids"] = json.loads(record["clinic_ids"])
    return record


def feed_row(conn, feed_id):
    return _record(conn.execute(select(calendar_feeds).where(
        calendar_feeds.c.feed_id == str(feed_id))).first())


def feed_by_digest(conn, token_sha256):
    return _record(conn.execute(select(calendar_feeds).where(
        calendar_feeds.c.token_sha256 == token_sha256)).first())


def clinician_feeds(conn, organisation_id, clinician_id):
    return [_record(r) for r in conn.execute(select(calendar_feeds).where(
        calendar_feeds.c.organisation_id == organisation_id,
        calendar_feeds.c.clinician_id == clinician_id)
        .order_by(calendar_feeds.c.issued_at, calendar_feeds.c.feed_id))]


def reminder_candidates(conn, now, horizon):
    """Booked appointments starting in (now, now + horizon] at clinics that send
    reminders, soonest first: what a reminder run looks at."""
    return [row._asdict() for row in conn.execute(
        select(appointments).join(clinics, (clinics.c.organisation_id
                                            == appointments.c.organisation_id)
                                  & (clinics.c.clinic_id == appointments.c.clinic_id))
        .where(appointments.c.status == "booked", appointments.c.start > now,
               appointments.c.start <= now + horizon,
               clinics.c.reminder_hours_before.is_not(None),
               clinics.c.reminder_hours_before != "[]")
        .order_by(appointments.c.start, appointments.c.appointment_id))]


def client_email(conn, organisation_id, clinic_id, client_id):
    """(email or None, email_ok) from the client's latest details (intake's contact)."""
    details = client_history.latest(conn, client_facts, organisation_id, clinic_id,
                                    client_id) or {}
    contact = details.get("contact") or {}
    return (contact.get("email") or None), bool(contact.get("email_ok"))
