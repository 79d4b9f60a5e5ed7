"""Billing's queries: answers read from the read models, in the caller's tenancy."""
import json
from datetime import date

from sqlalchemy import func, select

from shared import care_team, paging
from shared.errors import Conflict, InvalidInput, NotFound
from shared.timeutil import iso, utc_now

from ..domain import BillingPolicy
from ..domain import superbill as superbills
from ..domain.codes import place_and_modifiers
from ..read_models import (billing_clients, billing_policies, billing_profiles, charges,
                          client_balances, collections, diagnoses, fee_schedule_versions,
                          fee_schedules, invoice_lines, invoices, ledger_entries, payments,
                          revenue)

REPORT_ROLES = ("admin", "billing")  # a clinic's whole invoice list is a report
AGEING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("over_90", 91, None))


def check_clinic_id(clinic_id):
    if not 1 <= len(clinic_id) <= 64:
        raise InvalidInput("invalid clinic id", {"clinic_id": ["must be 1-64 characters"]})


def visible(statement, table, principal):
    statement = statement.where(table.c.organisation_id == principal.organisation_id)
    clinics = principal.clinic_filter()
    if clinics is not None:
        statement = statement.where(table.c.clinic_id.in_(clinics))
    return statement


def client_clinics(conn, principal, client_id):
    """The clinics of the caller's organisation where billing's own records hold the
    client and the caller may see them: a client's tenancy comes from what billing
    stored, never from the request."""
    organisation_id = principal.organisation_id
    found = set()
    for table in (billing_clients, charges, client_balances):
        found |= set(conn.execute(select(table.c.clinic_id).where(
            table.c.organisation_id == organisation_id,
            table.c.client_id == str(client_id)).distinct()).scalars())
    return sorted(c for c in found if principal.sees(organisation_id, c))


def client_clinic(conn, principal, client_id, clinic_id=None):
    """(organisation, clinic) of one client as the caller may see it. A clinic the
    caller names only chooses among the client's clinics (403 if not the caller's);
    an unknown client, or one outside the caller's reach, is 404."""
    principal.require_own_record(client_id)
    if clinic_id is not None:
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
    clinics = client_clinics(conn, principal, client_id)
    if clinic_id is not None:
        clinics = [c for c in clinics if c == clinic_id]
    if not clinics:
        raise NotFound("client not found")
    if len(clinics) > 1:
        raise InvalidInput("the client is billed at several clinics; name one",
                           {"clinic_id": ["required for this client"]})
    # Through require_visible like every load by id, so the request's audit names it.
    principal.require_visible({"organisation_id": principal.organisation_id,
                               "clinic_id": clinics[0], "client_id": str(client_id)}, "client")
    return principal.organisation_id, clinics[0]


def visible_row(conn, table, key, value, principal, what):
    """One row by id, looked up within the caller's organisation and clinics (404
    otherwise)."""
    row = conn.execute(visible(select(table).where(table.c[key] == str(value)),
                               table, principal)).first()
    principal.require_visible(row and row._asdict(), what)  # 404, and the audit's client
    return row


def client_row(conn, organisation_id, clinic_id, client_id):
    return conn.execute(select(billing_clients).where(
        billing_clients.c.organisation_id == organisation_id,
        billing_clients.c.clinic_id == clinic_id,
        billing_clients.c.client_id == str(client_id))).first()


def _day(value):
    return value.isoformat() if value is not None else None


def charge_view(record):
    return {"charge_id": record["charge_id"], "kind": record["kind"],
            "appointment_id": record["appointment_id"],
            "assessment_id": record["assessment_id"],
            "client_id": record["client_id"], "clinician_id": record["clinician_id"],
            "clinic_id": record["clinic_id"], "service_date": record["service_date"].isoformat(),
            "minutes": record["minutes"], "session_type": record["session_type"],
            "modality": record["modality"], "place_of_service": record["place_of_service"],
            "code": record["code"], "lines": json.loads(record["lines"]),
            "billable": record["billable"], "reason": record["reason"],
            "status": record["status"], "hold_reason": record["hold_reason"],
            "full_amount_minor": record["full_amount_minor"],
            "sliding_scale_percent": record["sliding_scale_percent"],
            "amount_minor": record["amount_minor"], "currency": record["currency"],
            "invoice_id": record["invoice_id"], "recorded_at": iso(record["recorded_at"])}


def invoice_view(row, lines):
    due = row.total_minor - row.paid_minor - row.written_off_minor
    return {"invoice_id": row.invoice_id, "client_id": row.client_id,
            "organisation_id": row.organisation_id, "clinic_id": row.clinic_id,
            "status": row.status, "period_start": _day(row.period_start),
            "period_end": _day(row.period_end), "currency": row.currency,
            "total_minor": row.total_minor, "paid_minor": row.paid_minor,
            "written_off_minor": row.written_off_minor,
            "due_minor": due if row.status in ("issued", "paid") else 0,
            "issued_on": _day(row.issued_on), "due_on": _day(row.due_on),
            "paid_on": _day(row.paid_on), "void_reason": row.void_reason,
            "lines": [{"charge_id": line.charge_id, "service_date": _day(line.service_date),
                       "code": line.code, "description": line.description,
                       "amount_minor": line.amount_minor} for line in lines]}


def _parse_day(value, field):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"invalid {field}", {field: ["must be a date YYYY-MM-DD"]})


class BillingQueries:
    """Mixed into BillingApplication: reads only, never appends."""

    def _client_reader(self, principal, client_id):
        principal.require_own_record(client_id)

    def fee_schedule(self, principal, clinic_id):
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
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
                "effective_from": _day(row.effective_from),
                "version": row.version, "set_at": iso(row.set_at),
                "versions": [{"version": v.version, "currency": v.currency,
                              "prices": json.loads(v.prices),
                              "effective_from": _day(v.effective_from)} for v in versions]}

    def policy(self, principal, clinic_id):
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            row = conn.execute(select(billing_policies).where(
                billing_policies.c.organisation_id == principal.organisation_id,
                billing_policies.c.clinic_id == clinic_id)).first()
        # Through the policy, so settings added since it was set show their defaults.
        data = BillingPolicy(**json.loads(row.policy)).to_data() if row else \
            BillingPolicy().to_data()
        return {"clinic_id": clinic_id, "version": row.version if row else 0, **data}

    def profiles(self, principal, clinic_id):
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows = conn.execute(select(billing_profiles).where(
                billing_profiles.c.organisation_id == principal.organisation_id,
                billing_profiles.c.clinic_id == clinic_id)
                .order_by(billing_profiles.c.clinician_key)).all()
        return {"clinic_id": clinic_id, "profiles": [_profile_view(r) for r in rows]}

    def balance(self, principal, client_id):
        """A client's charges and what they owe, in the clinics the caller sees."""
        self._client_reader(principal, client_id)
        client_id = str(client_id)
        with self.store.read() as conn:
            charge_rows = conn.execute(visible(
                select(charges).where(charges.c.client_id == client_id)
                .order_by(charges.c.service_date, charges.c.charge_id),
                charges, principal)).all()
            balance_rows = conn.execute(visible(
                select(client_balances).where(client_balances.c.client_id == client_id)
                .order_by(client_balances.c.clinic_id, client_balances.c.currency),
                client_balances, principal)).all()
        if not charge_rows and not balance_rows:
            raise NotFound("client has no charges")
        clinics = sorted({r.clinic_id for r in charge_rows} | {r.clinic_id for r in balance_rows})
        currencies = sorted({r.currency for r in charge_rows if r.currency is not None}
                            | {r.currency for r in balance_rows})
        single = len(clinics) == 1 and len(currencies) <= 1
        return {
            "client_id": client_id, "organisation_id": principal.organisation_id,
            # One clinic and currency is the normal case; otherwise read `balances`.
            "clinic_id": clinics[0] if len(clinics) == 1 else None,
            "currency": currencies[0] if single and currencies else None,
            "balance_minor": sum(r.balance_minor for r in balance_rows) if single else None,
            "credit_minor": sum(r.credit_minor for r in balance_rows) if single else None,
            "balances": [{"clinic_id": r.clinic_id, "currency": r.currency,
                          "balance_minor": r.balance_minor, "charges": r.charges,
                          "charged_minor": r.charged_minor, "paid_minor": r.paid_minor,
                          "refunded_minor": r.refunded_minor,
                          "written_off_minor": r.written_off_minor,
                          "credit_minor": r.credit_minor}
                         for r in balance_rows],
            "charges": [charge_view(r._asdict()) for r in charge_rows],
        }

    def ledger(self, principal, client_id, query):
        """Every amount owed or paid, oldest first, with the running balance (a page of
        the entries; the balances are of all of them)."""
        self._client_reader(principal, client_id)
        with self.store.read() as conn:
            clinics = client_clinics(conn, principal, client_id)
            if not clinics:
                raise NotFound("client not found")
            rows = conn.execute(
                select(ledger_entries).where(
                    ledger_entries.c.organisation_id == principal.organisation_id,
                    ledger_entries.c.clinic_id.in_(clinics),
                    ledger_entries.c.client_id == client_id)
                .order_by(ledger_entries.c.occurred_on, ledger_entries.c.recorded_at,
                          ledger_entries.c.entry_id)).all()
        running, entries = {}, []
        for row in rows:
            key = (row.clinic_id, row.currency)
            running[key] = running.get(key, 0) + row.amount_minor
            entries.append({"date": _day(row.occurred_on), "kind": row.kind,
                            "description": row.description, "amount_minor": row.amount_minor,
                            "currency": row.currency, "clinic_id": row.clinic_id,
                            "reference_id": row.reference_id, "balance_minor": running[key]})
        return paging.list_page(
            "entries", entries, query, client_id=client_id,
            balances=[{"clinic_id": c, "currency": cur, "balance_minor": b}
                      for (c, cur), b in sorted(running.items())])

    def list_charges(self, principal, query):
        principal.require_clinic(principal.organisation_id, query["clinic_id"])
        statement = (select(charges)
                     .where(charges.c.organisation_id == principal.organisation_id,
                            charges.c.clinic_id == query["clinic_id"],
                            care_team.visible(principal, charges.c.client_id))
                     .order_by(charges.c.service_date, charges.c.charge_id))
        if query["client_id"] is not None:
            statement = statement.where(charges.c.client_id == str(query["client_id"]))
        if query.get("status") is not None:
            statement = statement.where(charges.c.status == query["status"])
        with self.store.read() as conn:
            rows = conn.execute(statement.limit(query["limit"] + 1)
                                .offset(query["offset"])).all()
            total = conn.execute(select(func.count()).select_from(
                statement.order_by(None).subquery())).scalar()
        return paging.offset_page("charges", [charge_view(r._asdict()) for r in rows],
                                  query["limit"], query["offset"], total)

    def charge(self, principal, charge_id):
        with self.store.read() as conn:
            row = visible_row(conn, charges, "charge_id", charge_id, principal, "charge")
        return charge_view(row._asdict())

    def unbilled(self, principal, clinic_id, query):
        """Billable charges on no invoice yet, oldest first: ready ones, and held ones
        with why (a page holds both)."""
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            rows, more = paging.trimmed(paging.fetch_page(conn, select(charges).where(
                charges.c.organisation_id == principal.organisation_id,
                charges.c.clinic_id == clinic_id, charges.c.billable.is_(True),
                charges.c.invoice_id.is_(None))
                .order_by(charges.c.service_date, charges.c.charge_id), query), query["limit"])
        views = [charge_view(r._asdict()) for r in rows]
        return paging.page("ready", [v for v in views if v["status"] == "ready"],
                           query["limit"], query["offset"] + len(rows) if more else None,
                           held=[v for v in views if v["status"] == "held"],
                           offset=query["offset"], clinic_id=clinic_id)

    def invoice(self, principal, invoice_id):
        with self.store.read() as conn:
            row = visible_row(conn, invoices, "invoice_id", invoice_id, principal, "invoice")
            principal.require_own_record(row.client_id)
            lines = conn.execute(select(invoice_lines).where(
                invoice_lines.c.invoice_id == row.invoice_id)
                .order_by(invoice_lines.c.position)).all()
        return invoice_view(row, lines)

    def list_invoices(self, principal, query):
        """Invoices of a clinic (or of one client), by status."""
        client_id = query.get("client_id")
        if client_id is not None:
            principal.require_own_record(client_id)
        else:
            principal.require_role(*REPORT_ROLES)
        statement = select(invoices).order_by(invoices.c.drafted_at, invoices.c.invoice_id)
        if query.get("clinic_id"):
            principal.require_clinic(principal.organisation_id, query["clinic_id"])
            statement = statement.where(invoices.c.clinic_id == query["clinic_id"])
        if client_id is not None:
            statement = statement.where(invoices.c.client_id == str(client_id))
        if query.get("status"):
            statement = statement.where(invoices.c.status == query["status"])
        statement = visible(statement, invoices, principal)
        with self.store.read() as conn:
            fetched = conn.execute(statement.limit(query["limit"] + 1)
                                   .offset(query["offset"])).all()
            rows, _ = paging.trimmed(fetched, query["limit"])
            total = conn.execute(select(func.count()).select_from(
                statement.order_by(None).subquery())).scalar()
            lines = {}
            for line in conn.execute(select(invoice_lines).where(
                    invoice_lines.c.invoice_id.in_([r.invoice_id for r in rows]))
                    .order_by(invoice_lines.c.position)).all():
                lines.setdefault(line.invoice_id, []).append(line)
        counts = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        views = [invoice_view(r, lines.get(r.invoice_id, [])) for r in fetched]
        return paging.offset_page("invoices", views, query["limit"], query["offset"], total,
                                  by_status=counts)

    def receivables(self, principal, clinic_id, query):
        """What clients owe on issued invoices, aged by days since issue (a page of the
        clients; the totals are of all of them)."""
        principal.require_clinic(principal.organisation_id, clinic_id)
        as_of = query["as_of"] or utc_now().date()
        with self.store.read() as conn:
            rows = conn.execute(select(invoices).where(
                invoices.c.organisation_id == principal.organisation_id,
                invoices.c.clinic_id == clinic_id, invoices.c.status == "issued")).all()
        totals, clients = {}, {}
        for row in rows:
            due = row.total_minor - row.paid_minor - row.written_off_minor
            if due <= 0 or row.issued_on > as_of:
                continue
            bucket = ageing_bucket((as_of - row.issued_on).days)
            per_currency = totals.setdefault(row.currency, {b: 0 for b, _, _ in AGEING_BUCKETS})
            per_currency[bucket] += due
            client = clients.setdefault((row.client_id, row.currency),
                                        {b: 0 for b, _, _ in AGEING_BUCKETS})
            client[bucket] += due
        return paging.list_page(
            "clients", [{"client_id": k[0], "currency": k[1], **b,
                         "total_minor": sum(b.values())} for k, b in sorted(clients.items())],
            query, clinic_id=clinic_id, as_of=as_of.isoformat(),
            buckets=[b for b, _, _ in AGEING_BUCKETS],
            totals=[{"currency": c, **b, "total_minor": sum(b.values())}
                    for c, b in sorted(totals.items())])

    def revenue(self, principal, clinic_id, query):
        """Billed charges per clinician and month of service; money in and out per month."""
        principal.require_clinic(principal.organisation_id, clinic_id)

        def in_range(table):
            statement = select(table).where(table.c.organisation_id == principal.organisation_id,
                                            table.c.clinic_id == clinic_id)
            if query.get("from_month"):
                statement = statement.where(table.c.month >= query["from_month"])
            if query.get("to_month"):
                statement = statement.where(table.c.month <= query["to_month"])
            return statement
        with self.store.read() as conn:
            billed = conn.execute(in_range(revenue).order_by(
                revenue.c.month, revenue.c.clinician_id, revenue.c.currency)).all()
            money = conn.execute(in_range(collections).order_by(
                collections.c.month, collections.c.currency)).all()
        months = {}
        for row in billed:
            month = months.setdefault((row.month, row.currency), _month_total(row.month,
                                                                            row.currency))
            month["charged_minor"] += row.charged_minor
            month["charges"] += row.charges
        for row in money:
            month = months.setdefault((row.month, row.currency), _month_total(row.month,
                                                                            row.currency))
            month["collected_minor"] += row.collected_minor
            month["refunded_minor"] += row.refunded_minor
            month["written_off_minor"] += row.written_off_minor
        return {"clinic_id": clinic_id,
                "by_clinician": [{"month": r.month, "clinician_id": r.clinician_id or None,
                                  "currency": r.currency, "charged_minor": r.charged_minor,
                                  "charges": r.charges} for r in billed],
                "by_month": [months[k] for k in sorted(months)]}

    def superbill(self, principal, client_id, query):
        """Everything a superbill carries, for services in a period."""
        self._client_reader(principal, client_id)
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
            _profile_view(clinic_profile),
            {"client_id": client_id, "name": client.name if client else None,
             "date_of_birth": _day(client.date_of_birth) if client else None,
             "payer_kind": payer_kind, "insurer_name": client.insurer_name if client else None,
             "member_id": client.member_id if client else None,
             "address": client.address if client else None},
            json.loads(codes) if codes else [], services, start, end, currency, received)


def ageing_bucket(days):
    for name, low, high in AGEING_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGEING_BUCKETS[0][0]


def _month_total(month, currency):
    return {"month": month, "currency": currency, "charged_minor": 0, "charges": 0,
            "collected_minor": 0, "refunded_minor": 0, "written_off_minor": 0}


def _profile_view(row):
    return {"clinician_id": row.clinician_key or None, "name": row.name, "npi": row.npi,
            "tax_id": row.tax_id, "address": row.address, "phone": row.phone}
