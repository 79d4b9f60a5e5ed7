"""What billing consumes from other services (shared/subscriptions.py)."""
from shared.subscriptions import READ_MODELS, Subscriptions

SUBSCRIPTIONS = Subscriptions({
    ("scheduling", "SessionHeld"): "charge_session",
    ("scheduling", "AppointmentCancelled"): "charge_late_cancel",
    ("scheduling", "AppointmentNoShow"): "charge_no_show",
    ("scheduling", "AppointmentBooked"): READ_MODELS,  # care teams
    ("intake", "ClientRegistered"): READ_MODELS,  # the client and their payer's history
    ("intake", "ClientErased"): "erase_client",  # shred the client's key, purge their rows
    ("intake", "ClientDetailsUpdated"): READ_MODELS,
    ("intake", "ConsentGiven"): READ_MODELS,
    ("intake", "ConsentRevoked"): READ_MODELS,
    ("intake", "ClientAssessed"): "charge_instrument",  # 96127
    ("intake", "CareTeamMemberAdded"): READ_MODELS,  # care teams
    ("intake", "CareTeamMemberRemoved"): READ_MODELS,
    ("intake", "BreakGlassAccessGranted"): READ_MODELS,
    ("notes", "NoteSigned"): "release_held_charge",
    ("notes", "NoteCoSigned"): "release_held_charge",
    ("notes", "DiagnosesSet"): READ_MODELS,
    ("notes", "ClinicianSupervisionSet"): READ_MODELS,  # care teams
})
