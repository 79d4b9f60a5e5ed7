"""What scheduling consumes from other services (shared/subscriptions.py)."""
from shared.subscriptions import READ_MODELS, Subscriptions

SUBSCRIPTIONS = Subscriptions({
    ("intake", "ClientRegistered"): READ_MODELS,
    ("intake", "ClientErased"): "erase_client",  # shred the client's key, purge their rows
    ("intake", "ClientDetailsUpdated"): READ_MODELS,
    # Counted in the details revision stamped on what billing may charge a fee for
    ("intake", "ConsentGiven"): READ_MODELS,
    ("intake", "ConsentRevoked"): READ_MODELS,
    ("intake", "ClientAssessed"): "on_client_assessed",  # a new reassessment cycle
    ("intake", "EpisodeOpened"): READ_MODELS,
    ("intake", "ClientDischarged"): "on_client_discharged",
    ("intake", "CareTeamMemberAdded"): READ_MODELS,  # care teams
    ("intake", "CareTeamMemberRemoved"): READ_MODELS,
    ("intake", "BreakGlassAccessGranted"): READ_MODELS,
    ("notes", "ClinicianSupervisionSet"): READ_MODELS,
})
