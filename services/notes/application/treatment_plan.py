"""Commands on the treatment plan: goals (set, revise, move, rate), diagnoses, stage."""
import uuid

from sqlalchemy import select

from shared.errors import InvalidInput
from shared.timeutil import iso, utc_now

from ..domain import treatment_plan as plan_rules
from ..domain.treatment_plan import TreatmentPlan
from ..queries.common import visible_client
from ..read_models import chart_sessions


class TreatmentPlanCommands:
    def _change_plan(self, caller, client_id, decide):
        """Load the client's plan, let `decide(plan, uow, record)` choose events, and save
        them at the version loaded (409 if the plan changed meanwhile)."""
        with self.store.unit_of_work() as uow:
            record = visible_client(caller.principal, uow.conn, str(client_id))
            plan = uow.get(TreatmentPlan, record["client_id"])
            return uow.save(plan, caller.context_of(record), decide(plan, uow, record))

    def set_goal(self, caller, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_goal(
                plan, str(uuid.uuid4()), command["description"], command["target_date"],
                command["instrument"], command["target_score"], caller.principal.user_id,
                iso(utc_now()), weight=command.get("weight", 1), levels=command.get("levels"),
                status=command.get("status", plan_rules.DEFAULT_STATUS))
        (event,) = self._change_plan(caller, client_id, decide)
        return {**event.data, "latest_level": None, "latest_rated_at": None}

    def revise_goal(self, caller, client_id, goal_id, command):
        changes = {k: v for k, v in command.items() if k != "reason"}
        if "target_date" in changes and changes["target_date"] is not None:
            changes["target_date"] = changes["target_date"].isoformat()

        def decide(plan, _uow, _record):
            return plan_rules.revise_goal(plan, str(goal_id), changes, command.get("reason"),
                                          caller.principal.user_id, iso(utc_now()))
        (event,) = self._change_plan(caller, client_id, decide)
        return dict(event.data)

    def change_goal_status(self, caller, client_id, goal_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.change_goal_status(plan, str(goal_id), command["status"],
                                                 command.get("reason"),
                                                 caller.principal.user_id, iso(utc_now()))
        (event,) = self._change_plan(caller, client_id, decide)
        return dict(event.data)

    def rate_goal(self, caller, client_id, goal_id, command):
        appointment_id = command.get("appointment_id")
        appointment_id = str(appointment_id) if appointment_id is not None else None

        def decide(plan, uow, record):
            if appointment_id is not None:
                held = uow.conn.execute(select(chart_sessions).where(
                    chart_sessions.c.appointment_id == appointment_id,
                    chart_sessions.c.client_id == record["client_id"],
                    chart_sessions.c.organisation_id == record["organisation_id"])).first()
                # A session held at a clinic the caller lacks reads as no session at all.
                if held is None or not caller.principal.sees(held.organisation_id,
                                                             held.clinic_id):
                    raise InvalidInput("no such session", {"appointment_id": [
                        "no session held with this client has this id"]})
            return plan_rules.rate_goal(plan, str(goal_id), command["level"], appointment_id,
                                        caller.principal.user_id, iso(utc_now()))
        (event,) = self._change_plan(caller, client_id, decide)
        return dict(event.data)

    def set_diagnoses(self, caller, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_diagnoses(plan, command["codes"], caller.principal.user_id,
                                            iso(utc_now()))
        (event,) = self._change_plan(caller, client_id, decide)
        return dict(event.data)

    def set_stage(self, caller, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_stage(plan, command["stage"], caller.principal.user_id,
                                        iso(utc_now()))
        (event,) = self._change_plan(caller, client_id, decide)
        return dict(event.data)
