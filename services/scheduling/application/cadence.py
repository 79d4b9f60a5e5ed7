"""The reassessment cadence: policies, and ReassessmentDue decided in the unit of
work of whatever can make it due (a session held here, a policy set, an assessment
consumed from intake) and by a periodic check for cycles that come due by time
alone."""
import uuid

from shared.auth import Principal
from shared.caller import Caller
from shared.envelope import Context
from shared.timeutil import parse_time, utc_now

from ..domain import cadence as rules
from ..domain.cadence import Cadence
from ..domain.calendar import Clinic
from ..queries import records

TIMER = "timer:reassessment-cadence"  # the actor of what the periodic check appends


def timer_caller():
    """The periodic check as a caller: no person, a correlation of its own per run."""
    return Caller(Principal(TIMER, "timer", None, ()), str(uuid.uuid4()))


class ReassessmentCommands:
    def set_reassessment_policy(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_role("admin")
        organisation_id = principal.organisation_id
        principal.require_clinic(organisation_id, clinic_id)
        new_events = rules.set_policy(command.get("every_sessions"), command.get("every_days"))
        with self.store.unit_of_work() as uow:
            # A blind write: the PUT sets the clinic's policy whole.
            uow.append_blind(Clinic.stream_of(organisation_id, clinic_id),
                             caller.context(organisation_id, clinic_id), new_events)
        return self.reassessment_policy(principal, clinic_id)

    def set_client_reassessment_policy(self, caller, client_id, command):
        """A client's own cadence; both limits null returns them to the clinic's."""
        principal = caller.principal
        principal.require_role("admin", "clinician")
        client_id = str(client_id)
        with self.store.unit_of_work() as uow:
            uow.lock()  # what the new policy makes due is read from the read models
            client = principal.require_visible(records.client_row(uow.conn, client_id), "client")
            new_events = rules.set_policy(command.get("every_sessions"),
                                          command.get("every_days"), client_id=client_id)
            # A blind write: the PUT sets the client's policy whole.
            (event,) = uow.append_blind(
                Clinic.stream_of(client["organisation_id"], client["clinic_id"]),
                caller.context_of(client), new_events)
            self._decide_reassessment(uow, client_id, Context.caused_by(event), utc_now())
        return self.client_reassessment_policy(principal, client_id)

    def check_reassessments_due(self, now=None):
        """Cycles that came due by time alone (every D days), or by a policy that
        changed: what the timer runs every minute. Returns the events appended."""
        now = now or utc_now()
        caller = timer_caller()
        appended, after = [], ""
        while True:
            with self.store.read() as conn:
                page = records.clients_to_check(conn, after)
            if not page:
                return appended
            for client_id, organisation_id, clinic_id in page:
                with self.store.read() as conn:  # a cheap look first: no write lock
                    policy = records.effective_policy(conn, organisation_id, clinic_id, client_id)
                    cadence = Cadence.from_events(client_id, self.store.read_stream(
                        Cadence.stream_of(client_id), conn))
                    if not records.with_facts(conn, cadence).decide(policy, now):
                        continue
                with self.store.unit_of_work() as uow:
                    uow.lock()
                    appended += self._decide_reassessment(
                        uow, client_id, caller.context(organisation_id, clinic_id), now)
            after = page[-1].client_id

    def on_client_assessed(self, uow, event, context):
        """A (possibly late) assessment: the projection already kept it or ignored
        it; an assessment dated before sessions already held may make it due now.
        One older than the latest held still decides its own cycle, as it would have
        had it arrived before the newer one: what is appended does not depend on
        the order intake's events arrive in."""
        data = event.data
        now = utc_now()
        self._decide_reassessment(uow, data["client_id"], context, now)
        self._decide_reassessment(uow, data["client_id"], context, now, last_assessment=(
            data["assessment_id"], parse_time(data["assessed_at"])))

    def _decide_reassessment(self, uow, client_id, context, now, last_assessment=None):
        """ReassessmentDue for the client's current cycle, or for the cycle opened by
        `last_assessment` ((id, assessed_at)) when given. The caller holds the write
        lock: the sessions and assessments it counts are read from the read models."""
        client_id = str(client_id)
        client = records.client_row(uow.conn, client_id)
        organisation_id, clinic_id = (client["organisation_id"], client["clinic_id"]) \
            if client else (context.organisation_id, context.clinic_id)
        policy = records.effective_policy(uow.conn, organisation_id, clinic_id, client_id)
        cadence = records.with_facts(uow.conn, uow.get(Cadence, client_id), last_assessment)
        return uow.save(cadence, context, cadence.decide(policy, now))
