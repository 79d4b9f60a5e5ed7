"""The author's own view of their psychotherapy notes: the only read model that
holds their text. Nothing else (chart, plan, progress notes, feeds) reads it,
and every query of it names the author."""
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, update

from shared.timeutil import parse_time

from shared.projection import upsert

from .base import metadata, projection, tenancy

authors_psychotherapy_notes = Table(
    "authors_psychotherapy_notes", metadata,
    Column("note_id", String(36), primary_key=True),
    Column("author_id", String(200), nullable=False, index=True),
    Column("client_id", String(36), nullable=False),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("revised_at", DateTime(timezone=True)),
    Column("revisions", Integer, nullable=False),
)


@projection.on("PsychotherapyNoteWritten")
def written(conn, event):
    data = event.data
    upsert(conn, authors_psychotherapy_notes, {"note_id": data["note_id"]}, dict(
        author_id=data["author_id"], client_id=data["client_id"],
        **tenancy(event), text=data["text"], written_at=parse_time(data["written_at"]),
        revised_at=None, revisions=0))


@projection.on("PsychotherapyNoteRevised")
def revised(conn, event):
    data = event.data
    table = authors_psychotherapy_notes
    conn.execute(update(table).where(table.c.note_id == data["note_id"]).values(
        text=data["text"], revised_at=parse_time(data["revised_at"]),
        revisions=table.c.revisions + 1))
