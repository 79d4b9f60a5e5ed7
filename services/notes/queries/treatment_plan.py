"""The treatment plan as read: goals with their levels, ratings and history, diagnoses,
stage, the client's GAS T-score and homework completion."""
from shared.timeutil import iso

from ..domain import between_sessions, treatment_plan as plan_rules
from ..read_models import homework, plan_goals, plan_history
from .common import client_view, json_or_none, tenant_rows, time_or_none, visible_client


class TreatmentPlanQueries:
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
    approach = current(history, "approach_set")
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
        "approach": {"approaches": approach["approaches"], "other_text": approach["other_text"],
                     "set_by": approach["by"], "set_at": approach["at"]}
        if approach else None,
        "approach_history": [history_entry(h) for h in history if h["kind"] == "approach_set"],
        "goals": views,
        "gas": {"t_score": t_score, "goals_rated": rated, "rho": plan_rules.GAS_RHO},
        "homework": completion(assigned),
    }
