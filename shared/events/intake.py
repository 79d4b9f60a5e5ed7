"""Events intake publishes. Consumers: scheduling, notes, billing, integrators."""
from marshmallow import Schema, fields, validate

from . import catalogue
from ..vocabulary import PAYER_KINDS, CONSENT_KINDS, DISCHARGE_REASONS, CHANGE_CATEGORIES, \
    ERASURE_LEGAL_BASES

SERVICE = "intake"


class Contact(Schema):
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    email_ok = fields.Boolean()
    text_ok = fields.Boolean()
    voicemail_ok = fields.Boolean()


class Guardian(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    relationship = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    email = fields.Email(allow_none=True)


class Address(Schema):
    line1 = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line2 = fields.String(allow_none=True, validate=validate.Length(max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    region = fields.String(allow_none=True, validate=validate.Length(max=100))
    postal_code = fields.String(allow_none=True, validate=validate.Length(max=20))
    country = fields.String(allow_none=True, validate=validate.Length(equal=2))  # ISO 3166


class Payer(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PAYER_KINDS))
    insurer_name = fields.String(allow_none=True)
    member_id = fields.String(allow_none=True)


@catalogue.event(SERVICE, "ClientRegistered", 1,
                 "A client was registered at a clinic (name is the legal name).",
                 sensitive=('name', 'preferred_name', 'pronouns', 'date_of_birth', 'contact', 'guardian', 'referral_source', 'payer', 'address', 'no_contact_reason'))
class ClientRegisteredV1(Schema):
    client_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    preferred_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    pronouns = fields.String(allow_none=True, validate=validate.Length(max=40))
    date_of_birth = fields.Date(required=True)
    contact = fields.Nested(Contact, required=True)
    guardian = fields.Nested(Guardian, allow_none=True)
    referral_source = fields.String(allow_none=True, validate=validate.Length(max=200))
    primary_clinician_id = fields.String(allow_none=True)
    payer = fields.Nested(Payer, allow_none=True)  # absent or null: self-pay
    registered_at = fields.DateTime(required=True)
    # The postal address a superbill carries (added within v1: optional).
    address = fields.Nested(Address, allow_none=True)
    # Why there is no phone or e-mail (added within v1: optional).
    no_contact_reason = fields.String(allow_none=True, validate=validate.Length(max=500))
    # 1; counts the client's details changes (added within v1: optional).
    details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ClientDetailsUpdated", 1,
                 "Some registration details changed; `changes` holds the new values by "
                 "ClientRegistered field name.",
                 sensitive=('changes',))
class ClientDetailsUpdatedV1(Schema):
    client_id = fields.UUID(required=True)
    changes = fields.Dict(keys=fields.String(), required=True)
    updated_at = fields.DateTime(required=True)
    # 2 for the first change, +1 each (added within v1: optional).
    details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ConsentGiven", 1,
                 "The client accepted a version of a consent document.")
class ConsentGivenV1(Schema):
    client_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CONSENT_KINDS))
    document_version = fields.String(required=True, validate=validate.Length(min=1, max=40))
    given_at = fields.DateTime(required=True)
    recorded_by = fields.String(required=True)
    # The client's details revision it makes, as a details change does: a fee decided
    # on consents waits for it (added within v1: optional).
    details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "ConsentRevoked", 1, "The client withdrew a consent.")
class ConsentRevokedV1(Schema):
    client_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CONSENT_KINDS))
    revoked_at = fields.DateTime(required=True)
    recorded_by = fields.String(required=True)
    # As ConsentGiven's (added within v1: optional).
    details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "EpisodeOpened", 1, "An episode of care began at intake.")
class EpisodeOpenedV1(Schema):
    client_id = fields.UUID(required=True)
    episode_id = fields.UUID(required=True)
    opened_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ClientDischarged", 1,
                 "The episode of care ended; scheduling cancels future appointments.")
class ClientDischargedV1(Schema):
    client_id = fields.UUID(required=True)
    episode_id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(DISCHARGE_REASONS))
    discharged_at = fields.DateTime(required=True)


class Change(Schema):
    """The change against the episode's baseline (Jacobson-Truax)."""
    baseline_assessment_id = fields.UUID(required=True)
    baseline_total = fields.Integer(required=True)
    difference = fields.Integer(required=True)  # total - baseline_total
    rci = fields.Float(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CHANGE_CATEGORIES))
    response = fields.Boolean(allow_none=True, required=True)   # None: not defined
    remission = fields.Boolean(allow_none=True, required=True)  # None: not defined


@catalogue.event(SERVICE, "ClientAssessed", 1,
                 "A standardized instrument was administered and scored; after the "
                 "baseline it carries the change against it.",
                 sensitive=('answers',))
class ClientAssessedV1(Schema):
    client_id = fields.UUID(required=True)
    assessment_id = fields.UUID(required=True)
    episode_id = fields.UUID(allow_none=True)
    instrument = fields.String(required=True)
    instrument_version = fields.Integer()
    kind = fields.String(required=True, validate=validate.OneOf(["initial", "reassessment"]))
    answers = fields.List(fields.Integer(), required=True)
    total = fields.Integer(required=True)
    severity = fields.String(required=True)
    change = fields.Nested(Change, allow_none=True)  # None for the baseline
    assessed_at = fields.DateTime(required=True)
    # The client's details revision when assessed (added within v1: optional).
    details_revision = fields.Integer(validate=validate.Range(min=1))


@catalogue.event(SERVICE, "RiskFlagRaised", 1,
                 "An answer signals risk (PHQ-9 item 9 above 0): on the clinic's risk list "
                 "until acknowledged.",
                 sensitive=('answer',))
class RiskFlagRaisedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    assessment_id = fields.UUID(required=True)
    instrument = fields.String(required=True)
    reason = fields.String(required=True)
    raised_at = fields.DateTime(required=True)
    episode_id = fields.UUID(allow_none=True)
    item = fields.Integer()     # the item (1-based) whose answer raised it
    answer = fields.Integer()


@catalogue.event(SERVICE, "RiskFlagAcknowledged", 1,
                 "A clinician acknowledged a risk flag and recorded what was done.",
                 sensitive=('action_taken',))
class RiskFlagAcknowledgedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    acknowledged_by = fields.String(required=True)
    acknowledged_at = fields.DateTime(required=True)
    action_taken = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AllianceSubscale(Schema):
    total = fields.Integer(required=True)
    mean = fields.Float(required=True)


@catalogue.event(SERVICE, "AllianceRated", 1,
                 "The client or their clinician rated the alliance of a held session on "
                 "the clinic's alliance measure (one rating per session).",
                 sensitive=('item_scores',))
class AllianceRatedV1(Schema):
    client_id = fields.UUID(required=True)
    session_id = fields.UUID(required=True)  # scheduling's appointment_id
    session_number = fields.Integer(required=True, validate=validate.Range(min=1))
    instrument = fields.String(required=True)
    instrument_version = fields.Integer(required=True)
    item_scores = fields.List(fields.Integer(), required=True)
    total = fields.Integer(required=True)
    # name -> total and mean of its items ({} for a measure without subscales)
    subscales = fields.Dict(keys=fields.String(), values=fields.Nested(AllianceSubscale),
                            required=True)
    rated_by = fields.String(required=True, validate=validate.OneOf(["client", "clinician"]))
    rated_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "AllianceConcernFlagged", 1,
                 "A rating is below the measure's concern threshold or dropped from the "
                 "client's running mean: a possible rupture, listed until acknowledged.")
class AllianceConcernFlaggedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    session_id = fields.UUID(required=True)
    instrument = fields.String(required=True)
    total = fields.Integer(required=True)
    rules = fields.List(fields.String(validate=validate.OneOf(
        ["below_threshold", "drop_from_mean"])), required=True)
    reason = fields.String(required=True)
    flagged_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "AllianceConcernAcknowledged", 1,
                 "A clinician acknowledged an alliance concern and recorded what was done.",
                 sensitive=('action_taken',))
class AllianceConcernAcknowledgedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    acknowledged_by = fields.String(required=True)
    acknowledged_at = fields.DateTime(required=True)
    action_taken = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@catalogue.event(SERVICE, "ReliableDeteriorationDetected", 1,
                 "An assessment is reliably worse than the baseline: an alert.")
class ReliableDeteriorationDetectedV1(Schema):
    client_id = fields.UUID(required=True)
    assessment_id = fields.UUID(required=True)
    instrument = fields.String(required=True)
    rci = fields.Float(required=True)
    detected_at = fields.DateTime(required=True)
    episode_id = fields.UUID(allow_none=True)
    baseline_total = fields.Integer()
    total = fields.Integer()


@catalogue.event(SERVICE, "NotOnTrackFlagged", 1,
                 "The clinic's not-on-track rule fired for a client.")
class NotOnTrackFlaggedV1(Schema):
    client_id = fields.UUID(required=True)
    instrument = fields.String(required=True)
    assessment_id = fields.UUID(allow_none=True, required=True)
    rule = fields.String(required=True)
    reason = fields.String(required=True)
    flagged_at = fields.DateTime(required=True)
    episode_id = fields.UUID(allow_none=True)


class Band(Schema):
    low = fields.Integer(required=True)
    high = fields.Integer(required=True)
    label = fields.String(required=True, validate=validate.Length(min=1, max=60))


class RiskItem(Schema):
    item = fields.Integer(required=True, validate=validate.Range(min=1))
    above = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


@catalogue.event(SERVICE, "InstrumentDefined", 1,
                 "An organisation defined (a new version of) a standardized instrument as "
                 "data; the envelope's clinicid is `*` (every clinic of the organisation).")
class InstrumentDefinedV1(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    items = fields.List(fields.String(), required=True)
    lowest = fields.Integer(required=True)
    highest = fields.Integer(required=True)
    reversed_items = fields.List(fields.Integer(), required=True)
    higher_is_worse = fields.Boolean(required=True)
    bands = fields.List(fields.Nested(Band), required=True)
    cut_off = fields.Integer(required=True)
    sd = fields.Float(required=True)
    reliability = fields.Float(required=True)
    reliable_change_threshold = fields.Integer(required=True)
    response_drop_percent = fields.Integer(allow_none=True, required=True)
    remission_below = fields.Integer(allow_none=True, required=True)
    risk_items = fields.List(fields.Nested(RiskItem), required=True)
    defined_by = fields.String(required=True)
    defined_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "NotOnTrackRuleSet", 1,
                 "A clinic's not-on-track rule (null turns a part off); replaces the "
                 "previous one.")
class NotOnTrackRuleSetV1(Schema):
    reassessments_without_improvement = fields.Integer(
        allow_none=True, required=True, validate=validate.Range(min=1))
    sessions_without_improvement = fields.Integer(
        allow_none=True, required=True, validate=validate.Range(min=1))
    on_reliable_deterioration = fields.Boolean(required=True)
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "CareTeamMemberAdded", 1,
                 "An admin added a clinician to a client's care team: they reach the "
                 "client's records (shared/care_team.py).")
class CareTeamMemberAddedV1(Schema):
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    added_by = fields.String(required=True)
    added_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "CareTeamMemberRemoved", 1,
                 "An admin took a clinician they had added off a client's care team.")
class CareTeamMemberRemovedV1(Schema):
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    removed_by = fields.String(required=True)
    removed_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "BreakGlassAccessGranted", 1,
                 "A clinician outside the care team stated a reason and reaches the client's "
                 "records until expires_at (PRAXIS_BREAK_GLASS_MINUTES); every service "
                 "honours it, the privacy officer reviews it.")
class BreakGlassAccessGrantedV1(Schema):
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    granted_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "AllianceSettingsSet", 1,
                 "A clinic's alliance measure, how often it is asked for and the drop from "
                 "a client's running mean that is a concern (null: off); replaces the "
                 "previous settings.")
class AllianceSettingsSetV1(Schema):
    instrument = fields.String(required=True)
    every_sessions = fields.Integer(required=True, validate=validate.Range(min=1))
    drop_points = fields.Integer(allow_none=True, required=True, validate=validate.Range(min=1))
    # The dropout-risk rule (added within v1: optional; absent means the default 2 in 60).
    dropout_misses = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=20))
    dropout_window_days = fields.Integer(validate=validate.Range(min=1, max=365))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "DropoutRiskFlagged", 1,
                 "A client is at risk of dropping out: an alliance concern and at least the "
                 "clinic's number of missed sessions (late cancellations, no-shows) within "
                 "its window; listed until acknowledged.")
class DropoutRiskFlaggedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    concern_flag_ids = fields.List(fields.UUID(), required=True)
    late_cancels = fields.Integer(required=True, validate=validate.Range(min=0))
    no_shows = fields.Integer(required=True, validate=validate.Range(min=0))
    window_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    misses_needed = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    reason = fields.String(required=True, validate=validate.Length(max=500))
    flagged_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "DropoutRiskAcknowledged", 1,
                 "A clinician acknowledged a dropout risk and recorded what was done.",
                 sensitive=('action_taken',))
class DropoutRiskAcknowledgedV1(Schema):
    client_id = fields.UUID(required=True)
    flag_id = fields.UUID(required=True)
    acknowledged_by = fields.String(required=True)
    acknowledged_at = fields.DateTime(required=True)
    action_taken = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# -- erasure (README "Erasure") ------------------------------------------------------
@catalogue.event(SERVICE, "ClientErasureRequested", 1,
                 "A privacy officer (or admin) asked for the client's erasure; the reason "
                 "is sealed under the client's key and goes with it.",
                 sensitive=('reason',))
class ClientErasureRequestedV1(Schema):
    client_id = fields.UUID(required=True)
    request_id = fields.UUID(required=True)
    legal_basis = fields.String(required=True, validate=validate.OneOf(ERASURE_LEGAL_BASES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    requested_by = fields.String(required=True)
    requested_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ClientErasureRefused", 1,
                 "The erasure request was refused: the clinical record is still retained "
                 "(`retained_until` null while an episode of care is open).")
class ClientErasureRefusedV1(Schema):
    client_id = fields.UUID(required=True)
    request_id = fields.UUID(required=True)
    retained_until = fields.Date(required=True, allow_none=True)
    refused_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ClientErased", 1,
                 "The client was erased: every service destroys its data keys for the "
                 "client and purges the client's read-model rows. No personal data.")
class ClientErasedV1(Schema):
    client_id = fields.UUID(required=True)
    request_id = fields.UUID(required=True)
    legal_basis = fields.String(required=True, validate=validate.OneOf(ERASURE_LEGAL_BASES))
    erased_at = fields.DateTime(required=True)
    erased_by = fields.String(required=True)
