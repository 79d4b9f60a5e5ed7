"""The one access policy: which role may do which action to which resource, and
which fields of a response each role sees (the minimum-necessary rule).

It is data: the web layer (shared/web.py) checks every route's resource and
action here before the body is read, and shapes what the handler returns by
`hidden_fields`, so no handler decides by role what a response carries. Checks
that go beyond the role (tenancy, a client's own record, a psychotherapy note's
author) stay in the applications. The README's "Roles and privacy" table is
`python -m shared.access` (`make access-table` rewrites it).

Restricted fields are named per resource and removed wherever they occur in a
response about it (nested objects and lists included); fields a resource does
not name are seen by every role that may read it.
"""
import sys
from dataclasses import dataclass, field

from . import readme_blocks
from .auth import ROLES
from .errors import Forbidden, NotFound

ADMIN, CLINICIAN, FRONT_DESK, BILLING, INTEGRATOR, CLIENT, PRIVACY_OFFICER = ROLES

ALLOW, DENY, CONCEAL = "allow", "deny", "conceal"
READ, CHANGE = "read", "change"

CLINICAL = frozenset({ADMIN, CLINICIAN})
STAFF = CLINICAL | {FRONT_DESK}
FINANCE = frozenset({ADMIN, BILLING})
ACCOUNT = FINANCE | {FRONT_DESK}           # who handles a client's account
PRICES = ACCOUNT | {CLINICIAN}             # who reads a clinic's prices and charges
NOBODY = frozenset()

# What the minimum-necessary rule is about, by the names responses use.
ANSWERS = ("answers", "answer", "item", "item_scores")  # PHQ-9 item 9 is about self-harm
SCORES = ("total", "severity", "change", "subscales")  # a score, its band, its change
FREE_TEXT = ("description", "action_taken", "reason", "text", "sections", "instructions",
             "reflection", "other_text")    # what a clinician or client wrote


@dataclass(frozen=True)
class Resource:
    name: str
    meaning: str
    actions: dict                           # action -> roles allowed
    fields: dict = field(default_factory=dict)  # restricted field -> roles that see it
    # A refused request for one record of it reads 404: not even its existence shows.
    conceal: bool = False


def _fields(roles, *names):
    return {name: frozenset(roles) for name in names}


def _resources(*resources):
    return {r.name: r for r in resources}


TABLE = _resources(
    # -- intake ---------------------------------------------------------------
    Resource("client", "a client's registration: demographics, contact, guardian, payer, "
             "episodes, with their consents and assessments", {
                 READ: STAFF | {BILLING, INTEGRATOR, CLIENT}, CHANGE: STAFF},
             fields={**_fields(CLINICAL, *ANSWERS, *SCORES),
                     **_fields(STAFF | {CLIENT}, "consents", "discharge_reason")}),
    Resource("client_directory", "a clinic's list of clients (name, status)", {READ: STAFF}),
    Resource("consent", "consents given and withdrawn", {
        READ: STAFF | {CLIENT}, CHANGE: STAFF}),
    Resource("episode", "an episode of care: opened at intake, ended by a discharge", {
        READ: STAFF | {CLIENT}, "open": STAFF, "discharge": CLINICAL}),
    Resource("assessment", "an instrument administered: answers, score, change", {
        READ: CLINICAL, CHANGE: CLINICAL}),
    Resource("outcome", "trajectories, charts, alerts and a clinic's outcome rates",
             {READ: CLINICAL}),
    Resource("risk_flag", "the clinic's risk list and its acknowledgements", {
        READ: CLINICAL, CHANGE: CLINICAL}),
    Resource("alliance_rating", "a held session's alliance rating: the client (their own "
             "sessions) or a clinician records it", {CHANGE: CLINICAL | {CLIENT}}),
    Resource("alliance_concern", "the clinic's alliance concerns (possible ruptures) and "
             "their acknowledgements", {READ: CLINICAL, CHANGE: CLINICAL}),
    Resource("reassessment", "clients due a reassessment", {READ: STAFF}),
    Resource("instrument", "instrument definitions (reference data)", {
        READ: frozenset(ROLES) - {PRIVACY_OFFICER}, CHANGE: {ADMIN}}),
    Resource("care_team", "the clinicians who reach a client's records (shared/care_team.py)",
             {READ: CLINICAL, CHANGE: {ADMIN}}),
    Resource("break_glass", "a clinician's time-limited access to a client outside their "
             "care team, with its reason", {
                 READ: {PRIVACY_OFFICER, ADMIN}, "grant": {CLINICIAN}}),
    Resource("erasure", "a client's erasure: every service's data of the client shredded, "
             "unless the clinical record is retained", {"request": {PRIVACY_OFFICER, ADMIN}}),
    # -- scheduling -------------------------------------------------------------
    Resource("clinic_settings", "a clinic's calendar settings, rooms, note deadline, "
             "not-on-track rule, messaging settings and alliance settings",
             {READ: STAFF | {BILLING}, CHANGE: {ADMIN}}),
    Resource("clinician_profile", "a clinician's clinics and working hours", {
        READ: STAFF | {BILLING}, CHANGE: {ADMIN}}),
    Resource("calendar", "clinicians' days and weeks, room occupancy, calendar feeds", {
        READ: STAFF, "issue_feed": CLINICAL}),
    Resource("appointment", "an appointment: booking, moves, attendance, the session held", {
        READ: STAFF | {BILLING, CLIENT}, CHANGE: STAFF, "cancel": STAFF | {CLIENT}},
             fields=_fields(STAFF | {CLIENT}, "reassessment")),
    Resource("appointment_series", "a recurring series of appointments", {
        READ: STAFF, CHANGE: STAFF}),
    Resource("attendance", "a clinic's attendance: held, cancelled, no-shows", {
        READ: STAFF | {BILLING}}),
    Resource("reassessment_policy", "how often a clinic's clients are reassessed", {
        READ: STAFF, CHANGE: {ADMIN}}),
    Resource("client.reassessment_policy", "one client's own reassessment cadence", {
        READ: STAFF, CHANGE: CLINICAL}),
    # -- notes --------------------------------------------------------------------
    Resource("treatment_plan", "goals, diagnoses and stage, with their history", {
        READ: CLINICAL, CHANGE: CLINICAL}),
    Resource("goal", "a treatment goal: set, revised, rated", {READ: CLINICAL, CHANGE: CLINICAL}),
    Resource("diagnosis", "the ICD-10 codes of the treatment plan", {
        READ: CLINICAL | {BILLING}, CHANGE: CLINICAL}),
    Resource("chart", "the client's clinical record and its timeline", {READ: CLINICAL}),
    Resource("therapy_vocabulary", "the organisation's approaches and interventions "
             "(built-in and its own)", {READ: CLINICAL, CHANGE: {ADMIN}}),
    Resource("progress_note", "a session's progress note and its addenda", {
        READ: CLINICAL, CHANGE: CLINICAL, "sign": CLINICAL, "cosign": CLINICAL,
        "add_addendum": {CLINICIAN}}),
    Resource("supervision", "who co-signs a pre-licensed clinician's notes", {
        READ: CLINICAL, CHANGE: {ADMIN}}),
    Resource("psychotherapy_note", "a clinician's private notes: their author's only "
             "(the application checks the author)", {
                 READ: {CLINICIAN}, CHANGE: {CLINICIAN}}, conceal=True),
    Resource("homework", "homework assigned and done", {
        READ: CLINICAL | {CLIENT}, CHANGE: CLINICAL, "complete": {CLIENT}}),
    Resource("journal", "the client's journal (clinicians see shared entries)", {
        READ: CLINICAL | {CLIENT}, CHANGE: {CLIENT}}),
    # Messages are clinical record: the client's own thread and the care team (the
    # application checks both); no other role reads a word of them, nor their counts.
    Resource("message", "a client's secure messages with their care team, receipts, flags",
             {READ: CLINICAL | {CLIENT}, "send": {CLINICIAN, CLIENT},
              "mark_read": {CLINICIAN, CLIENT}, "flag": {CLINICIAN}}),
    # -- billing -------------------------------------------------------------------
    Resource("fee_schedule", "a clinic's prices per service code", {
        READ: PRICES, CHANGE: FINANCE}),
    Resource("billing_policy", "a clinic's billing rules, fees and payer rules", {
        READ: PRICES, CHANGE: FINANCE}),
    Resource("billing_profile", "provider name, NPI, tax id on superbills", {
        READ: PRICES, CHANGE: FINANCE}),
    Resource("sliding_scale", "a self-pay client's discount", {READ: FINANCE, CHANGE: FINANCE}),
    Resource("balance", "a client's charges and what they owe", {READ: PRICES | {CLIENT}}),
    Resource("ledger", "every amount a client owed or paid", {READ: ACCOUNT | {CLIENT}}),
    Resource("charge", "one charge: codes, minutes, amount", {READ: PRICES, CHANGE: FINANCE}),
    Resource("invoice", "invoices: drafted, issued, voided, written off", {
        READ: ACCOUNT | {CLIENT}, CHANGE: FINANCE}),
    Resource("payment", "payments and refunds", {
        READ: ACCOUNT, CHANGE: ACCOUNT, "refund": FINANCE}),
    Resource("superbill", "what a claim needs: provider, client, diagnoses, services", {
        READ: FINANCE | {CLIENT}}),
    Resource("billing_report", "a clinic's charges, unbilled, receivables and revenue", {
        READ: FINANCE}),
    # -- every service ----------------------------------------------------------------
    # An integrator's feed follows the same minimum-necessary rule as a client's record:
    # no item answers, scores or free text (the broker copy is the deployment's choice).
    Resource("events_feed", "the service's published events, for the organisation",
             {READ: {ADMIN, INTEGRATOR}},
             fields=_fields({ADMIN}, *ANSWERS, *SCORES, *FREE_TEXT)),
    Resource("audit", "who read or changed which record, break-glass access",
             {READ: {PRIVACY_OFFICER, ADMIN}}),
    # FHIR carries answers and text in its own shapes (QuestionnaireResponse items, a
    # note's attachment), beyond field names the rule above could strip: clinical only.
    Resource("fhir_record", "a client's record as FHIR R4 resources ($everything)",
             {READ: CLINICAL}),
)


class UnknownResource(LookupError):
    pass


def resource(name):
    try:
        return TABLE[name]
    except KeyError:
        raise UnknownResource(f"no resource {name!r} in the access policy (shared/access.py)")


def roles_for(name, action):
    """The roles that may do `action` to resource `name` (none for an undeclared action)."""
    return frozenset(resource(name).actions.get(action, NOBODY))


def decide(role, name, action):
    """ALLOW, DENY (403), or CONCEAL (404 for a request about one record)."""
    if role in roles_for(name, action):
        return ALLOW
    return CONCEAL if resource(name).conceal else DENY


def visible_fields(role, name):
    """The resource's restricted fields this role sees."""
    return frozenset(f for f, roles in resource(name).fields.items() if role in roles)


def hidden_fields(role, name):
    """The resource's restricted fields this role does not see (absent from responses)."""
    return frozenset(resource(name).fields) - visible_fields(role, name)


def require(role, name, action, one_record=False):
    decision = decide(role, name, action)
    if decision == CONCEAL and one_record:
        raise NotFound(f"{name.replace('_', ' ')} not found")
    if decision != ALLOW:
        raise Forbidden(f"role {role!r} may not {action} {name}")


def shape(role, name, payload):
    """The payload without the fields the role may not see, at any depth."""
    hidden = hidden_fields(role, name)
    return _without(payload, hidden) if hidden else payload


def _without(value, hidden):
    if isinstance(value, dict):
        return {k: _without(v, hidden) for k, v in value.items() if k not in hidden}
    if isinstance(value, (list, tuple)):
        return [_without(v, hidden) for v in value]
    return value


# -- the README's table ---------------------------------------------------------------
def markdown():
    head = "| resource | what | action | " + " | ".join(ROLES) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(ROLES)]
    for res in TABLE.values():
        for position, (action, allowed) in enumerate(res.actions.items()):
            cells = ["yes" if role in allowed else ("404" if res.conceal else "-")
                     for role in ROLES]
            name, meaning = (f"`{res.name}`", res.meaning) if position == 0 else ("", "")
            lines.append(f"| {name} | {meaning} | {action} | " + " | ".join(cells) + " |")
    lines += ["", "| resource | field (at any depth) | seen only by |", "|---|---|---|"]
    for res in TABLE.values():
        by_roles = {}
        for name, roles in res.fields.items():
            by_roles.setdefault(tuple(r for r in ROLES if r in roles), []).append(name)
        for roles, names in by_roles.items():
            lines.append(f"| `{res.name}` | " + ", ".join(f"`{n}`" for n in names)
                         + " | " + ", ".join(roles) + " |")
    return "\n".join(lines)


def embedded(readme_text):
    return readme_blocks.embedded(readme_text, "access")


def write(path):
    readme_blocks.write(path, "access", markdown())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2])
    else:
        print(markdown())
