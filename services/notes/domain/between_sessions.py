"""Between sessions: homework towards a goal, and the client's journal.

Homework is the stream `homework-<homework_id>`: a clinician assigns it
against a goal of the plan; the client marks it done once, with a reflection.
A journal entry is the stream `journal-entry-<entry_id>`: the client writes
mood (0-10) and text; it stays private to the client unless shared.
"""
from dataclasses import dataclass

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput

from .treatment_plan import CLOSED
from .validation import Errors, integer, iso_date, text

INSTRUCTIONS_MAX = 5000
REFLECTION_MAX = 5000
JOURNAL_MAX = 20000


@dataclass
class Homework(Aggregate):
    STREAM = "homework-{}"
    homework_id: str
    version: int = 0
    client_id: str = None
    completed_at: str = None

    def _on_HomeworkAssigned(self, event, data):
        self.client_id = data["client_id"]

    def _on_HomeworkCompleted(self, event, data):
        self.client_id, self.completed_at = data["client_id"], data["completed_at"]


@dataclass
class JournalEntry(Aggregate):
    STREAM = "journal-entry-{}"
    entry_id: str
    version: int = 0
    client_id: str = None
    shared: bool = False

    def _on_JournalEntryWritten(self, event, data):
        self.client_id, self.shared = data["client_id"], data["shared"]

    def _on_JournalEntrySharingChanged(self, event, data):
        self.client_id, self.shared = data["client_id"], data["shared"]


def assign_homework(plan, homework_id, goal_id, instructions, due_date, assigned_by,
                    assigned_at):
    """-> [HomeworkAssigned] towards an open goal of the client's plan."""
    errors = Errors("homework")
    goal = plan.goals.get(str(goal_id)) if goal_id is not None else None
    if goal is None:
        errors.add("goal_id", "no such goal on the client's treatment plan")
    text(instructions, "instructions", errors, INSTRUCTIONS_MAX)
    due = iso_date(due_date, "due_date", errors)
    errors.raise_any()
    if goal.status in CLOSED:
        raise Conflict(f"the goal is {goal.status}: homework goes towards an open goal")
    return [NewEvent("HomeworkAssigned", {
        "homework_id": homework_id, "client_id": plan.client_id, "goal_id": goal.goal_id,
        "instructions": instructions, "due_date": due, "assigned_by": assigned_by,
        "assigned_at": assigned_at})]


def complete_homework(homework, reflection, completed_by, completed_at):
    """The client marks homework done -> [HomeworkCompleted]; once only."""
    if homework.completed_at is not None:
        raise Conflict(f"the homework was already marked done at {homework.completed_at}")
    errors = Errors("homework")
    text(reflection, "reflection", errors, REFLECTION_MAX)
    errors.raise_any()
    return [NewEvent("HomeworkCompleted", {
        "homework_id": homework.homework_id, "client_id": homework.client_id,
        "reflection": reflection, "completed_by": completed_by,
        "completed_at": completed_at})]


def write_journal_entry(entry_id, client_id, mood, text_, shared, written_at):
    """-> [JournalEntryWritten]; private unless `shared`."""
    errors = Errors("journal entry")
    integer(mood, "mood", errors, minimum=0, maximum=10)
    text(text_, "text", errors, JOURNAL_MAX)
    if not isinstance(shared, bool):
        errors.add("shared", "must be true or false")
    errors.raise_any()
    return [NewEvent("JournalEntryWritten", {
        "entry_id": entry_id, "client_id": client_id, "mood": mood, "text": text_,
        "shared": shared, "written_at": written_at})]


def change_sharing(entry, shared, changed_at):
    """Share an entry with the client's clinicians, or take it back -> [] when unchanged."""
    if not isinstance(shared, bool):
        raise InvalidInput("invalid sharing", {"shared": ["must be true or false"]})
    if shared == entry.shared:
        return []
    return [NewEvent("JournalEntrySharingChanged", {
        "entry_id": entry.entry_id, "client_id": entry.client_id, "shared": shared,
        "changed_at": changed_at})]


def completion_rate(assigned, completed):
    """Completed / assigned as a fraction with 3 decimals; None when nothing was assigned."""
    return round(completed / assigned, 3) if assigned else None
