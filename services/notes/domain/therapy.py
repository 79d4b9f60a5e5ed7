"""What the therapy does: the approach(es) on the treatment plan, the interventions a
progress note records, and the organisation's vocabulary of both.

The built-in vocabulary is shared/vocabulary.py's; an organisation adds its own
approaches and interventions (stream `therapy-vocabulary-<organisation>`, set outright
by an admin). A code outside the vocabulary is refused naming the field. "other" as an
approach, and any intervention list, may carry bounded free text (sensitive).
"""
import re
from dataclasses import dataclass, field

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, Forbidden
from shared.vocabulary import INTERVENTIONS, THERAPY_APPROACHES

from .validation import Errors, text

CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CODE_MAX = 40
LABEL_MAX = 100
OTHER_TEXT_MAX = 500
APPROACHES_MAX = 6      # an integrative therapy names a few, not a catalogue
INTERVENTIONS_MAX = 20  # per session
EXTENSIONS_MAX = 50     # an organisation's own approaches, and its own interventions


class TherapyVocabulary(Aggregate):
    """An organisation's own approaches and interventions: set outright (a blind write),
    never loaded to decide, so this names its stream only."""
    STREAM = "therapy-vocabulary-{}"


@dataclass(frozen=True)
class Vocabulary:
    """The built-ins plus an organisation's own: approach -> its interventions."""
    interventions: dict = field(default_factory=lambda: dict(INTERVENTIONS))

    @classmethod
    def of(cls, own_approaches=(), own_interventions=()):
        """`own_approaches` [{code, label}], `own_interventions` [{code, label, approach}]."""
        by_approach = {a: list(codes) for a, codes in INTERVENTIONS.items()}
        for approach in own_approaches:
            by_approach.setdefault(approach["code"], [])
        for intervention in own_interventions:
            by_approach[intervention["approach"]].append(intervention["code"])
        return cls({a: tuple(codes) for a, codes in by_approach.items()})

    @property
    def approaches(self):
        return tuple(self.interventions)

    def approach_of(self, intervention):
        for approach, codes in self.interventions.items():
            if intervention in codes:
                return approach
        return None


BUILT_IN = Vocabulary()


def _codes(values, field_name, known, maximum, errors):
    """A list of distinct codes, each in `known`; every bad one is named by its index."""
    if not isinstance(values, list) or len(values) > maximum:
        errors.add(field_name, f"must be a list of at most {maximum} codes")
        return []
    cleaned = []
    for index, code in enumerate(values):
        if not isinstance(code, str) or code not in known:
            errors.add(f"{field_name}.{index}", f"{code!r} is not in the vocabulary; one of "
                                                f"{', '.join(known)}")
        elif code in cleaned:
            errors.add(f"{field_name}.{index}", f"{code} is listed twice")
        else:
            cleaned.append(code)
    return cleaned


# -- the plan's approach -------------------------------------------------------------
def set_approach(plan, vocabulary, approaches, other_text, set_by, set_at):
    """The plan's approach(es) -> [TreatmentApproachSet]; the events are its history.

    At least one approach; "other" needs its free text, and only "other" has it.
    """
    errors = Errors("approach")
    cleaned = _codes(approaches, "approaches", vocabulary.approaches, APPROACHES_MAX, errors)
    if isinstance(approaches, list) and not approaches:
        errors.add("approaches", "name at least one approach")
    other_text = text(other_text, "other_text", errors, OTHER_TEXT_MAX, required=False)
    if "other" in cleaned and other_text is None:
        errors.add("other_text", "say what the other approach is")
    if other_text is not None and "other" not in cleaned:
        errors.add("other_text", "only the approach \"other\" takes free text")
    errors.raise_any()
    if cleaned == plan.approaches and other_text == plan.approach_other_text:
        raise Conflict("the plan already has exactly this approach")
    return [NewEvent("TreatmentApproachSet", {
        "client_id": plan.client_id, "approaches": cleaned, "other_text": other_text,
        "previous_approaches": list(plan.approaches), "set_by": set_by, "set_at": set_at})]


# -- a session's interventions ---------------------------------------------------------
def record_interventions(note, vocabulary, interventions, other_text, recorded_by,
                         recorded_at):
    """The interventions used in the note's session -> [SessionInterventionsRecorded]
    (the whole list again, replacing the last); by the note's clinician, before signing."""
    if recorded_by != note.clinician_id:
        raise Forbidden("only the clinician who held the session records its interventions")
    if note.signed:
        raise Conflict(f"the note was signed by {note.signed_by} at {note.signed_at} and is "
                       "locked: add an addendum instead")
    errors = Errors("interventions")
    known = tuple(code for codes in vocabulary.interventions.values() for code in codes)
    cleaned = _codes(interventions, "interventions", known, INTERVENTIONS_MAX, errors)
    other_text = text(other_text, "other_text", errors, OTHER_TEXT_MAX, required=False)
    errors.raise_any()
    return [NewEvent("SessionInterventionsRecorded", {
        "note_id": note.note_id, "appointment_id": note.appointment_id,
        "client_id": note.client_id, "interventions": cleaned,
        "approaches": sorted({vocabulary.approach_of(code) for code in cleaned}),
        "other_text": other_text, "recorded_by": recorded_by, "recorded_at": recorded_at})]


# -- the organisation's vocabulary -------------------------------------------------------
def _entries(values, field_name, taken, errors, approaches=None):
    if not isinstance(values, list) or len(values) > EXTENSIONS_MAX:
        errors.add(field_name, f"must be a list of at most {EXTENSIONS_MAX} entries")
        return []
    cleaned, seen = [], set(taken)
    for index, entry in enumerate(values):
        where = f"{field_name}.{index}"
        if not isinstance(entry, dict):
            errors.add(where, "must be {code, label}")
            continue
        code, label = entry.get("code"), entry.get("label")
        if not isinstance(code, str) or not CODE.match(code):
            errors.add(f"{where}.code", "lower-case letters, digits and _, 2-40 long")
        elif code in seen:
            errors.add(f"{where}.code", f"{code} is already in the vocabulary")
        text(label, f"{where}.label", errors, LABEL_MAX)
        row = {"code": code, "label": label}
        if approaches is not None:
            if entry.get("approach") not in approaches:
                errors.add(f"{where}.approach", f"one of {', '.join(approaches)}")
            row["approach"] = entry.get("approach")
        seen.add(code)
        cleaned.append(row)
    return cleaned


def set_vocabulary(approaches, interventions, set_by, set_at):
    """An organisation's own approaches and interventions -> [TherapyVocabularySet],
    replacing its previous ones; built-in codes are not redefined."""
    errors = Errors("therapy vocabulary")
    own_approaches = _entries(approaches, "approaches", THERAPY_APPROACHES, errors)
    all_approaches = THERAPY_APPROACHES + tuple(a["code"] for a in own_approaches)
    built_in = tuple(code for codes in INTERVENTIONS.values() for code in codes)
    own_interventions = _entries(interventions, "interventions", built_in, errors,
                                 approaches=all_approaches)
    errors.raise_any()
    return [NewEvent("TherapyVocabularySet", {
        "approaches": own_approaches, "interventions": own_interventions,
        "set_by": set_by, "set_at": set_at})]
