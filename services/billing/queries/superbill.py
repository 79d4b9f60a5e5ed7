"""The superbill: what a client hands an insurer for services in a period."""
import json

from sqlalchemy import select

from shared.errors import Conflict, InvalidInput

from ..domain import BillingPolicy
from ..domain import superbill as superbills
from ..domain.codes import place_and_modifiers
from ..read_models import billing_policies, billing_profiles, charges, diagnoses, invoices, \
    payments
from .base import client_clinic, client_row, day_of, profile_view


class SuperbillQueries:
    def superbill(self, principal, client_id, query):
        """Everything a superbill carries, for services in a period."""
        principal.require_own_record(client_id)
        client_id = str(client_id)
        start, end = query["start"], query["end"]
        if end < start:
            raise InvalidInput("the period ends before it starts", {"to": ["before from"]})
        with self.store.read() as conn:
            organisation_id, clinic_id = client_clinic(conn, principal, client_id,
                                                       query.get("clinic_id"))
            client = client_row(conn, organisation_id, clinic_id, client_id)
            profiles = {r.clinician_key: r for r in conn.execute(select(billing_profiles).where(
                billing_profiles.c.organisation_id == organisation_id,
                billing_profiles.c.clinic_id == clinic_id)).all()}
            codes = conn.execute(select(diagnoses.c.codes).where(
                diagnoses.c.organisation_id == organisation_id,
                diagnoses.c.clinic_id == clinic_id,
                diagnoses.c.client_id == client_id)).scalar()
            rows = conn.execute(select(charges).where(
                charges.c.client_id == client_id, charges.c.organisation_id == organisation_id,
                charges.c.clinic_id == clinic_id, charges.c.billable.is_(True),
                charges.c.status == "ready", charges.c.kind.in_(("session", "assessment")),
                charges.c.service_date >= start, charges.c.service_date <= end)
                # a day's session before its instruments ("session" > "assessment")
                .order_by(charges.c.service_date, charges.c.kind.desc(),
                          charges.c.charge_id)).all()
            invoice_ids = sorted({r.invoice_id for r in rows if r.invoice_id})
            paid = {r.invoice_id: r.paid_minor for r in conn.execute(
                select(invoices.c.invoice_id, invoices.c.paid_minor).where(
                    invoices.c.organisation_id == organisation_id,
                    invoices.c.clinic_id == clinic_id,
                    invoices.c.invoice_id.in_(invoice_ids),
                    invoices.c.status != "void")).all()}
            policy = conn.execute(select(billing_policies.c.policy).where(
                billing_policies.c.organisation_id == organisation_id,
                billing_policies.c.clinic_id == clinic_id)).scalar()
            received = sum(p.amount_minor for p in conn.execute(select(payments).where(
                payments.c.client_id == client_id,
                payments.c.organisation_id == organisation_id, payments.c.clinic_id == clinic_id,
                payments.c.received_on >= start, payments.c.received_on <= end)).all())
        clinic_profile = profiles.get("")
        if clinic_profile is None:
            raise Conflict("the clinic has no billing profile (name, NPI, tax id): "
                           f"PUT /clinics/{clinic_id}/billing-profile first",
                           {"provider": ["missing"]})
        services = []
        for row in rows:
            # no clinician (an instrument's 96127): the billing provider renders it
            clinician = profiles.get(row.clinician_id) if row.clinician_id else None
            for line in json.loads(row.lines):
                services.append({
                    "date": row.service_date.isoformat(), "code": line["code"],
                    "modifiers": line["modifiers"], "place_of_service": row.place_of_service,
                    "units": line["units"], "fee_minor": line["amount_minor"],
                    "clinician_id": row.clinician_id,
                    "rendering_provider": clinician.name if clinician else None,
                    "rendering_npi": clinician.npi if clinician else None,
                    "invoice_id": row.invoice_id, "charge_id": row.charge_id})
        superbills.allocate_paid(services, paid)
        payer_kind = client.payer_kind if client else None
        payer_rules = BillingPolicy(**json.loads(policy)).payer_rules if policy else {}
        office, _ = place_and_modifiers("in_person", False, "office", payer_kind, payer_rules)
        superbills.fill_places_of_service(services, office)
        currency = rows[0].currency if rows else None
        return superbills.superbill(
            profile_view(clinic_profile),
            {"client_id": client_id, "name": client.name if client else None,
             "date_of_birth": day_of(client.date_of_birth) if client else None,
             "payer_kind": payer_kind, "insurer_name": client.insurer_name if client else None,
             "member_id": client.member_id if client else None,
             "address": client.address if client else None},
            json.loads(codes) if codes else [], services, start, end, currency, received)


