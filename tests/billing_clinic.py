"""A clinic as billing sees it, for tests that drive BillingApplication directly (no
broker): commands through a Caller, other services' events as the envelopes they
publish, fed to `application.consume()`."""
import uuid
from datetime import date, timedelta

from services.billing.application import BillingApplication
from shared.auth import Principal
from shared.caller import Caller
from shared.timeutil import iso, parse_time
from tests.support import make_event

ORG, CLINIC = "org-1", "clinic-1"
PRICES = {"90791": 20000, "90832": 9000, "90834": 12000, "90837": 16000, "+90785": 1500,
          "96127": 500}
INSURER = {"kind": "insurer", "insurer_name": "Acme Health", "member_id": "A-1"}
CLINIC_NPI = "1234567893"


def caller(role="billing", user="billing-1", correlation_id=None, clinics=(CLINIC,)):
    return Caller(Principal(user, role, ORG, clinics), correlation_id or str(uuid.uuid4()))


class Clinic:
    """One clinic's billing: a fee schedule set, clients registered, sessions held."""

    def __init__(self, url, prices=PRICES, **policy):
        self.app = BillingApplication(url)
        self.staff = caller()
        self.app.set_fee_schedule(self.staff, CLINIC, {"currency": "USD", "prices": prices})
        if policy:
            self.app.set_policy(self.staff, CLINIC, policy)

    def close(self):
        self.app.store.engine.dispose()

    # -- other services' events ------------------------------------------------------
    def feed(self, service, name, data, subject=None, sequence=1):
        event = make_event(service, name, data, subject=subject or f"{name}-{uuid.uuid4()}",
                           sequence=sequence, org=ORG, clinic=CLINIC)
        return event, self.app.consume(event.to_dict())

    def register(self, payer=None, client_id=None):
        client_id = client_id or str(uuid.uuid4())
        self.feed("intake", "ClientRegistered", {
            "client_id": client_id, "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
            "contact": {"email": "ada@example.org"}, "payer": payer,
            "registered_at": "2026-01-05T09:00:00Z", "details_revision": 1},
            subject=f"client-{client_id}")
        return client_id

    def change_payer(self, client_id, payer, at, revision=2):
        self.feed("intake", "ClientDetailsUpdated", {
            "client_id": client_id, "changes": {"payer": payer}, "updated_at": at,
            "details_revision": revision}, subject=f"client-{client_id}", sequence=revision + 1)

    def consent(self, client_id, at, revision, sequence, given=True):
        """The cancellation policy accepted (or withdrawn) at `at`: intake's
        `revision` of the client's details and consents, its `sequence` in the stream."""
        self.feed("intake", "ConsentGiven" if given else "ConsentRevoked", {
            "client_id": client_id, "kind": "cancellation_policy",
            **({"document_version": "v1", "given_at": at} if given else {"revoked_at": at}),
            "recorded_by": "desk-1", "details_revision": revision},
            subject=f"client-{client_id}", sequence=sequence)

    def cancel_late(self, client_id, cancelled_at, revision=None, appointment_id=None):
        """The client cancelled an hour before the start, inside the window."""
        appointment_id = appointment_id or str(uuid.uuid4())
        start = parse_time(cancelled_at) + timedelta(hours=1)
        self.feed("scheduling", "AppointmentCancelled", {
            "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
            "start": iso(start), "cancelled_by": "client", "notice_minutes": 60, "late": True,
            "reason": None, "cancelled_at": cancelled_at,
            **({"client_details_revision": revision} if revision else {})},
            subject=f"appointment-{appointment_id}", sequence=2)
        return appointment_id

    def hold_session(self, client_id, minutes=45, day="2026-03-02", appointment_id=None,
                     sequence=3, **session):
        appointment_id = appointment_id or str(uuid.uuid4())
        self.feed("scheduling", "SessionHeld", {
            "appointment_id": appointment_id, "client_id": client_id, "clinician_id": "clin-1",
            "start": f"{day}T15:00:00Z", "minutes": minutes, "modality": "in_person",
            "session_type": "individual", "place_of_service": "office", "audio_only": False,
            "session_number": 1, **session}, subject=f"appointment-{appointment_id}",
            sequence=sequence)
        return appointment_id

    # -- billing's own commands --------------------------------------------------------
    def charges(self, client_id):
        return self.app.balance(self.staff.principal, client_id)["charges"]

    def invoice_issued(self, client_id, start=date(2026, 3, 1), end=date(2026, 3, 31)):
        """A draft of the client's unbilled charges in the period, issued."""
        drafted = self.app.draft_invoice(self.staff, client_id, {
            "period_start": start, "period_end": end})
        return self.app.issue_invoice(self.staff, drafted["invoice_id"])

    def pay(self, client_id, amount_minor, invoice_id=None):
        return self.app.receive_payment(self.staff, client_id, {
            "amount_minor": amount_minor, "currency": "USD", "method": "card",
            "invoice_id": invoice_id})

    def own_events(self, name=None):
        return [e for _, e in self.app.store.read_all(limit=10 ** 6)
                if e.service == "billing" and name in (None, e.name)]
