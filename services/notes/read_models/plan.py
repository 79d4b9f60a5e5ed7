"""The treatment plan as read: goals with their current terms and latest rating,
and the plan's history (every goal set, revised, moved, rated; diagnoses; stage),
in the order of the plan's stream."""
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, Text, update

from shared.timeutil import parse_date, parse_time

from shared.projection import upsert

from .base import metadata, projection, tenancy, to_json

plan_goals = Table(
    "plan_goals", metadata,
    Column("goal_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("target_date", Date, nullable=False),
    Column("instrument", String(40)),
    Column("target_score", Integer),
    Column("weight", Integer, nullable=False),
    Column("levels", Text),  # JSON {"-2": ..., "+2": ...} or null
    Column("status", String(20), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("latest_level", Integer),
    Column("latest_rated_at", DateTime(timezone=True)),
    Column("ratings", Integer, nullable=False),
    Column("scaled", Boolean, nullable=False),
)

plan_history = Table(
    "plan_history", metadata,
    Column("event_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("organisation_id", String(64), nullable=False),
    Column("clinic_id", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),  # the plan stream's version
    Column("goal_id", String(36)),
    Column("kind", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(200), nullable=False),
    Column("details", Text, nullable=False),  # JSON: what the event says
)

HISTORY = {
    # event name -> (kind, time field, author field, detail fields)
    "GoalSet": ("goal_set", "set_at", "set_by",
                ("description", "target_date", "instrument", "target_score", "weight",
                 "levels", "status")),
    "GoalRevised": ("goal_revised", "revised_at", "revised_by",
                    ("description", "target_date", "instrument", "target_score", "weight",
                     "levels", "changed", "reason")),
    "GoalStatusChanged": ("goal_status_changed", "changed_at", "changed_by",
                          ("status", "previous_status", "reason")),
    "GoalRated": ("goal_rated", "rated_at", "rated_by", ("level", "appointment_id")),
    "DiagnosesSet": ("diagnoses_set", "set_at", "set_by", ("codes",)),
    "TreatmentStageSet": ("stage_set", "set_at", "set_by", ("stage", "previous_stage")),
    "TreatmentApproachSet": ("approach_set", "set_at", "set_by",
                             ("approaches", "other_text", "previous_approaches")),
}


@projection.on(*HISTORY)
def plan_history_row(conn, event):
    kind, at, by, fields = HISTORY[event.name]
    data = event.data
    upsert(conn, plan_history, {"event_id": event.id}, dict(
        client_id=data["client_id"], **tenancy(event),
        sequence=event.sequence, goal_id=data.get("goal_id"), kind=kind,
        at=parse_time(data[at]), by=data[by],
        details=to_json({field: data.get(field) for field in fields})))


def _terms(data):
    return dict(description=data["description"], target_date=parse_date(data["target_date"]),
                instrument=data["instrument"], target_score=data["target_score"],
                weight=data.get("weight", 1), levels=to_json(data.get("levels")),
                scaled=bool(data.get("levels")))


@projection.on("GoalSet")
def goal_set(conn, event):
    data = event.data
    upsert(conn, plan_goals, {"goal_id": data["goal_id"]}, dict(
        client_id=data["client_id"], **tenancy(event),
        **_terms(data), status=data.get("status", "active"), set_by=data["set_by"],
        set_at=parse_time(data["set_at"]), latest_level=None, latest_rated_at=None,
        ratings=0))


@projection.on("GoalRevised")
def goal_revised(conn, event):
    conn.execute(update(plan_goals).where(plan_goals.c.goal_id == event.data["goal_id"])
                 .values(**_terms(event.data)))


@projection.on("GoalStatusChanged")
def goal_status_changed(conn, event):
    conn.execute(update(plan_goals).where(plan_goals.c.goal_id == event.data["goal_id"])
                 .values(status=event.data["status"]))


@projection.on("GoalRated")
def goal_rated(conn, event):
    data = event.data
    conn.execute(update(plan_goals).where(plan_goals.c.goal_id == data["goal_id"])
                 .values(latest_level=data["level"], latest_rated_at=parse_time(data["rated_at"]),
                         ratings=plan_goals.c.ratings + 1))
