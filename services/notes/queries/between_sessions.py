"""Between sessions as read: the client's homework with completion, and the journal
(the client sees every entry of theirs; clinicians and admins shared ones only)."""
from shared import paging
from shared.errors import NotFound
from shared.timeutil import iso

from ..read_models import homework, journal_entries
from .common import date_or_none, tenant_rows, time_or_none, visible_client
from .treatment_plan import completion


class BetweenSessionQueries:
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

    def assigned_homework(self, principal, client_id, homework_id):
        for row in self._homework_rows(principal, client_id,
                                       homework.c.homework_id == str(homework_id)):
            return homework_view(row)
        raise NotFound("homework not found")

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

    def journal_entry(self, principal, client_id, entry_id):
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
