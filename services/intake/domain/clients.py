"""A client as intake's events say it is: registration details, consents,
episodes of care, and per episode the course of each instrument."""
import uuid
from dataclasses import dataclass, field

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput, NotFound
from shared.timeutil import parse_date, parse_time

from .change import IMPROVEMENTS
from .not_on_track import rule_kind

ADULT_AGE = 18
# The details ClientRegistered carries and ClientDetailsUpdated may change.
DETAIL_FIELDS = ("name", "preferred_name", "pronouns", "date_of_birth", "contact",
                 "no_contact_reason", "guardian", "referral_source", "primary_clinician_id",
                 "payer", "address")
# The details that decide whether the clinic can reach the client.
REACH_FIELDS = {"contact", "no_contact_reason", "guardian"}
NAMESPACE = uuid.UUID("1d5b7f0e-4a39-4c55-9a53-6e0c2f7b9a10")


def implicit_episode_id(client_id):
    """The episode of a client registered before episodes were recorded."""
    return str(uuid.uuid5(NAMESPACE, f"{client_id}/episode"))


@dataclass
class InstrumentCourse:
    """One instrument within one episode: its baseline and how it went since."""
    code: str
    baseline_assessment_id: str
    baseline_total: int
    assessments: int = 1
    latest_category: str = None   # None while there is only the baseline
    flagged: set = field(default_factory=set)  # not-on-track kinds already flagged

    @property
    def reassessments(self):
        return self.assessments - 1

    @property
    def improved(self):
        return self.latest_category in IMPROVEMENTS


@dataclass
class Episode:
    episode_id: str
    opened_at: str
    discharged_at: str = None
    reason: str = None
    courses: dict = field(default_factory=dict)  # instrument code -> InstrumentCourse

    @property
    def is_open(self):
        return self.discharged_at is None


@dataclass
class Client(Aggregate):
    STREAM = "client-{}"
    client_id: str
    registered: bool = False
    organisation_id: str = None
    clinic_id: str = None
    details: dict = field(default_factory=dict)
    registered_at: str = None
    consents: dict = field(default_factory=dict)  # kind -> {"document_version", "given_at"}
    episodes: list = field(default_factory=list)
    risk_flags: dict = field(default_factory=dict)  # flag_id -> acknowledged?
    assessments: int = 0
    care_team: set = field(default_factory=set)  # clinicians an admin added
    # 1 at registration, +1 per ClientDetailsUpdated, ConsentGiven or ConsentRevoked:
    # stamped on them so a consumer can tell it has every change up to one
    # (shared/client_history.py); a fee depends on the consents as a charge on the payer.
    details_revision: int = 0
    erased: bool = False

    @property
    def episode(self):
        """The latest episode (open unless discharged), or None."""
        return self.episodes[-1] if self.episodes else None

    def _on_ClientRegistered(self, event, data):
        self.registered = True
        self.organisation_id, self.clinic_id = event.organisationid, event.clinicid
        self.details = {name: data.get(name) for name in DETAIL_FIELDS}
        self.registered_at = data["registered_at"]
        self.details_revision = 1
        # Replaced at once by the EpisodeOpened appended with the registration.
        self.episodes = [Episode(implicit_episode_id(self.client_id), data["registered_at"])]

    def _on_ClientDetailsUpdated(self, event, data):
        self.details.update(data["changes"])
        self.details_revision += 1

    def _on_ConsentGiven(self, event, data):
        self.consents[data["kind"]] = {"document_version": data["document_version"],
                                       "given_at": data["given_at"]}
        # Consents recorded before they counted carry no revision and count for none.
        self.details_revision = data.get("details_revision") or self.details_revision

    def _on_ConsentRevoked(self, event, data):
        self.consents.pop(data["kind"], None)
        self.details_revision = data.get("details_revision") or self.details_revision

    def _on_EpisodeOpened(self, event, data):
        episode = Episode(data["episode_id"], data["opened_at"])
        current = self.episode
        if current is not None and current.episode_id == implicit_episode_id(self.client_id) \
                and current.is_open and not current.courses:
            self.episodes[-1] = episode
        else:
            self.episodes.append(episode)

    def _on_ClientDischarged(self, event, data):
        episode = self.episode
        episode.discharged_at, episode.reason = data["discharged_at"], data["reason"]

    def _on_ClientAssessed(self, event, data):
        self.assessments += 1
        episode = self.episode
        course = episode.courses.get(data["instrument"])
        if course is None:
            episode.courses[data["instrument"]] = InstrumentCourse(
                data["instrument"], data["assessment_id"], data["total"])
            return
        course.assessments += 1
        if data.get("change"):
            course.latest_category = data["change"]["category"]

    def _on_ClientErased(self, event, data):
        self.erased = True

    def _on_RiskFlagRaised(self, event, data):
        self.risk_flags[data["flag_id"]] = False

    def _on_RiskFlagAcknowledged(self, event, data):
        self.risk_flags[data["flag_id"]] = True

    def _on_CareTeamMemberAdded(self, event, data):
        self.care_team.add(data["clinician_id"])

    def _on_CareTeamMemberRemoved(self, event, data):
        self.care_team.discard(data["clinician_id"])

    def _on_NotOnTrackFlagged(self, event, data):
        course = self.episode.courses.get(data["instrument"])
        if course is not None:
            course.flagged.add(rule_kind(data["rule"]))

    # -- rules every command shares -------------------------------------
    def require_registered(self):
        if not self.registered or self.erased:
            raise NotFound("client not found")

    def require_open_episode(self):
        self.require_registered()
        episode = self.episode
        if episode is None or not episode.is_open:
            raise Conflict(f"client {self.client_id} was discharged; open a new episode of "
                           "care first", {"episode": ["no open episode of care"]})
        return episode


def check_details(details, on_date, changed=None):
    """InvalidInput naming each detail that breaks a registration rule.

    `changed`: on an update, the details it changes; the contact rule is then
    checked only when they touch how the client is reached.
    """
    problems = {}
    if (changed is None or REACH_FIELDS & set(changed)) and not reachable(details):
        problems["contact"] = ["a phone or an e-mail address is needed to reach the client "
                               "(or a guardian's), unless no_contact_reason says why not"]
    birth = parse_date(details["date_of_birth"])
    today = parse_date(on_date[:10])
    if birth > today:
        problems["date_of_birth"] = ["is in the future"]
    elif _age(birth, today) < ADULT_AGE and not details.get("guardian"):
        problems["guardian"] = [f"a client under {ADULT_AGE} needs a guardian "
                                "(name, relationship, phone or email)"]
    payer = details.get("payer")
    if payer and payer.get("kind") == "insurer":
        for name in ("insurer_name", "member_id"):
            if not payer.get(name):
                problems[f"payer.{name}"] = ["required when the payer is an insurer"]
    if problems:
        raise InvalidInput("client details are incomplete", problems)


def reachable(details):
    """A phone or e-mail of the client or their guardian, or a stated reason for none."""
    def has_way(contact):
        return any((contact.get(way) or "").strip() for way in ("phone", "email"))
    return (has_way(details.get("contact") or {}) or has_way(details.get("guardian") or {})
            or bool((details.get("no_contact_reason") or "").strip()))


def _age(birth, today):
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def register(client_id, episode_id, details, registered_at):
    """A new client and their first episode of care."""
    details = {name: details.get(name) for name in DETAIL_FIELDS}
    check_details(details, registered_at)
    data = {"client_id": client_id, **{k: v for k, v in details.items() if v is not None},
            "registered_at": registered_at, "details_revision": 1}
    return [NewEvent("ClientRegistered", data),
            NewEvent("EpisodeOpened", {"client_id": client_id, "episode_id": episode_id,
                                       "opened_at": registered_at})]


def update_details(client, changes, updated_at):
    """ClientDetailsUpdated with only the values that differ; [] when none do."""
    client.require_registered()
    unknown = sorted(set(changes) - set(DETAIL_FIELDS))
    if unknown:
        raise InvalidInput("unknown client details", {name: ["unknown field"] for name in unknown})
    if "name" in changes and not changes["name"]:
        raise InvalidInput("the legal name cannot be removed", {"name": ["required"]})
    if "date_of_birth" in changes and not changes["date_of_birth"]:
        raise InvalidInput("the date of birth cannot be removed", {"date_of_birth": ["required"]})
    if "contact" in changes:  # merged: only the contact fields given change
        changes = {**changes, "contact": {**(client.details.get("contact") or {}),
                                          **(changes["contact"] or {})}}
    differing = {name: value for name, value in changes.items()
                 if client.details.get(name) != value}
    if not differing:
        return []
    check_details({**client.details, **differing}, updated_at, changed=differing)
    return [NewEvent("ClientDetailsUpdated", {"client_id": client.client_id,
                                              "changes": differing, "updated_at": updated_at,
                                              "details_revision": client.details_revision + 1})]


def give_consent(client, kind, document_version, given_at, recorded_by):
    client.require_registered()
    current = client.consents.get(kind)
    if current is not None and current["document_version"] == document_version:
        raise Conflict(f"consent {kind} version {document_version} is already in force",
                       {"document_version": ["already accepted"]})
    return [NewEvent("ConsentGiven", {
        "client_id": client.client_id, "kind": kind, "document_version": document_version,
        "given_at": given_at, "recorded_by": recorded_by,
        "details_revision": client.details_revision + 1})]


def revoke_consent(client, kind, revoked_at, recorded_by):
    client.require_registered()
    if kind not in client.consents:
        raise Conflict(f"no {kind} consent is in force", {"kind": ["not given"]})
    return [NewEvent("ConsentRevoked", {
        "client_id": client.client_id, "kind": kind, "revoked_at": revoked_at,
        "recorded_by": recorded_by, "details_revision": client.details_revision + 1})]


def open_episode(client, episode_id, opened_at):
    client.require_registered()
    if client.episode is not None and client.episode.is_open:
        raise Conflict(f"client {client.client_id} already has an open episode of care",
                       {"episode": ["already open"]})
    return [NewEvent("EpisodeOpened", {"client_id": client.client_id, "episode_id": episode_id,
                                       "opened_at": opened_at})]


def discharge(client, reason, discharged_at):
    episode = client.require_open_episode()
    if parse_time(discharged_at) < parse_time(episode.opened_at):
        raise InvalidInput("discharge before the episode opened",
                           {"discharged_at": ["before the episode opened"]})
    return [NewEvent("ClientDischarged", {
        "client_id": client.client_id, "episode_id": episode.episode_id, "reason": reason,
        "discharged_at": discharged_at})]


def acknowledge_risk_flag(client, flag_id, acknowledged_by, action_taken, acknowledged_at):
    client.require_registered()
    if flag_id not in client.risk_flags:
        raise NotFound("risk flag not found")
    if client.risk_flags[flag_id]:
        raise Conflict(f"risk flag {flag_id} was acknowledged already",
                       {"flag_id": ["already acknowledged"]})
    return [NewEvent("RiskFlagAcknowledged", {
        "client_id": client.client_id, "flag_id": flag_id, "acknowledged_by": acknowledged_by,
        "acknowledged_at": acknowledged_at, "action_taken": action_taken})]
