"""Billing's use cases: configuration and money by command; charges in reaction to
other services' events. Queries live in queries.py (mixed in below)."""
import json
import logging
import uuid

from sqlalchemy import select

from shared import client_history
from shared.application import Application
from shared.envelope import Context
from shared.errors import InvalidInput
from shared.timeutil import parse_date, parse_time, utc_now

from .. import domain
from ..domain import codes, fees, superbill
from ..queries import BillingQueries
from ..queries.base import check_clinic_id, client_clinic, client_row, visible_row
from ..read_models import charges, client_facts, consents, describe, invoices, note_status, \
    payer_at, projection
from ..subscriptions import SUBSCRIPTIONS

log = logging.getLogger(__name__)



class BillingApplication(BillingQueries, Application):
    service = "billing"
    projection = projection
    subscriptions = SUBSCRIPTIONS

    # A charge is priced only once billing has the client and every change of their
    # details the producer had seen (details_revision): else it is deferred.
    PRICED_FOR_A_CLIENT = {"SessionHeld": "start", "AppointmentNoShow": "start",
                           "AppointmentCancelled": "start", "ClientAssessed": "assessed_at"}

    def missing_fact(self, uow, event):
        if event.name not in self.PRICED_FOR_A_CLIENT:
            return None
        data = event.data
        if event.name == "AppointmentCancelled" and not (
                data.get("late") and data.get("cancelled_by") == "client"):
            return None  # never charged: nothing to wait for
        org, clinic, client_id = event.organisationid, event.clinicid, str(data["client_id"])
        waiting_for = _client_key(org, clinic, client_id)
        if client_row(uow.conn, org, clinic, client_id) is None:
            return waiting_for, "client_unknown"
        revision = data.get("client_details_revision") or data.get("details_revision")
        if revision and not client_history.complete_up_to(uow.conn, client_facts, org, clinic,
                                                          client_id, revision):
            return waiting_for, "client_details_behind"
        return None

    def awaited_by(self, event):
        if event.name in ("ClientRegistered", "ClientDetailsUpdated"):
            return (_client_key(event.organisationid, event.clinicid,
                                str(event.data["client_id"])),)
        return ()

    # -- configuration -------------------------------------------------------------
    def _clinic_context(self, principal, correlation_id, clinic_id):
        check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
        return Context(principal.organisation_id, clinic_id, correlation_id,
                       actor=principal.user_id)

    def _set(self, stream, context, new_events):
        """A clinic's or client's setting, replaced outright: a blind write."""
        with self.store.unit_of_work() as uow:
            return uow.append_blind(stream, context, new_events)

    def set_fee_schedule(self, principal, correlation_id, clinic_id, command):
        context = self._clinic_context(principal, correlation_id, clinic_id)
        new_events = domain.set_fee_schedule(command["currency"], command["prices"],
                                             command.get("effective_from"))
        stream = domain.fee_schedule_stream(context.organisation_id, clinic_id)
        (event,) = self._set(stream, context, new_events)
        return {"organisation_id": context.organisation_id, "clinic_id": clinic_id,
                "currency": event.data["currency"], "prices": event.data["prices"],
                "effective_from": event.data.get("effective_from"),
                "version": event.sequence, "set_at": event.time}

    def set_policy(self, principal, correlation_id, clinic_id, command):
        context = self._clinic_context(principal, correlation_id, clinic_id)
        new_events = fees.set_policy(**command)
        stream = domain.policy_stream(context.organisation_id, clinic_id)
        (event,) = self._set(stream, context, new_events)
        return {"clinic_id": clinic_id, "version": event.sequence, **event.data}

    def set_profile(self, principal, correlation_id, clinic_id, clinician_id, command):
        context = self._clinic_context(principal, correlation_id, clinic_id)
        new_events = superbill.set_profile(clinician_id, **command)
        stream = f"billing-profile-{context.organisation_id}/{clinic_id}/{clinician_id or ''}"
        (event,) = self._set(stream, context, new_events)
        return {"clinic_id": clinic_id, "version": event.sequence, **event.data}

    def set_sliding_scale(self, principal, correlation_id, client_id, command):
        with self.store.read() as conn:
            organisation_id, clinic_id = client_clinic(conn, principal, client_id,
                                                       command.get("clinic_id"))
            client = client_row(conn, organisation_id, clinic_id, client_id)
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        new_events = fees.set_sliding_scale(client_id, command["percent"],
                                            command["starts_on"],
                                            client.payer_kind if client else None,
                                            principal.user_id)
        stream = domain.sliding_scale_stream(organisation_id, clinic_id, client_id)
        (event,) = self._set(stream, context, new_events)
        return {"client_id": client_id, "clinic_id": clinic_id, "percent": event.data["percent"],
                "starts_on": event.data["starts_on"], "version": event.sequence}

    # -- charges -------------------------------------------------------------------
    def _schedule_on(self, uow, organisation_id, clinic_id, day):
        history = domain.FeeScheduleHistory.from_events(
            uow.load(domain.fee_schedule_stream(organisation_id, clinic_id)))
        return history.on(day)

    def _policy(self, uow, organisation_id, clinic_id):
        return domain.BillingPolicy.from_events(
            uow.load(domain.policy_stream(organisation_id, clinic_id)))

    def _sliding_percent(self, uow, organisation_id, clinic_id, client_id, day):
        return domain.SlidingScale.from_events(uow.load(
            domain.sliding_scale_stream(organisation_id, clinic_id, client_id))).percent_on(day)

    def _payer_kind(self, uow, organisation_id, clinic_id, client_id, at):
        """The payer in force at `at` (when the session took place), not the latest."""
        row = payer_at(uow.conn, organisation_id, clinic_id, client_id, parse_time(at))
        return row.payer_kind if row else None

    def _note(self, uow, organisation_id, clinic_id, appointment_id):
        row = uow.conn.execute(select(note_status).where(
            note_status.c.organisation_id == organisation_id,
            note_status.c.clinic_id == clinic_id,
            note_status.c.appointment_id == appointment_id)).first()
        if row is None:
            return domain.NoteState()
        return domain.NoteState(row.signed, row.pending_supervision, row.cosigned)

    def charge_session(self, uow, event, context):
        """SessionHeld -> the appointment's one ChargeRecorded (priced now, never again)."""
        data = event.data
        appointment_id = data["appointment_id"]
        stream = domain.charge_stream(appointment_id)
        if uow.version(stream) != 0:
            # A second SessionHeld for the same appointment (a correction, a replay
            # under a new id): the charge exists and is not made twice.
            log.warning("appointment %s is already charged; SessionHeld %s changes nothing",
                        appointment_id, event.id)
            return
        org, clinic = event.organisationid, event.clinicid
        session = domain.Session(
            appointment_id, data["client_id"], data["clinician_id"],
            parse_time(data["start"]).date().isoformat(), data["minutes"],
            data.get("session_type", "individual"), data.get("modality", "in_person"),
            data.get("place_of_service", "office"), data.get("audio_only", False),
            data.get("episode_id"), data.get("client_present") is not False)
        intake_billed = False
        if session.session_type == "intake" and session.episode_id:
            intake_billed = uow.conn.execute(select(charges.c.charge_id).where(
                charges.c.organisation_id == org, charges.c.clinic_id == clinic,
                charges.c.episode_id == session.episode_id, charges.c.code == codes.INTAKE,
                charges.c.billable.is_(True))).first() is not None
        crisis_billed = session.session_type == "crisis" and uow.conn.execute(
            select(charges.c.charge_id).where(
                charges.c.organisation_id == org, charges.c.clinic_id == clinic,
                charges.c.client_id == session.client_id, charges.c.code == codes.CRISIS,
                charges.c.service_date == parse_date(session.service_date),
                charges.c.billable.is_(True))).first() is not None
        new_events = domain.record_charge(
            session, self._schedule_on(uow, org, clinic, session.service_date),
            self._policy(uow, org, clinic),
            self._payer_kind(uow, org, clinic, session.client_id, data["start"]),
            self._sliding_percent(uow, org, clinic, session.client_id, session.service_date),
            domain.NoteState(), intake_billed, crisis_billed)
        # Expected version 0 and the deterministic event id: a racing twin fails here.
        (charge,) = uow.append(stream, 0, context, new_events)
        # Recorded as if the note were unsigned, released here if it is signed already:
        # the same events whether the signature arrived before the session or after.
        self.release_held_charge(uow, event, context)
        self._invoice_per_session(uow, context, charge.data["charge_id"])

    def release_held_charge(self, uow, event, context):
        """NoteSigned / NoteCoSigned -> ChargeReleased for a held charge, once."""
        appointment_id = event.data["appointment_id"]
        org, clinic = event.organisationid, event.clinicid
        stream = domain.charge_stream(appointment_id)
        version = uow.version(stream)  # the charge row read next is of this version
        row = uow.conn.execute(select(charges).where(
            charges.c.organisation_id == org, charges.c.clinic_id == clinic,
            charges.c.appointment_id == appointment_id, charges.c.kind == "session")).first()
        if row is None:
            return  # the session is not charged yet: its charge will see the signature
        new_events = fees.release_charge(row._asdict(),
                                         self._note(uow, org, clinic, appointment_id))
        if new_events:
            uow.append(stream, version, context, new_events)
            self._invoice_per_session(uow, context, row.charge_id)

    def _missed(self, uow, event, context, kind):
        data = event.data
        if kind == "late_cancel" and not (data["late"] and data["cancelled_by"] == "client"):
            return
        org, clinic = event.organisationid, event.clinicid
        day = parse_time(data["start"]).date().isoformat()
        consent = uow.conn.execute(select(consents).where(
            consents.c.organisation_id == org, consents.c.clinic_id == clinic,
            consents.c.client_id == data["client_id"],
            consents.c.kind == "cancellation_policy", consents.c.revoked_at.is_(None))).first()
        missed_at = parse_time(data["cancelled_at"] if kind == "late_cancel" else data["start"])
        given_at = consent.given_at if consent and consent.given_at else None
        if given_at is not None and given_at.tzinfo is None:
            given_at = given_at.replace(tzinfo=missed_at.tzinfo)
        new_events = fees.missed_appointment_fee(
            kind, data["appointment_id"], data["client_id"], data["clinician_id"], day,
            self._policy(uow, org, clinic), self._schedule_on(uow, org, clinic, day),
            self._payer_kind(uow, org, clinic, data["client_id"], data["start"]), given_at,
            missed_at)
        self._append_fee(uow, context, new_events)

    def charge_late_cancel(self, uow, event, context):
        self._missed(uow, event, context, "late_cancel")

    def charge_no_show(self, uow, event, context):
        self._missed(uow, event, context, "no_show")

    def charge_instrument(self, uow, event, context):
        """ClientAssessed -> 96127 where the clinic's fee schedule lists it and its
        policy charges instrument administration."""
        data = event.data
        org, clinic = event.organisationid, event.clinicid
        day = parse_time(data["assessed_at"]).date().isoformat()
        payer = self._payer_kind(uow, org, clinic, data["client_id"], data["assessed_at"])
        percent = 0 if payer in fees.NO_FEE_PAYERS else self._sliding_percent(
            uow, org, clinic, data["client_id"], day)
        self._append_fee(uow, context, fees.instrument_fee(
            data["assessment_id"], data["client_id"], day,
            self._schedule_on(uow, org, clinic, day), percent, self._policy(uow, org, clinic)))

    def _append_fee(self, uow, context, new_events):
        if not new_events:
            return
        charge_id = new_events[0].data["charge_id"]
        stream = domain.fee_stream(charge_id)
        if uow.version(stream) != 0:
            return  # the same fee from a second delivery under another id
        uow.append(stream, 0, context, new_events)
        self._invoice_per_session(uow, context, charge_id)

    def _invoice_per_session(self, uow, context, charge_id):
        """A clinic invoicing per session issues an invoice as soon as a charge is ready."""
        row = uow.conn.execute(select(charges).where(charges.c.charge_id == charge_id)).first()
        if not (row.billable and row.status == "ready" and row.amount_minor > 0
                and row.invoice_id is None):
            return
        policy = self._policy(uow, row.organisation_id, row.clinic_id)
        if policy.invoice_per != "session":
            return
        stream = domain.account_stream(row.organisation_id, row.clinic_id, row.client_id)
        account = domain.ClientAccount.from_events(row.client_id, uow.load(stream))
        version = uow.version(stream)
        invoice_id = fees.deterministic_id("Invoice", charge_id)
        new_events = account.draft_invoice(invoice_id, [_invoiceable(row)], row.service_date,
                                           row.service_date)
        new_events += account.issue(invoice_id, utc_now().date(), policy.payment_terms_days)
        uow.append(stream, version, context, new_events)

    def add_on(self, principal, correlation_id, charge_id, command):
        with self.store.unit_of_work() as uow:
            uow.lock()
            row = visible_row(uow.conn, charges, "charge_id", charge_id, principal,
                              "charge")._asdict()
            if row["kind"] != "session":
                raise InvalidInput("add-ons go on session charges",
                                   {"charge_id": ["not a session charge"]})
            row["lines"] = json.loads(row["lines"])
            context = Context(row["organisation_id"], row["clinic_id"], correlation_id,
                              actor=principal.user_id)
            stream = domain.charge_stream(row["appointment_id"])
            version = uow.version(stream)  # under the lock: the row read above is of it
            schedule = self._schedule_on(uow, row["organisation_id"], row["clinic_id"],
                                         row["service_date"])
            new_events = fees.add_on(row, command["code"], schedule, principal.user_id)
            uow.append(stream, version, context, new_events)
        return self.charge(principal, charge_id)

    # -- invoices and money ----------------------------------------------------------
    def _account_command(self, principal, correlation_id, organisation_id, clinic_id,
                         client_id, decide):
        """Load the client's account, let `decide(account, uow, context)` append, return
        the events appended; the tenancy comes from the stored record, not the request."""
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        stream = domain.account_stream(organisation_id, clinic_id, client_id)
        with self.store.unit_of_work() as uow:
            uow.lock()
            version = uow.version(stream)
            account = domain.ClientAccount.from_events(client_id, uow.load(stream))
            new_events = decide(account, uow, context)
            return uow.append(stream, version, context, new_events)

    def draft_invoice(self, principal, correlation_id, client_id, command):
        with self.store.read() as conn:
            org, clinic = client_clinic(conn, principal, client_id, command.get("clinic_id"))
        invoice_id = str(uuid.uuid4())

        def decide(account, uow, _context):
            rows = uow.conn.execute(select(charges).where(
                charges.c.client_id == client_id, charges.c.organisation_id == org,
                charges.c.clinic_id == clinic, charges.c.billable.is_(True),
                charges.c.status == "ready", charges.c.invoice_id.is_(None),
                charges.c.amount_minor > 0,
                charges.c.service_date >= command["period_start"],
                charges.c.service_date <= command["period_end"])).all()
            new_events = account.draft_invoice(invoice_id, [_invoiceable(r) for r in rows],
                                               command["period_start"], command["period_end"])
            if command.get("issue"):
                policy = self._policy(uow, org, clinic)
                new_events += account.issue(invoice_id, utc_now().date(),
                                            policy.payment_terms_days)
            return new_events

        self._account_command(principal, correlation_id, org, clinic, client_id, decide)
        return self.invoice(principal, invoice_id)

    def _invoice_command(self, principal, correlation_id, invoice_id, decide):
        with self.store.read() as conn:
            row = visible_row(conn, invoices, "invoice_id", invoice_id, principal, "invoice")
        self._account_command(principal, correlation_id, row.organisation_id, row.clinic_id,
                              row.client_id, decide)
        return self.invoice(principal, invoice_id)

    def issue_invoice(self, principal, correlation_id, invoice_id):
        def decide(account, uow, context):
            invoice = account.invoice(invoice_id)
            policy = self._policy(uow, context.organisation_id, context.clinic_id)
            return account.issue(invoice.invoice_id, utc_now().date(), policy.payment_terms_days)
        return self._invoice_command(principal, correlation_id, invoice_id, decide)

    def void_invoice(self, principal, correlation_id, invoice_id, command):
        return self._invoice_command(
            principal, correlation_id, invoice_id, lambda account, uow, _context:
            account.void(invoice_id, command["reason"], principal.user_id))

    def write_off(self, principal, correlation_id, invoice_id, command):
        return self._invoice_command(
            principal, correlation_id, invoice_id, lambda account, uow, _context:
            account.write_off(str(uuid.uuid4()), invoice_id, command.get("amount_minor"),
                              command.get("written_off_on") or utc_now().date(),
                              command["reason"], principal.user_id))

    def receive_payment(self, principal, correlation_id, client_id, command):
        with self.store.read() as conn:
            org, clinic = client_clinic(conn, principal, client_id, command.get("clinic_id"))
        payment_id = str(uuid.uuid4())
        invoice_id = command.get("invoice_id")
        appended = self._account_command(
            principal, correlation_id, org, clinic, client_id,
            lambda account, uow, _context: account.receive_payment(
                payment_id, command["amount_minor"], command["currency"], command["method"],
                command.get("received_on") or utc_now().date(), command.get("reference"),
                principal.user_id, str(invoice_id) if invoice_id else None))
        (payment,) = [e for e in appended if e.name == "PaymentReceived"]
        return {**payment.data, "clinic_id": clinic,
                "invoices_paid": [e.data["invoice_id"] for e in appended
                                  if e.name == "InvoicePaid"],
                "balance": self.balance(principal, client_id)["balances"]}

    def refund(self, principal, correlation_id, client_id, command):
        with self.store.read() as conn:
            org, clinic = client_clinic(conn, principal, client_id, command.get("clinic_id"))
        (event,) = self._account_command(
            principal, correlation_id, org, clinic, client_id,
            lambda account, uow, _context: account.refund(
                str(uuid.uuid4()), command["amount_minor"], command["currency"],
                command["method"], command.get("refunded_on") or utc_now().date(),
                command["reason"], principal.user_id))
        return {**event.data, "clinic_id": clinic,
                "balance": self.balance(principal, client_id)["balances"]}


def _client_key(organisation_id, clinic_id, client_id):
    return f"client:{organisation_id}/{clinic_id}/{client_id}"


def _invoiceable(row):
    return {"charge_id": row.charge_id, "service_date": row.service_date.isoformat(),
            "code": row.code, "description": describe(row), "amount_minor": row.amount_minor,
            "currency": row.currency}

