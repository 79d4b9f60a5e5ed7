"""Request payloads of notes' API, validated before any domain code runs.

Types and ranges are checked here; the rules of the record (a target score
needs its instrument, a format's sections, the goal lifecycle) are the
domain's.
"""
from marshmallow import Schema, fields, validate

from shared.limits import ID_ALPHABET, MAX_USER_ID
from shared.paging import PageQuery
from shared.vocabulary import GOAL_STATUSES, NOTE_FORMATS, TREATMENT_STAGES

from .domain import DESCRIPTION_MAX, INSTRUMENT_MAX
from .domain.between_sessions import INSTRUCTIONS_MAX, JOURNAL_MAX, REFLECTION_MAX
from .domain.messaging import CRISIS_LINE_MAX, OFFICE_HOURS_MAX, TEXT_MAX as MESSAGE_MAX
from .domain.progress_notes import ADDENDUM_MAX, DEADLINE_HOURS_MAX, FORMATS, SECTION_MAX
from .domain.psychotherapy_notes import TEXT_MAX
from .domain.therapy import (APPROACHES_MAX, CODE_MAX, EXTENSIONS_MAX, INTERVENTIONS_MAX,
                             LABEL_MAX, OTHER_TEXT_MAX)
from .domain.treatment_plan import (DEFAULT_STATUS, DIAGNOSES_MAX, LEVEL_KEYS, LEVEL_TEXT_MAX,
                                    NEW_STATUSES, REASON_MAX)

# Keys are checked by the domain (which names the unknown level); bounded here.
_levels = dict(keys=fields.String(validate=validate.Length(max=8)), values=fields.String(
    validate=validate.Length(min=1, max=LEVEL_TEXT_MAX)), allow_none=True,
    validate=validate.Length(max=len(LEVEL_KEYS)))
MAX_TARGET_SCORE = 1000  # above any instrument's total score
_reason = dict(load_default=None, allow_none=True, validate=validate.Length(max=REASON_MAX))


class SetGoalSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    target_date = fields.Date(required=True)
    instrument = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(min=1, max=INSTRUMENT_MAX))
    # "Needs an instrument" is the domain's rule (domain.set_goal), not a type check.
    target_score = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  validate=validate.Range(min=0, max=MAX_TARGET_SCORE))
    weight = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=100))
    # The five Goal Attainment Scaling levels: {"-2": ..., "-1": ..., "0": ..., "+1": ..., "+2": ...}
    levels = fields.Dict(load_default=None, **_levels)
    status = fields.String(load_default=DEFAULT_STATUS, validate=validate.OneOf(NEW_STATUSES))


class ReviseGoalSchema(Schema):
    """Only the terms given change; the rest stay."""
    description = fields.String(validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    target_date = fields.Date()
    instrument = fields.String(allow_none=True, validate=validate.Length(min=1, max=INSTRUMENT_MAX))
    target_score = fields.Integer(allow_none=True, strict=True,
                                  validate=validate.Range(min=0, max=MAX_TARGET_SCORE))
    weight = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    levels = fields.Dict(**_levels)
    reason = fields.String(**_reason)


class GoalStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(GOAL_STATUSES))
    reason = fields.String(**_reason)


class RateGoalSchema(Schema):
    level = fields.Integer(required=True, strict=True, validate=validate.Range(min=-2, max=2))
    appointment_id = fields.UUID(load_default=None, allow_none=True)


class DiagnosesSchema(Schema):
    # The domain says which item is not an ICD-10 code.
    codes = fields.List(fields.String(validate=validate.Length(min=1, max=10)), required=True,
                        validate=validate.Length(max=DIAGNOSES_MAX))


class StageSchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(TREATMENT_STAGES))


# Section names are checked by the domain against the format; bounded here.
_sections = dict(keys=fields.String(validate=validate.Length(max=64)), values=fields.String(
    validate=validate.Length(max=SECTION_MAX)),
    validate=validate.Length(max=max(len(names) for names in FORMATS.values())))


class DraftSchema(Schema):
    format = fields.String(required=True, validate=validate.OneOf(NOTE_FORMATS))
    sections = fields.Dict(required=True, **_sections)


class SignSchema(Schema):
    """Sign the saved draft; or give the final draft here to save and sign it at once."""
    format = fields.String(load_default=None, validate=validate.OneOf(NOTE_FORMATS))
    sections = fields.Dict(load_default=None, **_sections)


class AddendumSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=ADDENDUM_MAX))


class SupervisionSchema(Schema):
    pre_licensed = fields.Boolean(required=True)
    supervisor_id = fields.String(load_default=None, allow_none=True,
                                  validate=[validate.Length(min=1, max=MAX_USER_ID),
                                            ID_ALPHABET])
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class NoteDeadlineSchema(Schema):
    deadline_hours = fields.Integer(required=True, strict=True,
                                    validate=validate.Range(min=1, max=DEADLINE_HOURS_MAX))


class PsychotherapyNoteSchema(Schema):
    client_id = fields.UUID(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=TEXT_MAX))


class PsychotherapyNoteRevisionSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=TEXT_MAX))


class PsychotherapyNotesQuery(PageQuery):
    client_id = fields.UUID(load_default=None)
    clinic_id = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class HomeworkSchema(Schema):
    goal_id = fields.UUID(required=True)
    instructions = fields.String(required=True,
                                 validate=validate.Length(min=1, max=INSTRUCTIONS_MAX))
    due_date = fields.Date(required=True)


class HomeworkDoneSchema(Schema):
    reflection = fields.String(required=True, validate=validate.Length(min=1, max=REFLECTION_MAX))


class JournalEntrySchema(Schema):
    mood = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))
    text = fields.String(required=True, validate=validate.Length(min=1, max=JOURNAL_MAX))
    shared = fields.Boolean(load_default=False)


class SharingSchema(Schema):
    shared = fields.Boolean(required=True)


class MessageSchema(Schema):
    # Blank text is the domain's refusal (naming `text`); the length is bounded here.
    text = fields.String(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX))


class OfficeHoursSchema(Schema):
    weekday = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=6))
    start = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))


class MessagingSettingsSchema(Schema):
    time_zone = fields.String(required=True, validate=validate.Length(min=1, max=64))
    office_hours = fields.List(fields.Nested(OfficeHoursSchema), required=True,
                               validate=validate.Length(max=OFFICE_HOURS_MAX))
    crisis_line = fields.String(required=True,
                                validate=validate.Length(min=1, max=CRISIS_LINE_MAX))


# -- what the therapy does: codes are checked against the vocabulary by the domain ------
_code = fields.String(validate=validate.Length(min=1, max=CODE_MAX))
_other_text = dict(load_default=None, allow_none=True,
                   validate=validate.Length(min=1, max=OTHER_TEXT_MAX))


class ApproachSchema(Schema):
    approaches = fields.List(_code, required=True, validate=validate.Length(max=APPROACHES_MAX))
    other_text = fields.String(**_other_text)


class InterventionsSchema(Schema):
    interventions = fields.List(_code, required=True,
                                validate=validate.Length(max=INTERVENTIONS_MAX))
    other_text = fields.String(**_other_text)


class VocabularyEntrySchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=CODE_MAX))
    label = fields.String(required=True, validate=validate.Length(min=1, max=LABEL_MAX))
    approach = fields.String(validate=validate.Length(min=1, max=CODE_MAX))


class TherapyVocabularySchema(Schema):
    """The organisation's own entries (the built-ins are always there)."""
    approaches = fields.List(fields.Nested(VocabularyEntrySchema), load_default=list,
                             validate=validate.Length(max=EXTENSIONS_MAX))
    interventions = fields.List(fields.Nested(VocabularyEntrySchema), load_default=list,
                                validate=validate.Length(max=EXTENSIONS_MAX))
