"""Progress notes' rules: one per session, formats, drafts, signing locks, addenda,
supervision, deadlines (services/notes/domain/progress_notes.py)."""
import uuid
from datetime import datetime, timezone

import pytest

from services.notes.domain import progress_notes as rules
from shared.envelope import Event, event_type
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.events import catalogue

APPOINTMENT = str(uuid.uuid4())
CLIENT = str(uuid.uuid4())
AT = "2026-03-02T11:00:00Z"
SOAP = {"subjective": "Slept badly", "objective": "Tired, on time",
        "assessment": "Low mood persists", "plan": "Sleep diary"}


class Note:
    def __init__(self, clinician="clinician-1"):
        self.events = []
        self.record(rules.open_note(self(), APPOINTMENT, CLIENT, clinician,
                                    "2026-03-02T10:00:00Z", AT))

    def __call__(self):
        return rules.ProgressNote.from_events(APPOINTMENT, self.events)

    def record(self, new_events):
        for new in new_events:
            event = Event(id=new.id or str(uuid.uuid4()), source="/praxis/notes",
                          type=event_type("notes", new.name, 1),
                          subject=rules.ProgressNote.stream_of(APPOINTMENT), time=AT,
                          data=new.data,
                          sequence=len(self.events) + 1, organisationid="org-1",
                          clinicid="clinic-1", correlationid="c")
            catalogue.validate(event)
            self.events.append(event)
        return new_events


def licensed():
    return rules.Supervision("org-1", "clinician-1")


def pre_licensed(supervisor="supervisor-1"):
    return rules.Supervision("org-1", "clinician-1", 1, True, supervisor)


@pytest.fixture
def note():
    return Note()


def test_a_session_opens_one_note_with_an_id_from_the_appointment(note):
    (opened,) = note.events
    assert opened.name == "ProgressNoteOpened"
    assert opened.data["note_id"] == rules.note_id_of(APPOINTMENT)
    assert uuid.UUID(opened.id).version == 5  # deterministic: exactly once
    assert rules.open_note(note(), APPOINTMENT, CLIENT, "clinician-1", AT, AT) == []
    assert note().status == "due"


@pytest.mark.parametrize("format_, sections", [
    ("SOAP", SOAP),
    ("DAP", {"data": "d", "assessment": "a", "plan": "p"}),
    ("BIRP", {"behavior": "b", "intervention": "i", "response": "r", "plan": "p"}),
])
def test_each_format_signs_with_its_sections(note, format_, sections):
    note.record(rules.save_draft(note(), format_, sections, "clinician-1", AT))
    assert note().status == "draft"
    (signed,) = note.record(rules.sign(note(), licensed(), "clinician-1", AT))
    assert signed.data["format"] == format_ and signed.data["pending_supervision"] is False
    assert note().status == "signed"
    assert set(rules.FORMATS[format_]) == set(sections)


def test_drafts_are_saved_many_times_and_may_be_partial(note):
    note.record(rules.save_draft(note(), "DAP", {"data": "first"}, "clinician-1", AT))
    note.record(rules.save_draft(note(), "SOAP", {"subjective": "s"}, "clinician-1", AT))
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    assert note().format == "SOAP" and note().sections == SOAP
    assert [e.name for e in note.events].count("ProgressNoteDrafted") == 3


def test_a_draft_names_sections_its_format_does_not_have(note):
    with pytest.raises(InvalidInput) as caught:
        rules.save_draft(note(), "DAP", {"data": "d", "subjective": "s"}, "clinician-1", AT)
    assert list(caught.value.fields) == ["sections.subjective"]
    with pytest.raises(InvalidInput) as caught:
        rules.save_draft(note(), "GIRP", {}, "clinician-1", AT)
    assert list(caught.value.fields) == ["format"]


def test_signing_needs_every_section_written(note):
    with pytest.raises(Conflict):
        rules.sign(note(), licensed(), "clinician-1", AT)  # no draft yet
    note.record(rules.save_draft(note(), "SOAP", {**SOAP, "objective": " ", "plan": ""},
                                 "clinician-1", AT))
    with pytest.raises(InvalidInput) as caught:
        rules.sign(note(), licensed(), "clinician-1", AT)
    assert sorted(caught.value.fields) == ["sections.objective", "sections.plan"]


def test_a_draft_given_with_the_signature_is_saved_and_signed_in_one_go(note):
    drafted, signed = note.record(rules.sign(note(), licensed(), "clinician-1", AT,
                                             draft=("SOAP", SOAP)))
    assert (drafted.name, drafted.data["sections"]) == ("ProgressNoteDrafted", SOAP)
    assert (signed.name, signed.data["format"]) == ("NoteSigned", "SOAP")
    assert note().status == "signed"
    other = Note()
    with pytest.raises(InvalidInput) as caught:  # the draft given is checked to sign too
        rules.sign(other(), licensed(), "clinician-1", AT, draft=("DAP", {"data": "d"}))
    assert sorted(caught.value.fields) == ["sections.assessment", "sections.plan"]


def test_only_the_sessions_clinician_drafts_and_signs(note):
    with pytest.raises(Forbidden):
        rules.save_draft(note(), "SOAP", SOAP, "clinician-2", AT)
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    with pytest.raises(Forbidden):
        rules.sign(note(), licensed(), "clinician-2", AT)


def test_a_signed_note_is_locked_and_takes_several_addenda_each_signed(note):
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    with pytest.raises(Conflict):
        rules.add_addendum(note(), str(uuid.uuid4()), "too early", "clinician-1", AT)
    note.record(rules.sign(note(), licensed(), "clinician-1", AT))
    with pytest.raises(Conflict):
        rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT)
    with pytest.raises(Conflict):
        rules.sign(note(), licensed(), "clinician-1", AT)
    first = note.record(rules.add_addendum(note(), str(uuid.uuid4()), "Client called: better",
                                           "clinician-1", AT))
    second = note.record(rules.add_addendum(note(), str(uuid.uuid4()), "Correction: 10:05",
                                            "clinician-1", "2026-03-03T09:00:00Z"))
    assert [a.data["signed_at"] for a in first + second] == [AT, "2026-03-03T09:00:00Z"]
    assert len(note().addenda) == 2 and note().status == "signed"
    with pytest.raises(InvalidInput) as caught:
        rules.add_addendum(note(), str(uuid.uuid4()), "  ", "clinician-1", AT)
    assert list(caught.value.fields) == ["text"]


def test_only_the_author_or_the_cosigning_supervisor_adds_an_addendum(note):
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    with pytest.raises(Forbidden):  # whatever the note's state
        rules.add_addendum(note(), str(uuid.uuid4()), "early", "clinician-2", AT)
    note.record(rules.sign(note(), pre_licensed(), "clinician-1", AT))
    for stranger in ("clinician-2", "supervisor-2", None):
        with pytest.raises(Forbidden):
            rules.add_addendum(note(), str(uuid.uuid4()), "not mine", stranger, AT)
    (by_supervisor,) = note.record(rules.add_addendum(note(), str(uuid.uuid4()),
                                                      "Discussed in supervision", "supervisor-1",
                                                      AT))
    assert by_supervisor.data["signed_by"] == "supervisor-1"
    note.record(rules.cosign(note(), "supervisor-1", AT))
    note.record(rules.add_addendum(note(), str(uuid.uuid4()), "After co-signing",
                                   "supervisor-1", AT))
    assert len(note().addenda) == 2


def test_a_licensed_clinicians_note_takes_no_addendum_from_others(note):
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    note.record(rules.sign(note(), licensed(), "clinician-1", AT))
    with pytest.raises(Forbidden):
        rules.add_addendum(note(), str(uuid.uuid4()), "covering", "clinician-2", AT)


def test_a_pre_licensed_clinicians_note_waits_for_the_supervisor(note):
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    with pytest.raises(Conflict):
        rules.cosign(note(), "supervisor-1", AT)  # not signed yet
    (signed,) = note.record(rules.sign(note(), pre_licensed(), "clinician-1", AT))
    assert signed.data["pending_supervision"] is True
    assert signed.data["supervisor_id"] == "supervisor-1"
    assert note().status == "pending_supervision"
    with pytest.raises(Forbidden):
        rules.cosign(note(), "supervisor-2", AT)
    with pytest.raises(Forbidden):
        rules.cosign(note(), "clinician-1", AT)
    (cosigned,) = note.record(rules.cosign(note(), "supervisor-1", AT))
    assert cosigned.data["cosigned_by"] == "supervisor-1" and note().status == "signed"
    with pytest.raises(Conflict):
        rules.cosign(note(), "supervisor-1", AT)


def test_a_licensed_clinicians_note_needs_no_cosignature(note):
    note.record(rules.save_draft(note(), "SOAP", SOAP, "clinician-1", AT))
    note.record(rules.sign(note(), licensed(), "clinician-1", AT))
    with pytest.raises(Conflict):
        rules.cosign(note(), "supervisor-1", AT)


@pytest.mark.parametrize("pre, supervisor, field", [
    (True, None, "supervisor_id"), (True, "clinician-1", "supervisor_id"),
    (False, "supervisor-1", "supervisor_id"), ("yes", "supervisor-1", "pre_licensed")])
def test_supervision_rules(pre, supervisor, field):
    with pytest.raises(InvalidInput) as caught:
        rules.set_supervision("clinician-1", pre, supervisor, "admin", AT)
    assert field in caught.value.fields


def test_deadline_and_overdue():
    assert rules.DEFAULT_DEADLINE_HOURS == 72
    start = "2026-03-02T10:00:00Z"
    assert rules.due_at(start, 72) == datetime(2026, 3, 5, 10, tzinfo=timezone.utc)
    assert rules.overdue_seconds(start, 72, datetime(2026, 3, 5, 9, tzinfo=timezone.utc)) == 0
    assert rules.overdue_seconds(start, 72, datetime(2026, 3, 5, 12, 30, tzinfo=timezone.utc)) \
        == 2.5 * 3600
    assert rules.overdue_seconds(start, 24, datetime(2026, 3, 5, 10, tzinfo=timezone.utc)) \
        == 48 * 3600
    for hours in (0, -1, 24 * 60 + 1, 1.5, True):
        with pytest.raises(InvalidInput):
            rules.set_deadline(hours, "admin", AT)
