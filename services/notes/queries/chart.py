"""The client's chart: one record of assessments, goals and ratings, sessions held,
progress notes and their status, homework, shared journal entries and the messages
a clinician flagged as clinically relevant, with one timeline of all of it.
Psychotherapy notes are never part of it."""
from shared.timeutil import iso

from ..read_models import (
    chart_assessments, chart_sessions, homework, journal_entries, messages, plan_goals,
    plan_history, progress_notes,
)
from .between_sessions import homework_view, journal_view
from .common import client_view, tenant_rows, visible_client
from .progress_notes import addenda_counts, note_summary
from .treatment_plan import current, goal_view, history_entry, t_score_of


class ChartQueries:
    def chart(self, principal, client_id):
        """The client's record, each part ordered by time, and the timeline of it all.

        Rows carry their own envelope's tenancy: only rows of the client's
        organisation that the caller may see are shown.
        """
        with self.store.read() as conn:
            record = visible_client(principal, conn, str(client_id))

            def rows(table, *order, where=()):
                return tenant_rows(conn, principal, table, record, *order, where=where)

            goals = rows(plan_goals, plan_goals.c.set_at, plan_goals.c.goal_id)
            history = rows(plan_history, plan_history.c.sequence, plan_history.c.event_id)
            assessments = rows(chart_assessments, chart_assessments.c.assessed_at,
                               chart_assessments.c.assessment_id)
            sessions = rows(chart_sessions, chart_sessions.c.start,
                            chart_sessions.c.appointment_id)
            notes = rows(progress_notes, progress_notes.c.session_start,
                         progress_notes.c.note_id)
            counts = addenda_counts(conn, [n["note_id"] for n in notes])
            assigned = rows(homework, homework.c.assigned_at, homework.c.homework_id)
            shared = rows(journal_entries, journal_entries.c.written_at,
                          journal_entries.c.entry_id,
                          where=(journal_entries.c.shared.is_(True),))
            flagged = rows(messages, messages.c.flagged_at, messages.c.message_id,
                           where=(messages.c.flagged_at.is_not(None),))
        t_score, _rated = t_score_of(goals)
        diagnoses = current(history, "diagnoses_set")
        stage = current(history, "stage_set")
        note_views = [{**note_summary(n), "addenda": counts.get(n["note_id"], 0)} for n in notes]
        return {
            "client": client_view(record),
            "goals": [goal_view(g) for g in goals],
            "assessments": [_assessment_view(r) for r in assessments],
            "sessions": [_session_view(r) for r in sessions],
            "diagnoses": diagnoses["codes"] if diagnoses else [],
            "stage": stage["stage"] if stage else None,
            "gas_t_score": t_score,
            "notes": note_views,
            "homework": [homework_view(h) for h in assigned],
            "journal": [journal_view(j) for j in shared],
            "flagged_messages": [_flagged_view(m) for m in flagged],
            "timeline": _timeline(goals, history, assessments, sessions, note_views, assigned,
                                  shared, flagged),
        }


def _assessment_view(r):
    return {"assessment_id": r["assessment_id"], "instrument": r["instrument"],
            "kind": r["kind"], "total": r["total"], "severity": r["severity"],
            "assessed_at": iso(r["assessed_at"])}


def _session_view(r):
    return {"appointment_id": r["appointment_id"], "clinician_id": r["clinician_id"],
            "start": iso(r["start"]), "minutes": r["minutes"], "modality": r["modality"],
            "session_number": r["session_number"]}


def _flagged_view(m):
    return {"message_id": m["message_id"], "sender_id": m["sender_id"],
            "sender_role": m["sender_role"], "text": m["text"], "sent_at": iso(m["sent_at"]),
            "flagged_by": m["flagged_by"], "flagged_at": iso(m["flagged_at"])}


def _timeline(goals, history, assessments, sessions, notes, assigned, shared, flagged):
    """Every dated fact of the chart in time order (ties broken by kind, then id)."""
    descriptions = {g["goal_id"]: g["description"] for g in goals}
    items = []
    for a in assessments:
        items.append({"at": iso(a["assessed_at"]), "kind": "assessment",
                      "id": a["assessment_id"], "instrument": a["instrument"],
                      "assessment_kind": a["kind"], "total": a["total"],
                      "severity": a["severity"]})
    for h in history:
        entry = history_entry(h)
        item = {"at": entry.pop("at"), "kind": entry.pop("kind"), "id": h["event_id"],
                "by": entry.pop("by")}
        if h["goal_id"] is not None:
            item["goal_id"] = h["goal_id"]
            item["goal"] = descriptions.get(h["goal_id"])
        keep = {"goal_set": ("status", "weight"), "goal_revised": ("changed", "reason"),
                "goal_status_changed": ("status", "previous_status", "reason"),
                "goal_rated": ("level", "appointment_id"), "diagnoses_set": ("codes",),
                "stage_set": ("stage", "previous_stage")}[item["kind"]]
        item.update({key: entry.get(key) for key in keep})
        items.append(item)
    for s in sessions:
        items.append({"at": iso(s["start"]), "kind": "session_held", "id": s["appointment_id"],
                      "clinician_id": s["clinician_id"], "minutes": s["minutes"],
                      "modality": s["modality"], "session_number": s["session_number"]})
    for n in notes:
        if n["signed_at"] is not None:
            items.append({"at": n["signed_at"], "kind": "note_signed", "id": n["note_id"],
                          "appointment_id": n["appointment_id"], "by": n["signed_by"],
                          "format": n["format"], "status": n["status"]})
        if n["cosigned_at"] is not None:
            items.append({"at": n["cosigned_at"], "kind": "note_cosigned", "id": n["note_id"],
                          "appointment_id": n["appointment_id"], "by": n["cosigned_by"]})
    for h in assigned:
        items.append({"at": iso(h["assigned_at"]), "kind": "homework_assigned",
                      "id": h["homework_id"], "goal_id": h["goal_id"],
                      "due_date": h["due_date"].isoformat(), "by": h["assigned_by"]})
        if h["completed_at"] is not None:
            items.append({"at": iso(h["completed_at"]), "kind": "homework_completed",
                          "id": h["homework_id"], "goal_id": h["goal_id"]})
    for j in shared:
        items.append({"at": iso(j["written_at"]), "kind": "journal_entry", "id": j["entry_id"],
                      "mood": j["mood"], "text": j["text"]})
    for m in flagged:  # at when it was sent: where it belongs in the story
        items.append({"at": iso(m["sent_at"]), "kind": "message_flagged",
                      "id": m["message_id"], "sender_role": m["sender_role"],
                      "text": m["text"], "by": m["flagged_by"],
                      "flagged_at": iso(m["flagged_at"])})
    return sorted(items, key=lambda i: (i["at"], i["kind"], i["id"]))
