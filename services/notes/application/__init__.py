"""Notes' application: each command is one unit of work (events + read models), loading
its aggregate with `uow.get` and saving what the domain decided with `uow.save`.
Commands take the Caller (principal + correlation) whose events they append.

- treatment_plan: goals, ratings, diagnoses, stage
- progress_notes: SessionHeld opens a note (a reaction); drafts, signing, co-signing,
  addenda; supervision and the clinic's note deadline
- psychotherapy_notes: the author's own record
- between_sessions: homework and journaling
- messaging: the client's thread with their care team, receipts, flags, auto-reply
- therapy: the plan's approach, a session's interventions, the organisation's vocabulary

The queries are the read side's (services/notes/queries/).
"""
from shared.application import Application

from ..queries import NotesQueries
from ..read_models import projection
from ..subscriptions import SUBSCRIPTIONS
from .between_sessions import BetweenSessionCommands
from .messaging import MessagingCommands
from .progress_notes import ProgressNoteCommands
from .psychotherapy_notes import PsychotherapyNoteCommands
from .therapy import TherapyCommands
from .treatment_plan import TreatmentPlanCommands


class NotesApplication(TreatmentPlanCommands, ProgressNoteCommands, PsychotherapyNoteCommands,
                       BetweenSessionCommands, MessagingCommands, TherapyCommands,
                       NotesQueries, Application):
    service = "notes"
    projection = projection
    subscriptions = SUBSCRIPTIONS

    def refresh_gauges(self):
        """Notes overdue per clinic; messages unread for over a day per clinician."""
        self.refresh_notes_overdue_gauge()
        self.refresh_message_gauge()
