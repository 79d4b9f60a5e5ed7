"""Reassessment policies, the clients due a reassessment, the overdue gauge."""
from datetime import timedelta

from shared import care_team, metrics, paging
from shared.timeutil import iso, utc_now

from ..domain import cadence as rules
from ..domain.cadence import Cadence
from ..read_models import aware
from . import records, views


class ReassessmentQueries:
    def reassessment_policy(self, principal, clinic_id):
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            own = records.clinic_policy(conn, principal.organisation_id, clinic_id)
        policy = own or rules.DEFAULT_POLICY
        return {"organisation_id": principal.organisation_id, "clinic_id": clinic_id,
                **views.policy(policy, "clinic" if own else "default")}

    def client_reassessment_policy(self, principal, client_id):
        with self.store.read() as conn:
            client = principal.require_visible(records.client_row(conn, client_id), "client")
            org, clinic = client["organisation_id"], client["clinic_id"]
            own = records.client_policy(conn, org, clinic, client_id)
            clinic_own = records.clinic_policy(conn, org, clinic)
        policy = rules.effective_policy(clinic_own, own)
        source = "client" if own else "clinic" if clinic_own else "default"
        return {"client_id": str(client_id), **views.policy(policy, source)}

    def refresh_gauges(self, now=None):
        """praxis_reassessments_overdue per clinic: due and still not done after
        OVERDUE_AFTER_DAYS (what GET /clinics/{clinic}/reassessments lists as overdue)."""
        cutoff = (now or utc_now()) - timedelta(days=rules.OVERDUE_AFTER_DAYS)
        with self.store.read() as conn:
            counts = records.overdue_counts(conn, cutoff)
        return self.set_practice_gauge(metrics.REASSESSMENTS_OVERDUE, counts)

    def reassessments(self, principal, clinic_id, query, now=None):
        """Clients whose reassessment is due and not yet done, oldest first; overdue
        when it has waited more than `overdue_after_days`. A page holds both."""
        overdue_after_days = query["overdue_after_days"]
        principal.require_role("admin", "clinician", "front_desk")
        principal.require_clinic(principal.organisation_id, clinic_id)
        now = now or utc_now()
        with self.store.read() as conn:
            cycles = records.open_cycles(conn, principal.organisation_id, clinic_id)
            cared_for = care_team.client_ids(conn, principal)  # None: the role sees all
            if cared_for is not None:
                cycles = [c for c in cycles if str(c["client_id"]) in cared_for]
            cycles, more = paging.trimmed(
                cycles[query["offset"]:query["offset"] + query["limit"] + 1], query["limit"])
            current = {c["client_id"]: records.with_facts(conn, Cadence.new(c["client_id"]))
                       for c in cycles}
        due, overdue = [], []
        for cycle in cycles:
            due_at = aware(cycle["due_at"])
            waited = now - due_at
            item = {"client_id": cycle["client_id"],
                    "last_assessment_id": cycle["last_assessment_id"],
                    "due_at": iso(due_at), "due_by": cycle["due_by"], "reason": cycle["reason"],
                    "days_waiting": max(0, waited.days),
                    "sessions_since_assessment":
                        current[cycle["client_id"]].sessions_since_assessment}
            (overdue if waited > timedelta(days=overdue_after_days) else due).append(item)
        return {"clinic_id": clinic_id, "overdue_after_days": overdue_after_days,
                "due": due, "overdue": overdue, "limit": query["limit"],
                "offset": query["offset"],
                "next": query["offset"] + len(cycles) if more else None}
