"""What notes consumes from other services (shared/subscriptions.py)."""
from shared.subscriptions import READ_MODELS, Subscriptions

SUBSCRIPTIONS = Subscriptions({
    ("intake", "ClientRegistered"): READ_MODELS,  # the chart
    ("intake", "ClientErased"): "erase_client",  # shred the client's key, purge their rows
    ("intake", "ClientDetailsUpdated"): READ_MODELS,
    ("intake", "ClientAssessed"): READ_MODELS,
    ("scheduling", "SessionHeld"): "open_progress_note",
    ("intake", "CareTeamMemberAdded"): READ_MODELS,  # care teams
    ("intake", "CareTeamMemberRemoved"): READ_MODELS,
    ("intake", "BreakGlassAccessGranted"): READ_MODELS,
    ("scheduling", "AppointmentBooked"): READ_MODELS,
    ("intake", "AllianceConcernFlagged"): READ_MODELS,  # the notes-due view
    ("intake", "AllianceConcernAcknowledged"): READ_MODELS,
    ("intake", "DropoutRiskFlagged"): READ_MODELS,  # the notes-due view
    ("intake", "DropoutRiskAcknowledged"): READ_MODELS,
})
