"""Progress notes: one per session held, drafted, signed and locked, then addenda only.

A session's note is the stream `progress-note-<appointment_id>`; SessionHeld
opens it (due). The clinician who held the session saves drafts as often as
they like in SOAP, DAP or BIRP; signing needs every section the format
requires and locks the note. After that only addenda, each signed by its
author. A pre-licensed clinician's signed note waits for the supervisor's
co-signature (pending supervision).
"""
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.timeutil import parse_time
from shared.vocabulary import NOTE_FORMATS

from .validation import Errors, text

# Each format's sections, in the order they are written; all are required to sign.
# The formats are the vocabulary's: one added there without its sections here fails
# at import rather than at a clinician's first note.
_SECTIONS = {
    "SOAP": ("subjective", "objective", "assessment", "plan"),
    "DAP": ("data", "assessment", "plan"),
    "BIRP": ("behavior", "intervention", "response", "plan"),
}
FORMATS = {name: _SECTIONS[name] for name in NOTE_FORMATS}
SECTION_MAX = 20000
ADDENDUM_MAX = 20000
DEFAULT_DEADLINE_HOURS = 72
DEADLINE_HOURS_MAX = 24 * 60

# Note ids are derived from the appointment, so SessionHeld opens one note only.
_NOTE_IDS = uuid.UUID("5b0e64e4-2f4e-4c55-9a43-6f7465730001")

def note_id_of(appointment_id):
    return str(uuid.uuid5(_NOTE_IDS, f"progress-note:{appointment_id}"))


@dataclass
class ProgressNote(Aggregate):
    STREAM = "progress-note-{}"
    appointment_id: str
    version: int = 0
    note_id: str = None
    client_id: str = None
    clinician_id: str = None
    format: str = None
    sections: dict = None
    signed_by: str = None
    signed_at: str = None
    pending_supervision: bool = False
    supervisor_id: str = None
    cosigned_by: str = None
    addenda: list = field(default_factory=list)

    def _on_ProgressNoteOpened(self, event, data):
        self.note_id, self.client_id = data["note_id"], data["client_id"]
        self.clinician_id = data["clinician_id"]

    def _on_ProgressNoteDrafted(self, event, data):
        self.format, self.sections = data["format"], dict(data["sections"])

    def _on_NoteSigned(self, event, data):
        self.signed_by, self.signed_at = data["signed_by"], data["signed_at"]
        self.pending_supervision = data["pending_supervision"]
        self.supervisor_id = data.get("supervisor_id")

    def _on_NoteCoSigned(self, event, data):
        self.cosigned_by, self.pending_supervision = data["cosigned_by"], False

    def _on_NoteAddendumAdded(self, event, data):
        self.addenda.append(data["addendum_id"])

    @property
    def opened(self):
        return self.note_id is not None

    @property
    def signed(self):
        return self.signed_by is not None

    @property
    def status(self):
        if self.signed:
            return "pending_supervision" if self.pending_supervision else "signed"
        return "draft" if self.sections is not None else "due"


@dataclass
class Supervision(Aggregate):
    """Whether a clinician is pre-licensed and who co-signs for them (in one organisation)."""
    STREAM = "supervision-{}-{}"
    organisation_id: str
    clinician_id: str
    version: int = 0
    pre_licensed: bool = False
    supervisor_id: str = None

    def _on_ClinicianSupervisionSet(self, event, data):
        self.pre_licensed, self.supervisor_id = data["pre_licensed"], data["supervisor_id"]


class NoteDeadline(Aggregate):
    """A clinic's note deadline. Only ever set outright (a blind write: the last one
    wins), never loaded to decide, so this names its stream and nothing more."""
    STREAM = "note-deadline-{}-{}"


def open_note(note, appointment_id, client_id, clinician_id, session_start, opened_at):
    """A session was held -> [ProgressNoteOpened], or [] when its note is already open."""
    if note.opened:
        return []
    note_id = note_id_of(appointment_id)
    return [NewEvent("ProgressNoteOpened", {
        "note_id": note_id, "appointment_id": appointment_id,
        "client_id": client_id, "clinician_id": clinician_id,
        "session_start": session_start, "opened_at": opened_at},
        id=str(uuid.uuid5(_NOTE_IDS, f"opened:{note_id}")))]


def _require_unlocked(note):
    if note.signed:
        raise Conflict(f"the note was signed by {note.signed_by} at {note.signed_at} and is "
                       "locked: add an addendum instead")


def _sections(format_, sections, errors):
    """Check a draft's sections against its format; blank sections are allowed in a draft."""
    if format_ not in FORMATS:
        errors.add("format", f"one of {', '.join(FORMATS)}")
        return {}
    if not isinstance(sections, dict):
        errors.add("sections", "must map section names to text")
        return {}
    known = FORMATS[format_]
    cleaned = {}
    for name, value in sections.items():
        if name not in known:
            errors.add(f"sections.{name}", f"not a {format_} section; {format_} has "
                                           f"{', '.join(known)}")
        elif not isinstance(value, str):
            errors.add(f"sections.{name}", "must be text")
        elif len(value) > SECTION_MAX:
            errors.add(f"sections.{name}", f"at most {SECTION_MAX} characters")
        else:
            cleaned[name] = value
    return {name: cleaned[name] for name in known if name in cleaned}


def save_draft(note, format_, sections, saved_by, saved_at):
    """Save the whole draft again -> [ProgressNoteDrafted]; only before signing."""
    if saved_by != note.clinician_id:
        raise Forbidden("only the clinician who held the session writes its progress note")
    _require_unlocked(note)
    errors = Errors("progress note")
    cleaned = _sections(format_, sections, errors)
    errors.raise_any()
    return [NewEvent("ProgressNoteDrafted", {
        "note_id": note.note_id, "appointment_id": note.appointment_id,
        "client_id": note.client_id, "format": format_, "sections": cleaned,
        "saved_by": saved_by, "saved_at": saved_at})]


def sign(note, supervision, signed_by, signed_at, draft=None):
    """Sign and lock the saved draft -> [NoteSigned]; or save `draft` (format,
    sections) and sign it in one go -> [ProgressNoteDrafted, NoteSigned].

    Every section of the format must be written. A pre-licensed clinician's
    note is pending supervision until the supervisor co-signs.
    """
    if signed_by != note.clinician_id:
        raise Forbidden("only the clinician who held the session signs its progress note")
    _require_unlocked(note)
    drafted, format_, sections = [], note.format, note.sections
    if draft is not None:
        drafted = save_draft(note, *draft, signed_by, signed_at)
        format_, sections = drafted[0].data["format"], drafted[0].data["sections"]
    if sections is None:
        raise Conflict("nothing to sign: save a draft of the note first")
    missing = [name for name in FORMATS[format_] if not (sections.get(name) or "").strip()]
    if missing:
        raise InvalidInput(f"a {format_} note is signed with every section written",
                           {f"sections.{name}": ["required to sign"] for name in missing})
    pending = bool(supervision.pre_licensed)
    return drafted + [NewEvent("NoteSigned", {
        "note_id": note.note_id, "appointment_id": note.appointment_id,
        "client_id": note.client_id, "clinician_id": note.clinician_id,
        "format": format_, "signed_by": signed_by, "signed_at": signed_at,
        "pending_supervision": pending,
        "supervisor_id": supervision.supervisor_id if pending else None})]


def cosign(note, cosigned_by, cosigned_at):
    """The supervisor co-signs a pre-licensed clinician's signed note -> [NoteCoSigned]."""
    if not note.signed:
        raise Conflict("the note is not signed yet: the clinician signs first")
    if note.cosigned_by is not None:
        raise Conflict(f"the note was already co-signed by {note.cosigned_by}")
    if not note.pending_supervision:
        raise Conflict("this note needs no co-signature")
    if cosigned_by != note.supervisor_id:
        raise Forbidden("only the clinician's supervisor co-signs this note")
    return [NewEvent("NoteCoSigned", {
        "note_id": note.note_id, "appointment_id": note.appointment_id,
        "client_id": note.client_id, "cosigned_by": cosigned_by, "cosigned_at": cosigned_at})]


def add_addendum(note, addendum_id, text_, signed_by, signed_at):
    """Amend a signed note -> [NoteAddendumAdded], signed by its author.

    Only the note's author amends it, and the supervisor named to co-sign it: the two
    who answer for what it says.
    """
    if signed_by is None or signed_by not in (note.clinician_id, note.supervisor_id):
        raise Forbidden("only the note's author or its co-signing supervisor adds an "
                        "addendum")
    if not note.signed:
        raise Conflict("the note is not signed yet: change the draft instead of adding an "
                       "addendum")
    errors = Errors("addendum")
    text(text_, "text", errors, ADDENDUM_MAX)
    errors.raise_any()
    return [NewEvent("NoteAddendumAdded", {
        "note_id": note.note_id, "addendum_id": addendum_id, "client_id": note.client_id,
        "text": text_, "signed_by": signed_by, "signed_at": signed_at})]


def set_supervision(clinician_id, pre_licensed, supervisor_id, set_by, set_at):
    """-> [ClinicianSupervisionSet]; a pre-licensed clinician names a supervisor.

    It sets the clinician's supervision outright, whatever it was: nothing here reads
    the current one."""
    errors = Errors("supervision")
    if not isinstance(pre_licensed, bool):
        errors.add("pre_licensed", "must be true or false")
    if pre_licensed and not supervisor_id:
        errors.add("supervisor_id", "a pre-licensed clinician needs a supervisor")
    if supervisor_id is not None and supervisor_id == clinician_id:
        errors.add("supervisor_id", "a clinician does not supervise themselves")
    if not pre_licensed and supervisor_id:
        errors.add("supervisor_id", "only a pre-licensed clinician has a co-signing supervisor")
    errors.raise_any()
    return [NewEvent("ClinicianSupervisionSet", {
        "clinician_id": clinician_id, "pre_licensed": pre_licensed,
        "supervisor_id": supervisor_id if pre_licensed else None,
        "set_by": set_by, "set_at": set_at})]


def set_deadline(hours, set_by, set_at):
    """-> [NoteDeadlineSet]: notes are due this many hours after their session."""
    errors = Errors("note deadline")
    if isinstance(hours, bool) or not isinstance(hours, int) \
            or not 1 <= hours <= DEADLINE_HOURS_MAX:
        errors.add("deadline_hours", f"an integer from 1 to {DEADLINE_HOURS_MAX}")
    errors.raise_any()
    return [NewEvent("NoteDeadlineSet", {"deadline_hours": hours, "set_by": set_by,
                                         "set_at": set_at})]


def due_at(session_start, deadline_hours):
    """When a session's note is due (a datetime)."""
    return parse_time(session_start) + timedelta(hours=deadline_hours)


def overdue_seconds(session_start, deadline_hours, now):
    """How long past its deadline an unsigned note is at `now` (0 when not yet due)."""
    return max(0, int((now - due_at(session_start, deadline_hours)).total_seconds()))
