"""Messages as read: the thread's messages, who read each when, and each clinic's
messaging settings.

`messages.text` is the one read-model column holding message text (the sealed-column
work switches it there alone); receipts, flags and counts never copy it.
"""
from sqlalchemy import Column, DateTime, String, Table, Text, update

from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection, tenancy, to_json

messages = Table(
    "messages", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("sender_role", String(20), nullable=False),  # client, clinician, clinic
    Column("text", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("flagged_by", String(200)),
    Column("flagged_at", DateTime(timezone=True)),
)

message_reads = Table(
    "message_reads", metadata,
    Column("message_id", String(36), primary_key=True),
    Column("reader_id", String(200), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("read_at", DateTime(timezone=True), nullable=False),
)

messaging_settings = Table(
    "messaging_settings", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("time_zone", String(64), nullable=False),
    Column("office_hours", Text, nullable=False),  # JSON [{weekday, start, end}]
    Column("crisis_line", Text, nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
)


@projection.on("MessageSent")
def message_sent(conn, event):
    data = event.data
    upsert(conn, messages, {"message_id": data["message_id"]}, dict(
        client_id=data["client_id"], **tenancy(event), sender_id=data["sender_id"],
        sender_role=data["sender_role"], text=data["text"],
        sent_at=parse_time(data["sent_at"]), flagged_by=None, flagged_at=None))


@projection.on("MessageRead")
def message_read(conn, event):
    data = event.data
    upsert(conn, message_reads, {"message_id": data["message_id"],
                                 "reader_id": data["reader_id"]},
           dict(client_id=data["client_id"], read_at=parse_time(data["read_at"])))


@projection.on("MessageFlagged")
def message_flagged(conn, event):
    data = event.data
    conn.execute(update(messages).where(messages.c.message_id == data["message_id"]).values(
        flagged_by=data["flagged_by"], flagged_at=parse_time(data["flagged_at"])))


@projection.on("MessagingSettingsSet")
def settings_set(conn, event):
    data = event.data
    upsert(conn, messaging_settings, tenancy(event), dict(
        time_zone=data["time_zone"], office_hours=to_json(data["office_hours"]),
        crisis_line=data["crisis_line"], set_by=data["set_by"],
        set_at=parse_time(data["set_at"])))
