"""What intake consumes from other services (shared/subscriptions.py)."""
from shared.subscriptions import READ_MODELS, Subscriptions

SUBSCRIPTIONS = Subscriptions({
    ("scheduling", "ReassessmentDue"): READ_MODELS,  # the pending reassessments
    ("scheduling", "SessionHeld"): "on_session_held",  # the not-on-track rule counts sessions
    ("scheduling", "AppointmentBooked"): READ_MODELS,  # care teams
    ("notes", "ClinicianSupervisionSet"): READ_MODELS,  # care teams
    ("notes", "TreatmentApproachSet"): READ_MODELS,  # outcomes by approach
    # Missed sessions: the dropout-risk rule (a client's late cancellations, no-shows).
    ("scheduling", "AppointmentCancelled"): "on_session_missed",
    ("scheduling", "AppointmentNoShow"): "on_session_missed",
})
