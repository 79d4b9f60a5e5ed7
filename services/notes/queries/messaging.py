"""Messages as read: a client's thread (the client sees their own; the care team
theirs), with each message's receipts; unread counts per clinician (and the gauge of
those unread for over a day); a clinic's messaging settings."""
import json
from datetime import timedelta

from sqlalchemy import and_, exists, or_, select

from shared import care_team, metrics, paging
from shared.errors import Forbidden, NotFound
from shared.timeutil import aware, iso, utc_now

from ..domain import messaging as rules
from ..read_models import message_reads, messages, messaging_settings
from .common import tenant_rows, visible_client

UNREAD_FOR_LONG = timedelta(days=1)


class MessagingQueries:
    def thread(self, principal, client_id, query):
        """A page of the client's thread, oldest first, each message with its receipts."""
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            rows = tenant_rows(conn, principal, messages, record, messages.c.sent_at,
                               messages.c.message_id, page=query)
            receipts = _receipts(conn, [r["message_id"] for r in rows])
        return paging.offset_page("messages", [message_view(r, receipts) for r in rows],
                                  query["limit"], query["offset"])

    def thread_message(self, principal, client_id, message_id):
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            rows = tenant_rows(conn, principal, messages, record, messages.c.message_id,
                               where=(messages.c.message_id == str(message_id),))
            receipts = _receipts(conn, [r["message_id"] for r in rows])
        for row in rows:
            return message_view(row, receipts)
        raise NotFound("message not found")

    def unread_messages(self, principal, clinician_id, now=None):
        """The client messages a clinician has not read, per client of their care team,
        at the token's clinics (a clinician asks for their own only)."""
        if principal.role == "clinician" and principal.user_id != clinician_id:
            raise Forbidden("a clinician sees their own unread messages")
        now = now or utc_now()
        with self.store.read() as conn:
            rows = unread_rows(conn, now, now, principal.organisation_id, clinician_id,
                               principal.clinic_filter())
        threads = {}
        for row in rows:
            thread = threads.setdefault(row.client_id, {
                "client_id": row.client_id, "clinic_id": row.clinic_id, "unread": 0,
                "oldest_unread_at": iso(row.sent_at)})
            thread["unread"] += 1
        older = sum(1 for r in rows if aware(r.sent_at) <= now - UNREAD_FOR_LONG)
        return {"clinician_id": clinician_id, "as_of": iso(now), "unread": len(rows),
                "unread_over_a_day": older, "threads": list(threads.values())}

    def refresh_message_gauge(self, now=None):
        """praxis_messages_unread_over_a_day per clinician of a client's care team, with
        0 for every clinician of a care team here (a clinician up to date shows 0, not
        no data)."""
        now = now or utc_now()
        team = care_team.care_team
        with self.store.read() as conn:
            counts = {tuple(row): 0 for row in conn.execute(
                select(team.c.organisation_id, team.c.clinic_id, team.c.clinician_id)
                .where(team.c.why != care_team.BREAK_GLASS).distinct())}
            for row in unread_rows(conn, now, now - UNREAD_FOR_LONG):
                key = (row.organisation_id, row.clinic_id, row.clinician_id)
                counts[key] = counts.get(key, 0) + 1
        metrics.set_per_clinician(metrics.MESSAGES_UNREAD_OVER_A_DAY, self.service, counts)
        return counts

    def messaging_settings(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            settings = settings_row(conn, principal.organisation_id, clinic_id)
        if settings is None:
            return {"clinic_id": clinic_id, "time_zone": None, "office_hours": [],
                    "crisis_line": None, "auto_reply": None}
        return {"clinic_id": clinic_id, **settings,
                "auto_reply": rules.auto_reply_text(settings)}


def unread_rows(conn, now, sent_before, organisation_id=None, clinician_id=None, clinics=None):
    """(organisation, clinic, clinician, client, message, sent_at) of every client message
    sent before `sent_before` that a member of the client's care team (primary, session,
    added: not a supervisor, not break-glass) has not read."""
    team = care_team.care_team
    statement = (select(messages.c.organisation_id, messages.c.clinic_id,
                        messages.c.client_id, messages.c.message_id, messages.c.sent_at,
                        team.c.clinician_id)
                 .join(team, and_(team.c.organisation_id == messages.c.organisation_id,
                                  team.c.client_id == messages.c.client_id,
                                  team.c.why != care_team.BREAK_GLASS))
                 .where(messages.c.sender_role == rules.CLIENT,
                        messages.c.sent_at <= sent_before,
                        or_(team.c.until.is_(None), team.c.until > now),
                        ~exists().where(message_reads.c.message_id == messages.c.message_id,
                                        message_reads.c.reader_id == team.c.clinician_id))
                 .distinct()
                 .order_by(messages.c.sent_at, messages.c.message_id))
    if organisation_id is not None:
        statement = statement.where(messages.c.organisation_id == organisation_id)
    if clinician_id is not None:
        statement = statement.where(team.c.clinician_id == clinician_id)
    if clinics is not None:
        statement = statement.where(messages.c.clinic_id.in_(clinics))
    return conn.execute(statement).all()


def settings_row(conn, organisation_id, clinic_id):
    """The clinic's messaging settings as the domain reads them, or None when unset."""
    row = conn.execute(select(messaging_settings).where(
        messaging_settings.c.organisation_id == organisation_id,
        messaging_settings.c.clinic_id == clinic_id)).first()
    if row is None:
        return None
    return {"time_zone": row.time_zone, "office_hours": json.loads(row.office_hours),
            "crisis_line": row.crisis_line, "set_by": row.set_by, "set_at": iso(row.set_at)}


def _receipts(conn, message_ids):
    found = {}
    if message_ids:
        for row in conn.execute(select(message_reads)
                                .where(message_reads.c.message_id.in_(message_ids))
                                .order_by(message_reads.c.read_at, message_reads.c.reader_id)):
            found.setdefault(row.message_id, []).append(
                {"reader_id": row.reader_id, "read_at": iso(row.read_at)})
    return found


def message_view(row, receipts):
    return {"message_id": row["message_id"], "client_id": row["client_id"],
            "sender_id": row["sender_id"], "sender_role": row["sender_role"],
            "auto_reply": row["sender_role"] == rules.CLINIC, "text": row["text"],
            "sent_at": iso(row["sent_at"]), "read_by": receipts.get(row["message_id"], []),
            "flagged": row["flagged_at"] is not None, "flagged_by": row["flagged_by"],
            "flagged_at": iso(row["flagged_at"]) if row["flagged_at"] else None}
