"""The clinic's vocabularies, defined once (plain Python, no framework).

Event schemas (shared/events/) validate against these, and each service's
domain decides with them, so a word added here is known everywhere at once.
"""
# scheduling
MODALITIES = ("in_person", "video", "phone")
SESSION_TYPES = ("intake", "individual", "family", "group", "crisis")
PLACES_OF_SERVICE = ("office", "client_home", "elsewhere")
CANCELLED_BY = ("client", "clinician", "clinic")

# intake
PAYER_KINDS = ("self_pay", "insurer", "medicaid")
CONSENT_KINDS = ("treatment", "telehealth", "cancellation_policy", "data_sharing")
DISCHARGE_REASONS = ("planned_ending", "dropped_out", "referred_on")
# The grounds of GDPR Art. 17(1) a client's erasure is requested on.
ERASURE_LEGAL_BASES = ("no_longer_necessary", "consent_withdrawn", "objection",
                       "unlawfully_processed", "legal_obligation", "child_online_service")
CHANGE_CATEGORIES = ("recovered", "reliably_improved", "no_reliable_change",
                     "reliably_deteriorated")

# notes
GOAL_STATUSES = ("proposed", "active", "on_hold", "completed", "cancelled")
NOTE_FORMATS = ("SOAP", "DAP", "BIRP")
TREATMENT_STAGES = ("awareness", "change", "integration")
# The therapy's approach on the treatment plan ("other" takes free text), and the
# interventions a progress note records, grouped by the approach they come from; an
# organisation extends both (services/notes/domain/therapy.py).
THERAPY_APPROACHES = ("cognitive_behavioural", "psychodynamic", "humanistic", "systemic",
                      "integrative", "other")
INTERVENTIONS = {
    "cognitive_behavioural": ("cognitive_restructuring", "behavioural_activation", "exposure",
                              "mindfulness", "psychoeducation", "problem_solving"),
    "psychodynamic": ("interpretation", "transference_work", "free_association"),
    "humanistic": ("empathic_reflection", "chair_work", "focusing"),
    "systemic": ("family_sculpting", "genogram", "circular_questioning"),
    "integrative": (),
    "other": (),
}

# billing
PAYMENT_METHODS = ("card", "cash", "cheque", "transfer", "insurer")
CHARGE_STATUSES = ("held", "ready")
FEE_KINDS = ("late_cancel", "no_show", "assessment")
INVOICE_PER = ("period", "session")
