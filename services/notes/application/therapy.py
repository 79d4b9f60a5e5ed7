"""Commands on what the therapy does: the plan's approach, a session's interventions,
the organisation's own vocabulary of both."""
from shared.auth import ALL_CLINICS
from shared.timeutil import iso, utc_now

from ..domain import therapy as therapy_rules
from ..domain.progress_notes import ProgressNote
from ..domain.therapy import TherapyVocabulary
from ..domain.treatment_plan import TreatmentPlan
from ..queries.common import visible_client
from ..queries.progress_notes import note_row
from ..queries.therapy import vocabulary_of


class TherapyCommands:
    def set_approach(self, caller, client_id, command):
        with self.store.unit_of_work() as uow:
            record = visible_client(caller.principal, uow.conn, str(client_id))
            plan = uow.get(TreatmentPlan, record["client_id"])
            (event,) = uow.save(plan, caller.context_of(record), therapy_rules.set_approach(
                plan, vocabulary_of(uow.conn, record["organisation_id"]),
                command["approaches"], command.get("other_text"), caller.principal.user_id,
                iso(utc_now())))
        return {key: event.data[key] for key in ("client_id", "approaches", "other_text",
                                                 "previous_approaches", "set_by", "set_at")}

    def record_interventions(self, caller, note_id, command):
        with self.store.unit_of_work() as uow:
            row = caller.principal.require_visible(note_row(uow.conn, note_id), "note")
            note = uow.get(ProgressNote, row["appointment_id"])
            uow.save(note, caller.context_of(row), therapy_rules.record_interventions(
                note, vocabulary_of(uow.conn, row["organisation_id"]),
                command["interventions"], command.get("other_text"),
                caller.principal.user_id, iso(utc_now())))
        return self.session_interventions(caller.principal, note_id)

    def set_therapy_vocabulary(self, caller, command):
        """Organisation-wide, like an instrument: only an admin of every clinic sets it."""
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, ALL_CLINICS)
        new_events = therapy_rules.set_vocabulary(
            command["approaches"], command["interventions"], principal.user_id,
            iso(utc_now()))
        with self.store.unit_of_work() as uow:
            # A blind write: the PUT sets the organisation's own entries outright.
            uow.append_blind(TherapyVocabulary.stream_of(principal.organisation_id),
                             caller.context(principal.organisation_id, ALL_CLINICS),
                             new_events)
        return self.therapy_vocabulary(principal)
