"""Commands between sessions: homework (a clinician assigns it, the client marks it done)
and the client's journal (private unless shared)."""
import uuid

from shared.errors import NotFound
from shared.timeutil import iso, utc_now

from ..domain import between_sessions as rules
from ..domain.between_sessions import Homework, JournalEntry
from ..domain.treatment_plan import TreatmentPlan
from ..queries.common import visible_client


class BetweenSessionCommands:
    # -- homework ---------------------------------------------------------------------
    def assign_homework(self, caller, client_id, command):
        principal = caller.principal
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            plan = uow.get(TreatmentPlan, record["client_id"])
            homework = uow.get(Homework, str(uuid.uuid4()))  # new: at version 0
            uow.save(homework, caller.context_of(record), rules.assign_homework(
                plan, homework.homework_id, command["goal_id"] and str(command["goal_id"]),
                command["instructions"], command["due_date"], principal.user_id,
                iso(utc_now())))
        return self.assigned_homework(principal, client_id, homework.homework_id)

    def complete_homework(self, caller, client_id, homework_id, command):
        principal = caller.principal
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            homework = uow.get(Homework, str(homework_id))
            if homework.client_id != record["client_id"]:
                raise NotFound("homework not found")
            uow.save(homework, caller.context_of(record), rules.complete_homework(
                homework, command["reflection"], principal.user_id, iso(utc_now())))
        return self.assigned_homework(principal, client_id, homework_id)

    # -- journal ----------------------------------------------------------------------
    def write_journal_entry(self, caller, client_id, command):
        principal = caller.principal
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            entry = uow.get(JournalEntry, str(uuid.uuid4()))  # new: at version 0
            uow.save(entry, caller.context_of(record), rules.write_journal_entry(
                entry.entry_id, record["client_id"], command["mood"], command["text"],
                command.get("shared", False), iso(utc_now())))
        return self.journal_entry(principal, client_id, entry.entry_id)

    def share_journal_entry(self, caller, client_id, entry_id, command):
        principal = caller.principal
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            entry = uow.get(JournalEntry, str(entry_id))
            if entry.client_id != record["client_id"]:
                raise NotFound("journal entry not found")
            uow.save(entry, caller.context_of(record),
                     rules.change_sharing(entry, command["shared"], iso(utc_now())))
        return self.journal_entry(principal, client_id, entry_id)
