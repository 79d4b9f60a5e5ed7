"""Use cases of the treatment plan: goals (set, revise, move, rate), diagnoses, stage,
and the plan view with each goal's history and the client's GAS T-score."""
import uuid

from sqlalchemy import select

from shared.errors import InvalidInput
from shared.timeutil import iso, utc_now

from ..domain import between_sessions, treatment_plan as plan_rules
from ..read_models import chart_sessions, homework, plan_goals, plan_history
from .common import (
    client_view, context_of, json_or_none, tenant_rows, time_or_none, visible_client,
)


class TreatmentPlanUseCases:
    def _change_plan(self, principal, correlation_id, client_id, decide):
        """Load the client's plan, let `decide(plan, uow, record)` choose events, append them."""
        client_id = str(client_id)
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, client_id)
            stream = plan_rules.stream_of(client_id)
            plan = plan_rules.TreatmentPlan.from_events(client_id, uow.load(stream))
            new_events = decide(plan, uow, record)
            appended = uow.append(stream, plan.version, context_of(record, correlation_id,
                                                                   principal), new_events)
        return appended

    def set_goal(self, principal, correlation_id, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_goal(
                plan, str(uuid.uuid4()), command["description"], command["target_date"],
                command["instrument"], command["target_score"], principal.user_id,
                iso(utc_now()), weight=command.get("weight", 1), levels=command.get("levels"),
                status=command.get("status", plan_rules.DEFAULT_STATUS))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return {**event.data, "latest_level": None, "latest_rated_at": None}

    def revise_goal(self, principal, correlation_id, client_id, goal_id, command):
        changes = {k: v for k, v in command.items() if k != "reason"}
        if "target_date" in changes and changes["target_date"] is not None:
            changes["target_date"] = changes["target_date"].isoformat()

        def decide(plan, _uow, _record):
            return plan_rules.revise_goal(plan, str(goal_id), changes, command.get("reason"),
                                          principal.user_id, iso(utc_now()))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return dict(event.data)

    def change_goal_status(self, principal, correlation_id, client_id, goal_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.change_goal_status(plan, str(goal_id), command["status"],
                                                 command.get("reason"), principal.user_id,
                                                 iso(utc_now()))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return dict(event.data)

    def rate_goal(self, principal, correlation_id, client_id, goal_id, command):
        appointment_id = command.get("appointment_id")
        appointment_id = str(appointment_id) if appointment_id is not None else None

        def decide(plan, uow, record):
            if appointment_id is not None:
                held = uow.conn.execute(select(chart_sessions).where(
                    chart_sessions.c.appointment_id == appointment_id,
                    chart_sessions.c.client_id == record["client_id"],
                    chart_sessions.c.organisation_id == record["organisation_id"])).first()
                # A session held at a clinic the caller lacks reads as no session at all.
                if held is None or not principal.sees(held.organisation_id, held.clinic_id):
                    raise InvalidInput("no such session", {"appointment_id": [
                        "no session held with this client has this id"]})
            return plan_rules.rate_goal(plan, str(goal_id), command["level"], appointment_id,
                                        principal.user_id, iso(utc_now()))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return dict(event.data)

    def set_diagnoses(self, principal, correlation_id, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_diagnoses(plan, command["codes"], principal.user_id,
                                            iso(utc_now()))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return dict(event.data)

    def set_stage(self, principal, correlation_id, client_id, command):
        def decide(plan, _uow, _record):
            return plan_rules.set_stage(plan, command["stage"], principal.user_id,
                                        iso(utc_now()))
        (event,) = self._change_plan(principal, correlation_id, client_id, decide)
        return dict(event.data)

    # -- the plan as read -------------------------------------------------------------
    def plan(self, principal, client_id):
        """Diagnoses, stage, goals with levels, ratings and history, the T-score and
        homework completion, each with its history."""
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))
            goals = tenant_rows(conn, principal, plan_goals, record, plan_goals.c.set_at,
                                plan_goals.c.goal_id)
            history = tenant_rows(conn, principal, plan_history, record,
                                  plan_history.c.sequence, plan_history.c.event_id)
            assigned = tenant_rows(conn, principal, homework, record, homework.c.assigned_at,
                                   homework.c.homework_id)
        return plan_view(record, goals, history, assigned)


def history_entry(row):
    return {"kind": row["kind"], "at": iso(row["at"]), "by": row["by"],
            **json_or_none(row["details"])}


def goal_view(row):
    return {"goal_id": row["goal_id"], "description": row["description"],
            "target_date": row["target_date"].isoformat(), "instrument": row["instrument"],
            "target_score": row["target_score"], "weight": row["weight"],
            "levels": json_or_none(row["levels"]), "status": row["status"],
            "latest_level": row["latest_level"],
            "latest_rated_at": time_or_none(row["latest_rated_at"]),
            "set_by": row["set_by"], "set_at": iso(row["set_at"])}


def completion(rows):
    done = sum(1 for r in rows if r["completed_at"] is not None)
    return {"assigned": len(rows), "completed": done,
            "completion_rate": between_sessions.completion_rate(len(rows), done)}


def t_score_of(goals):
    rated = [(g["weight"], g["latest_level"]) for g in goals
             if g["status"] != "cancelled" and g["latest_level"] is not None]
    return plan_rules.gas_t_score(rated), len(rated)


def current(history, kind):
    """The latest entry of a kind, or None."""
    entries = [h for h in history if h["kind"] == kind]
    return history_entry(entries[-1]) if entries else None


def plan_view(record, goals, history, assigned):
    t_score, rated = t_score_of(goals)
    diagnoses = current(history, "diagnoses_set")
    stage = current(history, "stage_set")
    views = []
    for goal in goals:
        own_history = [h for h in history if h["goal_id"] == goal["goal_id"]]
        views.append({
            **goal_view(goal),
            "ratings": [{"level": h["level"], "appointment_id": h["appointment_id"],
                         "rated_by": h["by"], "rated_at": h["at"]}
                        for h in map(history_entry, own_history) if h["kind"] == "goal_rated"],
            "history": [history_entry(h) for h in own_history],
            "homework": completion([a for a in assigned if a["goal_id"] == goal["goal_id"]]),
        })
    return {
        "client": client_view(record),
        "diagnoses": {"codes": diagnoses["codes"], "set_by": diagnoses["by"],
                      "set_at": diagnoses["at"]} if diagnoses else {"codes": []},
        "diagnosis_history": [history_entry(h) for h in history if h["kind"] == "diagnoses_set"],
        "stage": {"stage": stage["stage"], "set_by": stage["by"], "set_at": stage["at"]}
        if stage else None,
        "stage_history": [history_entry(h) for h in history if h["kind"] == "stage_set"],
        "goals": views,
        "gas": {"t_score": t_score, "goals_rated": rated, "rho": plan_rules.GAS_RHO},
        "homework": completion(assigned),
    }
