"""Notes' use cases: each command is one unit of work (events + read models).

- treatment_plan: goals, ratings, diagnoses, stage; the plan view
- progress_notes: SessionHeld opens a note; drafts, signing, co-signing, addenda
- psychotherapy_notes: the author's own record
- between_sessions: homework and journaling
- chart: the client's record and its timeline
"""
from shared.application import Application

from ..read_models import projection
from ..subscriptions import SUBSCRIPTIONS
from .between_sessions import BetweenSessionUseCases
from .chart import ChartQueries
from .progress_notes import ProgressNoteUseCases
from .psychotherapy_notes import PsychotherapyNoteUseCases
from .treatment_plan import TreatmentPlanUseCases


class NotesApplication(TreatmentPlanUseCases, ProgressNoteUseCases, PsychotherapyNoteUseCases,
                       BetweenSessionUseCases, ChartQueries, Application):
    service = "notes"
    projection = projection
    subscriptions = SUBSCRIPTIONS
