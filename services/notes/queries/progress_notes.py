"""Progress notes as read: one note with its text and addenda, a client's notes, the
notes due per clinician (and the overdue gauge), supervision and the clinic's deadline."""
from sqlalchemy import select

from shared import metrics, paging
from shared.errors import Forbidden
from shared.timeutil import iso, utc_now

from ..domain import progress_notes as note_rules
from ..read_models import (
    alliance_concerns, chart_sessions, clinician_supervision, clients, note_addenda,
    note_deadlines, progress_notes,
)
from .common import json_or_none, tenant_rows, time_or_none, visible_client
from .dropout import open_dropout_risks


def note_row(conn, note_id):
    row = conn.execute(select(progress_notes)
                       .where(progress_notes.c.note_id == str(note_id))).first()
    return row._asdict() if row else None


def open_alliance_concerns(conn, principal, clinician_id, clinics):
    """intake's unacknowledged alliance concerns about sessions this clinician held."""
    c = alliance_concerns.c
    statement = (select(c.flag_id, c.client_id, c.session_id, c.instrument, c.total, c.rules,
                        c.flagged_at, clients.c.name.label("client_name"))
                 .join(chart_sessions, (chart_sessions.c.appointment_id == c.session_id)
                       & (chart_sessions.c.organisation_id == c.organisation_id))
                 .outerjoin(clients, (clients.c.client_id == c.client_id)
                            & (clients.c.organisation_id == c.organisation_id))
                 .where(c.organisation_id == principal.organisation_id,
                        c.acknowledged_at.is_(None),
                        chart_sessions.c.clinician_id == clinician_id)
                 .order_by(c.flagged_at, c.flag_id))
    if clinics is not None:
        statement = statement.where(c.clinic_id.in_(clinics))
    return [{"flag_id": r.flag_id, "client_id": r.client_id, "client_name": r.client_name,
             "session_id": r.session_id, "instrument": r.instrument, "total": r.total,
             "rules": r.rules.split(","), "flagged_at": iso(r.flagged_at)}
            for r in conn.execute(statement)]


class ProgressNoteQueries:
    def note(self, principal, note_id):
        """One progress note with its current text and addenda."""
        with self.store.read() as conn:
            row = principal.require_visible(note_row(conn, note_id), "note")
            addenda = conn.execute(select(note_addenda)
                                   .where(note_addenda.c.note_id == row["note_id"])
                                   .order_by(note_addenda.c.sequence)).all()
        return {**note_summary(row), "sections": json_or_none(row["sections"]) or {},
                "drafts": row["drafts"], "last_saved_at": time_or_none(row["last_saved_at"]),
                "addenda": [{"addendum_id": a.addendum_id, "text": a.text,
                             "signed_by": a.signed_by, "signed_at": iso(a.signed_at)}
                            for a in addenda]}

    def client_notes(self, principal, client_id, query):
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            rows = tenant_rows(conn, principal, progress_notes, record,
                               progress_notes.c.session_start, progress_notes.c.note_id,
                               page=query)
            counts = addenda_counts(conn, [r["note_id"] for r in rows])
            deadlines = note_deadlines_of(conn, rows)
        return paging.offset_page("notes", [{**note_summary(r), **deadlines[r["note_id"]],
                                             "addenda": counts.get(r["note_id"], 0)}
                                            for r in rows], query["limit"], query["offset"])

    def refresh_notes_overdue_gauge(self, now=None):
        """praxis_notes_overdue per clinic: unsigned notes past the clinic's deadline."""
        with self.store.read() as conn:
            counts = overdue_counts(conn, now or utc_now())
        return self.set_practice_gauge(metrics.NOTES_OVERDUE, counts)

    def notes_due(self, principal, clinician_id, now=None):
        """A clinician's unsigned notes with how long each is overdue, and the notes
        waiting for their co-signature as a supervisor."""
        if principal.role == "clinician" and principal.user_id != clinician_id:
            raise Forbidden("a clinician sees their own notes due")
        now = now or utc_now()
        with self.store.read() as conn:
            clinics = principal.clinic_filter()
            # The name only from the client's own row, in the caller's reach: a note
            # naming another tenant's client id shows no name.
            same_client = ((clients.c.client_id == progress_notes.c.client_id)
                           & (clients.c.organisation_id == progress_notes.c.organisation_id))
            if clinics is not None:
                same_client = same_client & clients.c.clinic_id.in_(clinics)

            def query(*where):
                statement = (select(progress_notes, clients.c.name.label("client_name"))
                             .outerjoin(clients, same_client)
                             .where(progress_notes.c.organisation_id == principal.organisation_id,
                                    *where)
                             .order_by(progress_notes.c.session_start, progress_notes.c.note_id))
                if clinics is not None:
                    statement = statement.where(progress_notes.c.clinic_id.in_(clinics))
                return [r._asdict() for r in conn.execute(statement)]
            unsigned = query(progress_notes.c.clinician_id == clinician_id,
                             progress_notes.c.status.in_(("due", "draft")))
            to_cosign = query(progress_notes.c.supervisor_id == clinician_id,
                              progress_notes.c.status == "pending_supervision")
            deadlines = note_deadlines_of(conn, unsigned)
            concerns = open_alliance_concerns(conn, principal, clinician_id, clinics)
            risks = open_dropout_risks(conn, principal, clinician_id, clinics)
        notes = []
        for row in unsigned:
            deadline = deadlines[row["note_id"]]
            late = note_rules.overdue_seconds(iso(row["session_start"]),
                                              deadline["deadline_hours"], now)
            notes.append({**note_summary(row), "client_name": row["client_name"], **deadline,
                          "overdue": late > 0, "overdue_seconds": late,
                          "overdue_hours": round(late / 3600, 1)})
        return {"clinician_id": clinician_id, "as_of": iso(now),
                "unsigned": len(notes), "overdue": sum(1 for n in notes if n["overdue"]),
                "notes": notes,
                "awaiting_cosignature": [{**note_summary(r), "client_name": r["client_name"]}
                                         for r in to_cosign],
                "alliance_concerns": concerns, "dropout_risks": risks}

    def supervision(self, principal, clinician_id):
        with self.store.read() as conn:
            row = supervision_row(conn, principal.organisation_id, clinician_id)
        if row is None:
            return {"clinician_id": clinician_id, "pre_licensed": False, "supervisor_id": None}
        principal.require_visible(row, "supervision")
        return {"clinician_id": clinician_id, "pre_licensed": row["pre_licensed"],
                "supervisor_id": row["supervisor_id"], "set_by": row["set_by"],
                "set_at": iso(row["set_at"])}

    def note_deadline(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            hours = _deadline_hours(conn, principal.organisation_id, clinic_id)
        return {"clinic_id": clinic_id, "deadline_hours": hours}


def overdue_counts(conn, now):
    """{(organisation, clinic): unsigned notes past the clinic's deadline}."""
    counts, deadlines = {}, {}
    rows = conn.execute(select(progress_notes.c.organisation_id, progress_notes.c.clinic_id,
                               progress_notes.c.session_start)
                        .where(progress_notes.c.status.in_(("due", "draft"))))
    for org, clinic, start in rows:
        if (org, clinic) not in deadlines:
            deadlines[(org, clinic)] = _deadline_hours(conn, org, clinic)
        if note_rules.overdue_seconds(iso(start), deadlines[(org, clinic)], now) > 0:
            counts[(org, clinic)] = counts.get((org, clinic), 0) + 1
    return counts


def note_deadlines_of(conn, rows):
    """{note_id: {deadline_hours, due_at}}: the one derivation of when a note is due, for
    every view that shows it (the note's own clinic's deadline, from its stored row)."""
    hours, deadlines = {}, {}
    for row in rows:
        key = (row["organisation_id"], row["clinic_id"])
        if key not in hours:
            hours[key] = _deadline_hours(conn, *key)
        deadlines[row["note_id"]] = {
            "deadline_hours": hours[key],
            "due_at": iso(note_rules.due_at(iso(row["session_start"]), hours[key]))}
    return deadlines


def supervision_row(conn, organisation_id, clinician_id):
    """The clinician's supervision as stored, with the clinic it was set in."""
    row = conn.execute(select(clinician_supervision).where(
        clinician_supervision.c.organisation_id == organisation_id,
        clinician_supervision.c.clinician_id == clinician_id)).first()
    return row._asdict() if row else None


def _deadline_hours(conn, organisation_id, clinic_id):
    hours = conn.execute(select(note_deadlines.c.deadline_hours).where(
        note_deadlines.c.organisation_id == organisation_id,
        note_deadlines.c.clinic_id == clinic_id)).scalar()
    return hours if hours is not None else note_rules.DEFAULT_DEADLINE_HOURS


def addenda_counts(conn, note_ids):
    counts = {}
    if note_ids:
        for row in conn.execute(select(note_addenda.c.note_id)
                                .where(note_addenda.c.note_id.in_(note_ids))):
            counts[row.note_id] = counts.get(row.note_id, 0) + 1
    return counts


def note_summary(row):
    """A note's status and signatures, without its clinical text."""
    return {"note_id": row["note_id"], "appointment_id": row["appointment_id"],
            "client_id": row["client_id"], "clinician_id": row["clinician_id"],
            "session_start": iso(row["session_start"]), "status": row["status"],
            "format": row["format"], "signed_by": row["signed_by"],
            "signed_at": time_or_none(row["signed_at"]),
            "pending_supervision": row["pending_supervision"],
            "supervisor_id": row["supervisor_id"], "cosigned_by": row["cosigned_by"],
            "cosigned_at": time_or_none(row["cosigned_at"])}
