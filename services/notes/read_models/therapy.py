"""What the therapy does, as read: each organisation's own vocabulary and the
interventions recorded on each session's note (the plan's approach is in the plan's
history, read_models/plan.py)."""
from sqlalchemy import Column, DateTime, String, Table, Text

from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection, tenancy, to_json

therapy_vocabularies = Table(
    "therapy_vocabularies", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("approaches", Text, nullable=False),      # JSON [{code, label}]
    Column("interventions", Text, nullable=False),   # JSON [{code, label, approach}]
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

note_interventions = Table(
    "note_interventions", metadata,
    Column("note_id", String(36), primary_key=True),
    Column("appointment_id", String(36), nullable=False),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("interventions", Text, nullable=False),   # JSON [code]
    Column("approaches", Text, nullable=False),      # JSON [code]
    Column("other_text", Text),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


@projection.on("TherapyVocabularySet")
def vocabulary_set(conn, event):
    data = event.data
    upsert(conn, therapy_vocabularies, {"organisation_id": event.organisationid}, dict(
        approaches=to_json(data["approaches"]), interventions=to_json(data["interventions"]),
        set_by=data["set_by"], set_at=parse_time(data["set_at"])))


@projection.on("SessionInterventionsRecorded")
def interventions_recorded(conn, event):
    data = event.data
    upsert(conn, note_interventions, {"note_id": data["note_id"]}, dict(
        appointment_id=data["appointment_id"], client_id=data["client_id"], **tenancy(event),
        interventions=to_json(data["interventions"]), approaches=to_json(data["approaches"]),
        other_text=data["other_text"], recorded_by=data["recorded_by"],
        recorded_at=parse_time(data["recorded_at"])))
