"""Charges, in reaction to other services' events: a session held is priced for the
payer the client had then; a late cancel or a no-show may earn a fee; a scored
instrument may earn 96127; a held charge is released once its note is signed. And
the one command on a charge: an add-on."""
import logging

from sqlalchemy import select

from shared import client_history
from shared.errors import InvalidInput
from shared.timeutil import parse_date, parse_time

from ..domain import (ClinicPolicy, Fee, FeeScheduleHistory, NoteState, Session, SessionCharge,
                      SlidingScale, codes, fees, record_charge)
from ..queries.base import client_row, payer_at, visible_row
from ..read_models import charges, client_facts, consent_in_force, note_status
from .base import read_locked

log = logging.getLogger(__name__)


def _client_key(organisation_id, clinic_id, client_id):
    return f"client:{organisation_id}/{clinic_id}/{client_id}"


def _payer_kind(conn, organisation_id, clinic_id, client_id, at):
    """The payer in force at `at` (when the session took place), not the latest."""
    row = payer_at(conn, organisation_id, clinic_id, client_id, parse_time(at))
    return row.payer_kind if row else None


class PricingReactions:
    # A charge is priced only once billing has the client and every change of their
    # details and consents the producer had seen (details_revision): else it is deferred.
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
        if event.name in ("ClientRegistered", "ClientDetailsUpdated",
                          *client_history.CONSENTS):
            return (_client_key(event.organisationid, event.clinicid,
                                str(event.data["client_id"])),)
        return ()

    # -- sessions held -------------------------------------------------------------
    def charge_session(self, uow, event, context):
        """SessionHeld -> the appointment's one ChargeRecorded (priced now, never again)."""
        data = event.data
        charge = uow.get(SessionCharge, data["appointment_id"])
        if charge.exists:
            # A second SessionHeld for the same appointment (a correction, a replay
            # under a new id): the charge exists and is not made twice.
            log.warning("appointment %s is already charged; SessionHeld %s changes nothing",
                        charge.appointment_id, event.id)
            return
        org, clinic = event.organisationid, event.clinicid
        session = Session(
            charge.appointment_id, data["client_id"], data["clinician_id"],
            parse_time(data["start"]).date().isoformat(), data["minutes"],
            data["session_type"], data["modality"], data["place_of_service"],
            data["audio_only"], data.get("episode_id"), data.get("client_present") is not False)
        conn = read_locked(uow)
        intake_billed = False
        if session.session_type == "intake" and session.episode_id:
            intake_billed = conn.execute(select(charges.c.charge_id).where(
                charges.c.organisation_id == org, charges.c.clinic_id == clinic,
                charges.c.episode_id == session.episode_id, charges.c.code == codes.INTAKE,
                charges.c.billable.is_(True))).first() is not None
        crisis_billed = session.session_type == "crisis" and conn.execute(
            select(charges.c.charge_id).where(
                charges.c.organisation_id == org, charges.c.clinic_id == clinic,
                charges.c.client_id == session.client_id, charges.c.code == codes.CRISIS,
                charges.c.service_date == parse_date(session.service_date),
                charges.c.billable.is_(True))).first() is not None
        # Saved at version 0 with the deterministic event id: a racing twin fails here.
        uow.save(charge, context, record_charge(
            session, uow.get(FeeScheduleHistory, org, clinic).on(session.service_date),
            uow.get(ClinicPolicy, org, clinic).policy,
            _payer_kind(conn, org, clinic, session.client_id, data["start"]),
            uow.get(SlidingScale, org, clinic, session.client_id).percent_on(
                session.service_date),
            NoteState(), intake_billed, crisis_billed))
        # Recorded as if the note were unsigned, released here if it is signed already:
        # the same events whether the signature arrived before the session or after.
        self._release(uow, charge, org, clinic, context)
        self.invoice_per_session(uow, context, charge.charge_id)

    def release_held_charge(self, uow, event, context):
        """NoteSigned / NoteCoSigned -> ChargeReleased for a held charge, once."""
        charge = uow.get(SessionCharge, event.data["appointment_id"])
        if not charge.exists:
            return  # the session is not charged yet: its charge will see the signature
        self._release(uow, charge, event.organisationid, event.clinicid, context)

    def _release(self, uow, charge, organisation_id, clinic_id, context):
        row = read_locked(uow).execute(select(note_status).where(
            note_status.c.organisation_id == organisation_id,
            note_status.c.clinic_id == clinic_id,
            note_status.c.appointment_id == charge.appointment_id)).first()
        note = NoteState(row.signed, row.pending_supervision, row.cosigned) if row else \
            NoteState()
        if uow.save(charge, context, charge.release(note)):
            self.invoice_per_session(uow, context, charge.charge_id)

    def add_on(self, caller, charge_id, command):
        with self.store.unit_of_work() as uow:
            # Whether the charge is invoiced is the account's fact, read from the charge's
            # row: under the lock, as a draft reads the charges it lists.
            row = visible_row(read_locked(uow), charges, "charge_id", charge_id,
                              caller.principal, "charge")
            if row.kind != "session":
                raise InvalidInput("add-ons go on session charges",
                                   {"charge_id": ["not a session charge"]})
            charge = uow.get(SessionCharge, row.appointment_id)
            schedule = uow.get(FeeScheduleHistory, row.organisation_id,
                               row.clinic_id).on(row.service_date)
            uow.save(charge, caller.context_of(row._mapping), charge.add_on(
                command["code"], schedule, caller.principal.user_id,
                invoiced=row.invoice_id is not None))
        return self.charge(caller.principal, charge_id)

    # -- fees that are not sessions ------------------------------------------------
    def charge_late_cancel(self, uow, event, context):
        self._missed(uow, event, context, "late_cancel")

    def charge_no_show(self, uow, event, context):
        self._missed(uow, event, context, "no_show")

    def _missed(self, uow, event, context, kind):
        data = event.data
        if kind == "late_cancel" and not (data["late"] and data["cancelled_by"] == "client"):
            return
        org, clinic = event.organisationid, event.clinicid
        day = parse_time(data["start"]).date().isoformat()
        conn = read_locked(uow)
        missed_at = parse_time(data["cancelled_at"] if kind == "late_cancel" else data["start"])
        # The consent in force when it was missed, not the latest: a consent given or
        # withdrawn after the cancellation changes nothing of its fee.
        given_at = consent_in_force(conn, org, clinic, data["client_id"],
                                    "cancellation_policy", missed_at)
        self._charge_fee(uow, context, fees.missed_appointment_fee(
            kind, data["appointment_id"], data["client_id"], data["clinician_id"], day,
            uow.get(ClinicPolicy, org, clinic).policy,
            uow.get(FeeScheduleHistory, org, clinic).on(day),
            _payer_kind(conn, org, clinic, data["client_id"], data["start"]), given_at,
            missed_at))

    def charge_instrument(self, uow, event, context):
        """ClientAssessed -> 96127 where the clinic's fee schedule lists it and its
        policy charges instrument administration."""
        data = event.data
        org, clinic = event.organisationid, event.clinicid
        day = parse_time(data["assessed_at"]).date().isoformat()
        payer = _payer_kind(read_locked(uow), org, clinic, data["client_id"],
                            data["assessed_at"])
        percent = 0 if payer in fees.NO_FEE_PAYERS else uow.get(
            SlidingScale, org, clinic, data["client_id"]).percent_on(day)
        self._charge_fee(uow, context, fees.instrument_fee(
            data["assessment_id"], data["client_id"], day,
            uow.get(FeeScheduleHistory, org, clinic).on(day), percent,
            uow.get(ClinicPolicy, org, clinic).policy))

    def _charge_fee(self, uow, context, new_events):
        if not new_events:
            return
        fee = uow.get(Fee, new_events[0].data["charge_id"])
        if fee.exists:
            return  # the same fee from a second delivery under another id
        uow.save(fee, context, new_events)
        self.invoice_per_session(uow, context, fee.charge_id)
