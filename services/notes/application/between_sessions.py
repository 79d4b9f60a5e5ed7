"""Use cases between sessions: homework (a clinician assigns, the client marks done)
and the client's journal (private unless shared; clinicians see shared entries only)."""
import uuid

from shared import paging
from shared.errors import NotFound
from shared.timeutil import iso, utc_now

from ..domain import between_sessions as rules, treatment_plan as plan_rules
from ..read_models import homework, journal_entries
from .common import context_of, date_or_none, tenant_rows, time_or_none, visible_client
from .treatment_plan import completion


class BetweenSessionUseCases:
    # -- homework ---------------------------------------------------------------------
    def assign_homework(self, principal, correlation_id, client_id, command):
        homework_id = str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            plan = plan_rules.TreatmentPlan.from_events(
                record["client_id"], uow.load(plan_rules.stream_of(record["client_id"])))
            new_events = rules.assign_homework(
                plan, homework_id, command["goal_id"] and str(command["goal_id"]),
                command["instructions"], command["due_date"], principal.user_id, iso(utc_now()))
            uow.append(rules.homework_stream_of(homework_id), 0,
                       context_of(record, correlation_id, principal), new_events)
        return self._one_homework(principal, client_id, homework_id)

    def complete_homework(self, principal, correlation_id, client_id, homework_id, command):
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            stream = rules.homework_stream_of(homework_id)
            current = rules.Homework.from_events(str(homework_id), uow.load(stream))
            if current.client_id != record["client_id"]:
                raise NotFound("homework not found")
            new_events = rules.complete_homework(current, command["reflection"],
                                                 principal.user_id, iso(utc_now()))
            uow.append(stream, current.version, context_of(record, correlation_id, principal),
                       new_events)
        return self._one_homework(principal, client_id, homework_id)

    def client_homework(self, principal, client_id, query):
        """A page of the client's homework, with completion over all of it."""
        rows = self._homework_rows(principal, client_id)
        return paging.list_page("homework", [homework_view(r) for r in rows], query,
                                **completion(rows))

    def _homework_rows(self, principal, client_id, *where):
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            return tenant_rows(conn, principal, homework, record, homework.c.assigned_at,
                               homework.c.homework_id, where=where)

    def _one_homework(self, principal, client_id, homework_id):
        for row in self._homework_rows(principal, client_id,
                                       homework.c.homework_id == str(homework_id)):
            return homework_view(row)
        raise NotFound("homework not found")

    # -- journal ----------------------------------------------------------------------
    def write_journal_entry(self, principal, correlation_id, client_id, command):
        entry_id = str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            new_events = rules.write_journal_entry(
                entry_id, record["client_id"], command["mood"], command["text"],
                command.get("shared", False), iso(utc_now()))
            uow.append(rules.journal_stream_of(entry_id), 0,
                       context_of(record, correlation_id, principal), new_events)
        return self._one_entry(principal, client_id, entry_id)

    def share_journal_entry(self, principal, correlation_id, client_id, entry_id, command):
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            stream = rules.journal_stream_of(entry_id)
            entry = rules.JournalEntry.from_events(str(entry_id), uow.load(stream))
            if entry.client_id != record["client_id"]:
                raise NotFound("journal entry not found")
            new_events = rules.change_sharing(entry, command["shared"], iso(utc_now()))
            if new_events:
                uow.append(stream, entry.version, context_of(record, correlation_id, principal),
                           new_events)
        return self._one_entry(principal, client_id, entry_id)

    def journal(self, principal, client_id, query):
        """The client sees every entry of theirs; clinicians and admins shared ones only."""
        return paging.offset_page("entries", self._journal_rows(principal, client_id,
                                                                 page=query),
                                  query["limit"], query["offset"])

    def _journal_rows(self, principal, client_id, *where, page=None):
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            if principal.role != "client":
                where += (journal_entries.c.shared.is_(True),)
            rows = tenant_rows(conn, principal, journal_entries, record,
                               journal_entries.c.written_at, journal_entries.c.entry_id,
                               where=where, page=page)
        return [journal_view(r) for r in rows]

    def _one_entry(self, principal, client_id, entry_id):
        for entry in self._journal_rows(principal, client_id,
                                        journal_entries.c.entry_id == str(entry_id)):
            return entry
        raise NotFound("journal entry not found")


def homework_view(row):
    return {"homework_id": row["homework_id"], "goal_id": row["goal_id"],
            "instructions": row["instructions"], "due_date": date_or_none(row["due_date"]),
            "assigned_by": row["assigned_by"], "assigned_at": iso(row["assigned_at"]),
            "done": row["completed_at"] is not None,
            "completed_at": time_or_none(row["completed_at"]), "reflection": row["reflection"]}


def journal_view(row):
    return {"entry_id": row["entry_id"], "mood": row["mood"], "text": row["text"],
            "shared": row["shared"], "written_at": iso(row["written_at"])}
