"""Progress notes as read: one row per session's note with its status and current
text, its addenda, who supervises whom, and each clinic's note deadline."""
from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, update

from shared.timeutil import parse_time

from shared.projection import upsert

from .base import metadata, projection, tenancy, to_json

progress_notes = Table(
    "progress_notes", metadata,
    Column("note_id", String(36), primary_key=True),
    Column("appointment_id", String(36), nullable=False, unique=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("clinician_id", String(200), nullable=False, index=True),
    Column("session_start", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("status", String(30), nullable=False),
    Column("format", String(10)),
    Column("sections", Text),  # JSON of the latest draft
    Column("drafts", Integer, nullable=False),
    Column("last_saved_at", DateTime(timezone=True)),
    Column("signed_by", String(200)),
    Column("signed_at", DateTime(timezone=True)),
    Column("pending_supervision", Boolean, nullable=False),
    Column("supervisor_id", String(200), index=True),
    Column("cosigned_by", String(200)),
    Column("cosigned_at", DateTime(timezone=True)),
)

note_addenda = Table(
    "note_addenda", metadata,
    Column("addendum_id", String(36), primary_key=True),
    Column("note_id", String(36), nullable=False, index=True),
    Column("client_id", String(36), nullable=False),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),  # the note stream's version
    Column("text", Text, nullable=False),
    Column("signed_by", String(200), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
)

clinician_supervision = Table(
    "clinician_supervision", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinician_id", String(200), primary_key=True),
    Column("clinic_id", String(64), nullable=False),
    Column("pre_licensed", Boolean, nullable=False),
    Column("supervisor_id", String(200)),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

note_deadlines = Table(
    "note_deadlines", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("deadline_hours", Integer, nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)


def _note(event):
    return progress_notes.c.note_id == event.data["note_id"]


@projection.on("ProgressNoteOpened")
def note_opened(conn, event):
    data = event.data
    upsert(conn, progress_notes, {"note_id": data["note_id"]}, dict(
        appointment_id=data["appointment_id"],
        client_id=data["client_id"], **tenancy(event), clinician_id=data["clinician_id"],
        session_start=parse_time(data["session_start"]), opened_at=parse_time(data["opened_at"]),
        status="due", format=None, sections=None, drafts=0, last_saved_at=None,
        signed_by=None, signed_at=None, pending_supervision=False, supervisor_id=None,
        cosigned_by=None, cosigned_at=None))


@projection.on("ProgressNoteDrafted")
def note_drafted(conn, event):
    data = event.data
    conn.execute(update(progress_notes).where(_note(event)).values(
        status="draft", format=data["format"], sections=to_json(data["sections"]),
        drafts=progress_notes.c.drafts + 1, last_saved_at=parse_time(data["saved_at"])))


@projection.on("NoteSigned")
def note_signed(conn, event):
    data = event.data
    conn.execute(update(progress_notes).where(_note(event)).values(
        status="pending_supervision" if data["pending_supervision"] else "signed",
        signed_by=data["signed_by"], signed_at=parse_time(data["signed_at"]),
        pending_supervision=data["pending_supervision"],
        supervisor_id=data.get("supervisor_id")))


@projection.on("NoteCoSigned")
def note_cosigned(conn, event):
    data = event.data
    conn.execute(update(progress_notes).where(_note(event)).values(
        status="signed", pending_supervision=False, cosigned_by=data["cosigned_by"],
        cosigned_at=parse_time(data["cosigned_at"])))


@projection.on("NoteAddendumAdded")
def addendum_added(conn, event):
    data = event.data
    upsert(conn, note_addenda, {"addendum_id": data["addendum_id"]}, dict(
        note_id=data["note_id"], client_id=data["client_id"],
        **tenancy(event), sequence=event.sequence, text=data["text"],
        signed_by=data["signed_by"], signed_at=parse_time(data["signed_at"])))


@projection.on("ClinicianSupervisionSet")
def supervision_set(conn, event):
    data = event.data
    upsert(conn, clinician_supervision, {"organisation_id": event.organisationid,
                                         "clinician_id": data["clinician_id"]}, dict(
        clinic_id=event.clinicid, pre_licensed=data["pre_licensed"],
        supervisor_id=data["supervisor_id"], set_by=data["set_by"],
        set_at=parse_time(data["set_at"])))


@projection.on("NoteDeadlineSet")
def deadline_set(conn, event):
    upsert(conn, note_deadlines, tenancy(event), dict(
        deadline_hours=event.data["deadline_hours"], set_by=event.data["set_by"],
        set_at=parse_time(event.data["set_at"])))
