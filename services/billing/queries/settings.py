"""A clinic's billing settings: fee schedule (and its versions), policy, profiles."""
import json
from datetime import date

from sqlalchemy import select

from shared.errors import NotFound
from shared.timeutil import iso

from ..domain import BillingPolicy
from ..read_models import billing_policies, billing_profiles, fee_schedule_versions, \
    fee_schedules
from .base import day_of, profile_view, require_clinic


class SettingsQueries:
    def fee_schedule(self, principal, clinic_id):
        require_clinic(principal, clinic_id)
        with self.store.read() as conn:
            row = conn.execute(select(fee_schedules).where(
                fee_schedules.c.organisation_id == principal.organisation_id,
                fee_schedules.c.clinic_id == clinic_id)).first()
            versions = conn.execute(select(fee_schedule_versions).where(
                fee_schedule_versions.c.organisation_id == principal.organisation_id,
                fee_schedule_versions.c.clinic_id == clinic_id)
                .order_by(fee_schedule_versions.c.version)).all()
        if row is None:
            raise NotFound(f"clinic {clinic_id!r} has no fee schedule")
        versions = sorted(versions, key=lambda v: (v.effective_from or date.min, v.version))
        return {"organisation_id": row.organisation_id, "clinic_id": row.clinic_id,
                "currency": row.currency, "prices": json.loads(row.prices),
                "effective_from": day_of(row.effective_from),
                "version": row.version, "set_at": iso(row.set_at),
                "versions": [{"version": v.version, "currency": v.currency,
                              "prices": json.loads(v.prices),
                              "effective_from": day_of(v.effective_from)} for v in versions]}

    def policy(self, principal, clinic_id):
        require_clinic(principal, clinic_id)
        with self.store.read() as conn:
            row = conn.execute(select(billing_policies).where(
                billing_policies.c.organisation_id == principal.organisation_id,
                billing_policies.c.clinic_id == clinic_id)).first()
        # Through the policy, so settings added since it was set show their defaults.
        data = BillingPolicy(**json.loads(row.policy)).to_data() if row else \
            BillingPolicy().to_data()
        return {"clinic_id": clinic_id, "version": row.version if row else 0, **data}

    def profiles(self, principal, clinic_id):
        require_clinic(principal, clinic_id)
        with self.store.read() as conn:
            rows = conn.execute(select(billing_profiles).where(
                billing_profiles.c.organisation_id == principal.organisation_id,
                billing_profiles.c.clinic_id == clinic_id)
                .order_by(billing_profiles.c.clinician_key)).all()
        return {"clinic_id": clinic_id, "profiles": [profile_view(r) for r in rows]}

