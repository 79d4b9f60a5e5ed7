"""Events notes publishes. Psychotherapy notes are private: never published."""
from marshmallow import Schema, fields, validate

from . import catalogue
from ..vocabulary import GOAL_STATUSES, NOTE_FORMATS, TREATMENT_STAGES

SERVICE = "notes"


class GoalLevels(Schema):
    """Goal Attainment Scaling: what each level means for this goal."""
    much_less = fields.String(required=True, data_key="-2")
    less = fields.String(required=True, data_key="-1")
    expected = fields.String(required=True, data_key="0")
    more = fields.String(required=True, data_key="+1")
    much_more = fields.String(required=True, data_key="+2")


@catalogue.event(SERVICE, "GoalSet", 1,
                 "A treatment goal was set for a client (stream treatment-plan-<client_id>).",
                 sensitive=('description', 'levels'))
class GoalSetV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    target_date = fields.Date(required=True)
    # A target score is measured with an instrument (e.g. "PHQ-9"): never one without it.
    instrument = fields.String(allow_none=True, required=True,
                               validate=validate.Length(min=1, max=40))
    target_score = fields.Integer(allow_none=True, required=True, strict=True,
                                  validate=validate.Range(min=0))
    weight = fields.Integer(strict=True, validate=validate.Range(min=1))
    levels = fields.Nested(GoalLevels, allow_none=True)
    status = fields.String(validate=validate.OneOf(GOAL_STATUSES))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "DiagnosesSet", 1,
                 "The ICD-10 codes on the client's treatment plan (billing puts them on "
                 "superbills).")
class DiagnosesSetV1(Schema):
    client_id = fields.UUID(required=True)
    codes = fields.List(fields.String(validate=validate.Regexp(
        r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")), required=True)
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "NoteSigned", 1,
                 "A session's progress note was signed and locked; pending_supervision "
                 "when a supervisor must still co-sign.")
class NoteSignedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(NOTE_FORMATS))
    signed_by = fields.String(required=True)
    signed_at = fields.DateTime(required=True)
    pending_supervision = fields.Boolean(required=True)
    # Who must co-sign when pending_supervision (absent in events before it was added).
    supervisor_id = fields.String(allow_none=True)


@catalogue.event(SERVICE, "NoteCoSigned", 1,
                 "A supervisor co-signed a pre-licensed clinician's progress note.")
class NoteCoSignedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    cosigned_by = fields.String(required=True)
    cosigned_at = fields.DateTime(required=True)


# -- treatment plan: goal lifecycle, ratings, stage ------------------------------
@catalogue.event(SERVICE, "GoalRevised", 1,
                 "A goal's wording, date, weight, levels or target changed; the new values "
                 "replace the old ones, which stay in the plan's history.",
                 sensitive=('description', 'levels', 'reason'))
class GoalRevisedV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    target_date = fields.Date(required=True)
    instrument = fields.String(allow_none=True, required=True,
                               validate=validate.Length(min=1, max=40))
    target_score = fields.Integer(allow_none=True, required=True, strict=True,
                                  validate=validate.Range(min=0))
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    levels = fields.Nested(GoalLevels, allow_none=True, required=True)
    changed = fields.List(fields.String(), required=True)  # the fields that changed
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    revised_by = fields.String(required=True)
    revised_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "GoalStatusChanged", 1,
                 "A goal moved along its lifecycle (proposed, active, on_hold, completed, "
                 "cancelled; like FHIR Goal.lifecycleStatus).",
                 sensitive=('reason',))
class GoalStatusChangedV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(GOAL_STATUSES))
    previous_status = fields.String(required=True, validate=validate.OneOf(GOAL_STATUSES))
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    changed_by = fields.String(required=True)
    changed_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "GoalRated", 1,
                 "The Goal Attainment Scaling level (-2..+2) a goal was found at, at a "
                 "session held (appointment_id) or between sessions (null).")
class GoalRatedV1(Schema):
    goal_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    level = fields.Integer(required=True, strict=True, validate=validate.Range(min=-2, max=2))
    appointment_id = fields.UUID(allow_none=True, required=True)
    rated_by = fields.String(required=True)
    rated_at = fields.DateTime(required=True)




@catalogue.event(SERVICE, "TreatmentStageSet", 1,
                 "The clinician-set stage of the client's treatment (awareness, change, "
                 "integration).")
class TreatmentStageSetV1(Schema):
    client_id = fields.UUID(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(TREATMENT_STAGES))
    previous_stage = fields.String(allow_none=True, required=True,
                                   validate=validate.OneOf(TREATMENT_STAGES))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


# Approaches are codes of the organisation's vocabulary (built-ins extended by
# TherapyVocabularySet), so the schema checks their shape, not a fixed list.
_CODE = dict(validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$"))


@catalogue.event(SERVICE, "TreatmentApproachSet", 1,
                 "The therapy's approach(es) on the client's treatment plan (cognitive "
                 "behavioural, psychodynamic, humanistic, systemic, integrative, other or the "
                 "organisation's own); replaces the previous ones, which stay in the plan's "
                 "history. Intake breaks outcomes down by it.",
                 sensitive=('other_text',))
class TreatmentApproachSetV1(Schema):
    client_id = fields.UUID(required=True)
    approaches = fields.List(fields.String(**_CODE), required=True,
                             validate=validate.Length(min=1, max=6))
    # What "other" is, in the clinician's words.
    other_text = fields.String(allow_none=True, required=True,
                               validate=validate.Length(min=1, max=500))
    previous_approaches = fields.List(fields.String(**_CODE), required=True)
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


# -- progress notes ----------------------------------------------------------------
@catalogue.event(SERVICE, "SessionInterventionsRecorded", 1,
                 "The interventions used in a session, recorded on its progress note before "
                 "signing (the whole list, replacing the last), with the approaches they "
                 "come from.", private=True,
                 sensitive=('other_text',))
class SessionInterventionsRecordedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    interventions = fields.List(fields.String(**_CODE), required=True,
                                validate=validate.Length(max=20))
    approaches = fields.List(fields.String(**_CODE), required=True)
    other_text = fields.String(allow_none=True, required=True,
                               validate=validate.Length(min=1, max=500))
    recorded_by = fields.String(required=True)
    recorded_at = fields.DateTime(required=True)


class VocabularyEntry(Schema):
    code = fields.String(required=True, **_CODE)
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    approach = fields.String(**_CODE)  # an intervention's approach


@catalogue.event(SERVICE, "TherapyVocabularySet", 1,
                 "An organisation's own approaches and interventions, added to the built-in "
                 "vocabulary (stream therapy-vocabulary-<organisation>); replaces its "
                 "previous ones.", private=True)
class TherapyVocabularySetV1(Schema):
    approaches = fields.List(fields.Nested(VocabularyEntry), required=True,
                             validate=validate.Length(max=50))
    interventions = fields.List(fields.Nested(VocabularyEntry), required=True,
                                validate=validate.Length(max=50))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ProgressNoteOpened", 1,
                 "A session was held, so its progress note is due (stream "
                 "progress-note-<appointment_id>); no clinical text.")
class ProgressNoteOpenedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    clinician_id = fields.String(required=True)
    session_start = fields.DateTime(required=True)
    opened_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ProgressNoteDrafted", 1,
                 "A draft of a progress note was saved (clinical text: kept in notes).",
                 private=True,
                 sensitive=('sections',))
class ProgressNoteDraftedV1(Schema):
    note_id = fields.UUID(required=True)
    appointment_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    format = fields.String(required=True, validate=validate.OneOf(NOTE_FORMATS))
    sections = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    saved_by = fields.String(required=True)
    saved_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "NoteAddendumAdded", 1,
                 "An addendum to a signed progress note, signed by its author (clinical "
                 "text: kept in notes).", private=True,
                 sensitive=('text',))
class NoteAddendumAddedV1(Schema):
    note_id = fields.UUID(required=True)
    addendum_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    signed_by = fields.String(required=True)
    signed_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "ClinicianSupervisionSet", 1,
                 "Whether a clinician is pre-licensed and who co-signs their notes "
                 "(stream supervision-<organisation>-<clinician_id>).")
class ClinicianSupervisionSetV1(Schema):
    clinician_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    pre_licensed = fields.Boolean(required=True)
    supervisor_id = fields.String(allow_none=True, required=True,
                                  validate=validate.Length(min=1, max=200))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "NoteDeadlineSet", 1,
                 "How many hours after a session its note is due at a clinic (default 72); "
                 "the clinic is the envelope's clinicid.")
class NoteDeadlineSetV1(Schema):
    deadline_hours = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=1, max=24 * 60))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)


# -- psychotherapy notes: the author's own record, never published ------------------
@catalogue.event(SERVICE, "PsychotherapyNoteWritten", 1,
                 "A clinician's psychotherapy note (HIPAA 164.501): author-only, never "
                 "published, fed or charted (stream psychotherapy-note-<note_id>).",
                 private=True,
                 sensitive=('text',))
class PsychotherapyNoteWrittenV1(Schema):
    note_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    author_id = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=50000))
    written_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "PsychotherapyNoteRevised", 1,
                 "The author rewrote a psychotherapy note (never published).", private=True,
                 sensitive=('text',))
class PsychotherapyNoteRevisedV1(Schema):
    note_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    author_id = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=50000))
    revised_at = fields.DateTime(required=True)


# -- between sessions: homework and journaling (client text: never published) ---------
@catalogue.event(SERVICE, "HomeworkAssigned", 1,
                 "A clinician gave the client homework towards a goal (stream "
                 "homework-<homework_id>).", private=True,
                 sensitive=('instructions',))
class HomeworkAssignedV1(Schema):
    homework_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    goal_id = fields.UUID(required=True)
    instructions = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    due_date = fields.Date(required=True)
    assigned_by = fields.String(required=True)
    assigned_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "HomeworkCompleted", 1,
                 "The client marked homework done, with a reflection.", private=True,
                 sensitive=('reflection',))
class HomeworkCompletedV1(Schema):
    homework_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    reflection = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    completed_by = fields.String(required=True)
    completed_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "JournalEntryWritten", 1,
                 "The client wrote a journal entry (mood 0-10 and text); private to the "
                 "client unless shared (stream journal-entry-<entry_id>).", private=True,
                 sensitive=('text',))
class JournalEntryWrittenV1(Schema):
    entry_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    mood = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))
    text = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    shared = fields.Boolean(required=True)
    written_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "JournalEntrySharingChanged", 1,
                 "The client shared a journal entry with their clinicians, or took it back.",
                 private=True)
class JournalEntrySharingChangedV1(Schema):
    entry_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    shared = fields.Boolean(required=True)
    changed_at = fields.DateTime(required=True)


# -- secure messaging: a client's thread with their care team (never published) --------
@catalogue.event(SERVICE, "MessageSent", 1,
                 "A message of a client's thread with their care team (stream "
                 "message-<message_id>): sent by the client, a clinician, or the clinic's "
                 "auto-reply outside office hours. Clinical record: kept in notes.",
                 private=True, sensitive=('text',))
class MessageSentV1(Schema):
    message_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    sender_id = fields.String(required=True)
    sender_role = fields.String(required=True,
                                validate=validate.OneOf(("client", "clinician", "clinic")))
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    sent_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "MessageRead", 1,
                 "A reader (the client or a clinician) read a message: its read receipt.",
                 private=True)
class MessageReadV1(Schema):
    message_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    reader_id = fields.String(required=True)
    read_at = fields.DateTime(required=True)


@catalogue.event(SERVICE, "MessageFlagged", 1,
                 "A clinician flagged a message as clinically relevant: it is on the "
                 "chart's timeline.", private=True)
class MessageFlaggedV1(Schema):
    message_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    flagged_by = fields.String(required=True)
    flagged_at = fields.DateTime(required=True)


class OfficeHoursSpan(Schema):
    weekday = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=6))
    start = fields.String(required=True)
    end = fields.String(required=True)


@catalogue.event(SERVICE, "MessagingSettingsSet", 1,
                 "A clinic's messaging settings: its time zone, office hours and the "
                 "crisis-line text its auto-reply sends outside them (stream "
                 "messaging-settings-<organisation>-<clinic>).", private=True)
class MessagingSettingsSetV1(Schema):
    time_zone = fields.String(required=True)
    office_hours = fields.List(fields.Nested(OfficeHoursSpan), required=True)
    crisis_line = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    set_by = fields.String(required=True)
    set_at = fields.DateTime(required=True)
