"""Billing's use cases: fee schedules by command, charges in reaction to SessionHeld."""
import json
import logging

from sqlalchemy import select

from shared.application import Application
from shared.envelope import Context
from shared.errors import InvalidInput, NotFound
from shared.timeutil import iso, parse_time

from . import domain
from .read_models import charges, client_balances, fee_schedules, projection

log = logging.getLogger(__name__)

READ_ROLES = ("admin", "billing", "front_desk", "clinician")


class BillingApplication(Application):
    service = "billing"
    projection = projection
    reactions = {"SessionHeld": "charge_session"}

    # -- commands --------------------------------------------------------
    def set_fee_schedule(self, principal, correlation_id, clinic_id, command):
        principal.require_role("admin", "billing")
        _check_clinic_id(clinic_id)
        organisation_id = principal.organisation_id
        principal.require_clinic(organisation_id, clinic_id)
        new_events = domain.set_fee_schedule(command["currency"], command["prices"])
        context = Context(organisation_id, clinic_id, correlation_id, actor=principal.user_id)
        stream = domain.fee_schedule_stream(organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            (event,) = uow.append(stream, uow.version(stream), context, new_events)
        return {"organisation_id": organisation_id, "clinic_id": clinic_id,
                "currency": event.data["currency"], "prices": event.data["prices"],
                "version": event.sequence, "set_at": event.time}

    # -- reactions ---------------------------------------------------------
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
        schedule = domain.FeeSchedule.from_events(
            uow.load(domain.fee_schedule_stream(event.organisationid, event.clinicid)))
        new_events = domain.record_charge(
            appointment_id, data["client_id"], data["clinician_id"],
            parse_time(data["start"]).date().isoformat(), data["minutes"], schedule)
        # Expected version 0 and the deterministic event id: a racing twin fails here.
        uow.append(stream, 0, context, new_events)

    # -- queries ---------------------------------------------------------
    def fee_schedule(self, principal, clinic_id):
        principal.require_role(*READ_ROLES)
        _check_clinic_id(clinic_id)
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.read() as conn:
            row = conn.execute(select(fee_schedules).where(
                fee_schedules.c.organisation_id == principal.organisation_id,
                fee_schedules.c.clinic_id == clinic_id)).first()
        if row is None:
            raise NotFound(f"clinic {clinic_id!r} has no fee schedule")
        return {"organisation_id": row.organisation_id, "clinic_id": row.clinic_id,
                "currency": row.currency, "prices": json.loads(row.prices),
                "version": row.version, "set_at": iso(row.set_at)}

    def balance(self, principal, client_id):
        """A client's billable total and charges, in the clinics the caller sees."""
        principal.require_role(*READ_ROLES)
        client_id = str(client_id)
        with self.store.read() as conn:
            charge_rows = conn.execute(_visible(
                select(charges).where(charges.c.client_id == client_id)
                .order_by(charges.c.service_date, charges.c.charge_id),
                charges, principal)).all()
            balance_rows = conn.execute(_visible(
                select(client_balances).where(client_balances.c.client_id == client_id)
                .order_by(client_balances.c.clinic_id, client_balances.c.currency),
                client_balances, principal)).all()
        if not charge_rows:
            raise NotFound("client has no charges")
        clinics = sorted({r.clinic_id for r in charge_rows})
        currencies = sorted({r.currency for r in charge_rows if r.currency is not None})
        single = len(clinics) == 1 and len(currencies) <= 1
        return {
            "client_id": client_id, "organisation_id": principal.organisation_id,
            # One clinic and currency is the normal case; otherwise read `balances`.
            "clinic_id": clinics[0] if len(clinics) == 1 else None,
            "currency": currencies[0] if single and currencies else None,
            "balance_minor": sum(r.balance_minor for r in balance_rows) if single else None,
            "balances": [{"clinic_id": r.clinic_id, "currency": r.currency,
                          "balance_minor": r.balance_minor, "charges": r.charges}
                         for r in balance_rows],
            "charges": [_charge_view(r._asdict()) for r in charge_rows],
        }

    def list_charges(self, principal, query):
        principal.require_role("admin", "billing")
        principal.require_clinic(principal.organisation_id, query["clinic_id"])
        statement = (select(charges)
                     .where(charges.c.organisation_id == principal.organisation_id,
                            charges.c.clinic_id == query["clinic_id"])
                     .order_by(charges.c.service_date, charges.c.charge_id)
                     .limit(query["limit"]).offset(query["offset"]))
        if query["client_id"] is not None:
            statement = statement.where(charges.c.client_id == str(query["client_id"]))
        with self.store.read() as conn:
            rows = conn.execute(statement).all()
        return {"charges": [_charge_view(r._asdict()) for r in rows]}


def _check_clinic_id(clinic_id):
    if not 1 <= len(clinic_id) <= 64:
        raise InvalidInput("invalid clinic id", {"clinic_id": ["must be 1-64 characters"]})


def _visible(statement, table, principal):
    statement = statement.where(table.c.organisation_id == principal.organisation_id)
    clinics = principal.clinic_filter()
    if clinics is not None:
        statement = statement.where(table.c.clinic_id.in_(clinics))
    return statement


def _charge_view(record):
    return {"charge_id": record["charge_id"], "appointment_id": record["appointment_id"],
            "client_id": record["client_id"], "clinician_id": record["clinician_id"],
            "clinic_id": record["clinic_id"], "service_date": record["service_date"].isoformat(),
            "minutes": record["minutes"], "code": record["code"],
            "billable": record["billable"], "reason": record["reason"],
            "amount_minor": record["amount_minor"], "currency": record["currency"],
            "recorded_at": iso(record["recorded_at"])}
