"""Which service codes a session earns, from its type and face-to-face minutes.

One time code per session: codes are never added together. The tables are
data (US CPT conventions); another country replaces them, not the code below.
Codes are written without the add-on '+' (the fee schedule may use either).
"""
from dataclasses import dataclass

from shared.errors import Conflict, InvalidInput
from shared.vocabulary import PAYER_KINDS, SESSION_TYPES

INTAKE = "90791"
# (lowest face-to-face minutes, highest or None, code)
PSYCHOTHERAPY = ((16, 37, "90832"), (38, 52, "90834"), (53, None, "90837"))
PSYCHOTHERAPY_MINIMUM = PSYCHOTHERAPY[0][0]
FAMILY_WITH_CLIENT = "90847"
FAMILY_WITHOUT_CLIENT = "90846"
FAMILY_MINIMUM = 26
GROUP = "90853"
CRISIS = "90839"
CRISIS_ADD_ON = "90840"
CRISIS_MINIMUM = 30          # under this, a crisis session bills as psychotherapy
CRISIS_FIRST_HOUR_UP_TO = 74  # 90839 alone covers 30-74 minutes
CRISIS_ADD_ON_BLOCK = 30     # each further 30 minutes (or part above 74) adds one 90840
INTERACTIVE_COMPLEXITY = "90785"
INSTRUMENT = "96127"

# add-on code -> the primary codes it may go with (never crisis or family codes)
ADD_ON_PRIMARIES = {
    INTERACTIVE_COMPLEXITY: frozenset({"90791", "90832", "90834", "90837", "90853"}),
    CRISIS_ADD_ON: frozenset({CRISIS}),
}


@dataclass(frozen=True)
class Coding:
    """The (code, units) lines a session earns; none, with the reason, if not billable."""
    lines: tuple
    reason: str = None

    @property
    def primary(self):
        return self.lines[0][0] if self.lines else None


def normalise(code):
    return code[1:] if code.startswith("+") else code


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def psychotherapy_code(minutes):
    """Face-to-face minutes -> (code, reason); code None when not billable."""
    _check_minutes(minutes)
    for low, high, code in PSYCHOTHERAPY:
        if minutes >= low and (high is None or minutes <= high):
            return code, None
    return None, (f"{minutes} face-to-face minutes is under the {PSYCHOTHERAPY_MINIMUM} "
                  f"a psychotherapy session needs to bill")


def _check_minutes(minutes):
    if not _is_int(minutes) or minutes < 0:
        raise InvalidInput("minutes must be a whole number of at least 0",
                           {"minutes": ["must be an integer >= 0"]})


def crisis_add_on_units(minutes):
    """How many +90840 units a crisis session of `minutes` earns (0 up to 74)."""
    if minutes <= CRISIS_FIRST_HOUR_UP_TO:
        return 0
    return 1 + (minutes - CRISIS_FIRST_HOUR_UP_TO - 1) // CRISIS_ADD_ON_BLOCK


def session_codes(session_type, minutes, intake_already_billed=False, client_present=True,
                  crisis_billed_that_day=False):
    """The codes of one session held: a Coding of (code, units) lines."""
    _check_minutes(minutes)
    if session_type not in SESSION_TYPES:
        raise InvalidInput(f"unknown session type {session_type!r}",
                           {"session_type": [f"one of {', '.join(SESSION_TYPES)}"]})
    if session_type == "intake":
        if minutes == 0:
            return Coding((), "no face-to-face time was recorded")
        if intake_already_billed:
            return Coding((), f"{INTAKE} is billed once at the start of an episode and this "
                              "episode already has one")
        return Coding(((INTAKE, 1),))
    if session_type == "family":
        if minutes < FAMILY_MINIMUM:
            return Coding((), f"{minutes} face-to-face minutes is under the {FAMILY_MINIMUM} "
                              "family psychotherapy needs to bill")
        return Coding(((FAMILY_WITH_CLIENT if client_present is not False
                        else FAMILY_WITHOUT_CLIENT, 1),))
    if session_type == "group":
        if minutes == 0:
            return Coding((), "no face-to-face time was recorded")
        return Coding(((GROUP, 1),))
    if session_type == "crisis" and minutes >= CRISIS_MINIMUM:
        if crisis_billed_that_day:
            return Coding((), f"{CRISIS} is billed once a day and this client already has "
                              "one on that date")
        units = crisis_add_on_units(minutes)
        return Coding(((CRISIS, 1),) + (((CRISIS_ADD_ON, units),) if units else ()))
    code, reason = psychotherapy_code(minutes)
    return Coding(((code, 1),) if code else (), reason)


def check_add_on(add_on, primary):
    """Conflict unless `add_on` may go with the charge's primary code."""
    add_on = normalise(add_on)
    allowed = ADD_ON_PRIMARIES.get(add_on)
    if allowed is None:
        raise InvalidInput(f"{add_on} is not an add-on code",
                           {"code": [f"one of {', '.join(sorted(ADD_ON_PRIMARIES))}"]})
    if primary not in allowed:
        raise Conflict(f"add-on {add_on} cannot go with {primary or 'a charge without a code'}; "
                       f"only with {', '.join(sorted(allowed))}", {"code": ["incompatible"]})
    return add_on


# -- place of service and telehealth modifiers (configuration per payer kind) --
DEFAULT_PAYER_RULE = {
    "video_modifier": "95",
    "audio_only_modifier": "93",
    "in_person_place_of_service": {"office": "11", "client_home": "12", "elsewhere": "99"},
    # 10: telehealth with the client at home; 02: anywhere else
    "telehealth_place_of_service": {"office": "02", "client_home": "10", "elsewhere": "02"},
}
PAYER_RULE_KEYS = ("default",) + PAYER_KINDS


def payer_rule(payer_rules, payer_kind):
    """The built-in rule, overridden by the clinic's 'default', then by the payer kind's."""
    rule = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_PAYER_RULE.items()}
    for key in ("default", payer_kind):
        for name, value in (payer_rules or {}).get(key, {}).items():
            if isinstance(value, dict):
                rule[name] = {**rule[name], **value}
            else:
                rule[name] = value
    return rule


def telehealth_kind(modality, audio_only):
    if modality == "phone" or (modality != "in_person" and audio_only):
        return "audio_only"
    if modality == "video":
        return "video"
    return None


def place_and_modifiers(modality, audio_only, place, payer_kind, payer_rules):
    """-> (place-of-service code, modifiers) for a session under the payer's rules."""
    rule = payer_rule(payer_rules, payer_kind)
    kind = telehealth_kind(modality, audio_only)
    if kind is None:
        return rule["in_person_place_of_service"].get(place or "office"), ()
    where = rule["telehealth_place_of_service"].get(place or "elsewhere")
    modifier = rule[f"{kind}_modifier"]
    return where, ((modifier,) if modifier else ())
