"""Notes' read side: every query answers from the read models (read_models/), each
checking what the caller may see.

- treatment_plan: the plan with each goal's history and the client's GAS T-score
- progress_notes: one note, a client's notes, notes due, supervision, note deadline
- psychotherapy_notes: the author's own record, for the author only
- between_sessions: homework and the journal
- messaging: a client's thread, unread counts per clinician, messaging settings
- chart: the client's record and its timeline
- fhir: the plan and signed notes as FHIR resources
- therapy: the organisation's approaches and interventions, a note's interventions
"""
from .between_sessions import BetweenSessionQueries
from .chart import ChartQueries
from .fhir import FhirQueries
from .messaging import MessagingQueries
from .progress_notes import ProgressNoteQueries
from .psychotherapy_notes import PsychotherapyNoteQueries
from .therapy import TherapyQueries
from .treatment_plan import TreatmentPlanQueries


class NotesQueries(TreatmentPlanQueries, ProgressNoteQueries, PsychotherapyNoteQueries,
                   BetweenSessionQueries, ChartQueries, FhirQueries, MessagingQueries,
                   TherapyQueries):
    """Every query of notes, on the application's store."""
