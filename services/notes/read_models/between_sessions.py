"""Homework (with completion) and the client's journal entries as read."""
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, Text, update

from shared.timeutil import parse_date, parse_time

from shared.projection import upsert

from .base import metadata, projection, tenancy

homework = Table(
    "homework", metadata,
    Column("homework_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("goal_id", String(36), nullable=False),
    Column("instructions", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("assigned_by", String(200), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("reflection", Text),
)

journal_entries = Table(
    "journal_entries", metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("mood", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("sharing_changed_at", DateTime(timezone=True)),
)


@projection.on("HomeworkAssigned")
def homework_assigned(conn, event):
    data = event.data
    upsert(conn, homework, {"homework_id": data["homework_id"]}, dict(
        client_id=data["client_id"], **tenancy(event),
        goal_id=data["goal_id"], instructions=data["instructions"],
        due_date=parse_date(data["due_date"]), assigned_by=data["assigned_by"],
        assigned_at=parse_time(data["assigned_at"]), completed_at=None, reflection=None))


@projection.on("HomeworkCompleted")
def homework_completed(conn, event):
    data = event.data
    conn.execute(update(homework).where(homework.c.homework_id == data["homework_id"]).values(
        completed_at=parse_time(data["completed_at"]), reflection=data["reflection"]))


@projection.on("JournalEntryWritten")
def journal_entry_written(conn, event):
    data = event.data
    upsert(conn, journal_entries, {"entry_id": data["entry_id"]}, dict(
        client_id=data["client_id"], **tenancy(event),
        mood=data["mood"], text=data["text"], shared=data["shared"],
        written_at=parse_time(data["written_at"]), sharing_changed_at=None))


@projection.on("JournalEntrySharingChanged")
def journal_sharing_changed(conn, event):
    data = event.data
    conn.execute(update(journal_entries).where(journal_entries.c.entry_id == data["entry_id"])
                 .values(shared=data["shared"],
                         sharing_changed_at=parse_time(data["changed_at"])))
