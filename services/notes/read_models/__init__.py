"""Notes' read models: tables derived only from events (see shared.projection.rebuild).

- chart: the client, assessments and sessions held (from intake and scheduling)
- plan: goals and the treatment plan's history
- progress_notes: session notes, addenda, supervision, note deadlines
- psychotherapy_notes: the author's own view (the only table with their text)
- between_sessions: homework and journal entries
- messaging: the client's thread with the care team, receipts, clinics' settings
- alliance: intake's open alliance concerns (the notes-due view)
- therapy: organisations' own approaches and interventions, each note's interventions
- dropout: intake's open dropout risks (the notes-due view)
"""
from .alliance import alliance_concerns  # noqa: F401
from .base import metadata, projection  # noqa: F401
from .between_sessions import homework, journal_entries  # noqa: F401
from .messaging import message_reads, messages, messaging_settings  # noqa: F401
from .chart import chart_assessments, chart_sessions, clients  # noqa: F401
from .plan import plan_goals, plan_history  # noqa: F401
from .progress_notes import (  # noqa: F401
    clinician_supervision, note_addenda, note_deadlines, progress_notes,
)
from .psychotherapy_notes import authors_psychotherapy_notes  # noqa: F401
from .therapy import note_interventions, therapy_vocabularies  # noqa: F401
from .dropout import dropout_risks  # noqa: F401
