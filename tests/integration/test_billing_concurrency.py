"""Two conflicting billing commands at once, on both engines: exactly one succeeds,
the other is refused with a 409 (Conflict, or ConcurrencyError when it decided on a
state the other changed), and only one of them appends its event (issue 13).

The application runs without a broker (tests/billing_clinic.py); each command runs in
its own thread against the one application. On PostgreSQL the overlap is also forced:
both commands load the client's account before either saves, so the loser can only be
stopped by saving at the version it loaded. On SQLite the store serialises whole units
of work with a file lock, so that overlap cannot happen there (a barrier inside one
would wait forever): only the first form applies.
"""
from datetime import date

import pytest

from services.billing.domain import ClientAccount
from shared.errors import ConcurrencyError, Conflict, PraxisError
from tests.billing_clinic import Clinic, caller
from tests.concurrency import at_once, loads_meet

pytestmark = pytest.mark.integration

MARCH = {"period_start": date(2026, 3, 1), "period_end": date(2026, 3, 31)}


@pytest.fixture
def clinic(database_url):
    clinic = Clinic(database_url)
    yield clinic
    clinic.close()


def _session_charged(clinic):
    client_id = clinic.register()
    clinic.hold_session(client_id)  # 12000 of 90834
    return client_id


def issue_a_draft_twice(clinic):
    draft = clinic.app.draft_invoice(clinic.staff, _session_charged(clinic), MARCH)
    return "InvoiceIssued", lambda: clinic.app.issue_invoice(caller(), draft["invoice_id"])


def void_an_invoice_twice(clinic):
    invoice = clinic.invoice_issued(_session_charged(clinic))
    return "InvoiceVoided", lambda: clinic.app.void_invoice(
        caller(), invoice["invoice_id"], {"reason": "billed in error"})


def refund_more_than_was_paid_in_two(clinic):
    client_id = _session_charged(clinic)
    clinic.invoice_issued(client_id)
    clinic.pay(client_id, 15000)  # 3000 of credit: either refund fits, not both
    return "RefundIssued", lambda: clinic.app.refund(caller(), client_id, {
        "amount_minor": 2000, "currency": "USD", "method": "card", "reason": "asked"})


def write_off_the_balance_twice(clinic):
    invoice = clinic.invoice_issued(_session_charged(clinic))
    return "WrittenOff", lambda: clinic.app.write_off(caller(), invoice["invoice_id"],
                                                      {"reason": "hardship"})


CONFLICTS = [issue_a_draft_twice, void_an_invoice_twice, refund_more_than_was_paid_in_two,
             write_off_the_balance_twice]


def race(command):
    """`command` twice at once, in two threads: (answers, errors)."""
    outcomes = at_once(command, command)
    for outcome in outcomes:
        if isinstance(outcome, Exception) and not isinstance(outcome, PraxisError):
            raise outcome
    return ([o for o in outcomes if not isinstance(o, Exception)],
            [o for o in outcomes if isinstance(o, Exception)])


def _appended(clinic, name):
    return len(clinic.own_events(name))


@pytest.mark.parametrize("conflict", CONFLICTS, ids=lambda f: f.__name__)
def test_of_two_conflicting_commands_at_once_one_wins_and_one_gets_409(clinic, conflict):
    name, command = conflict(clinic)
    answers, errors = race(command)
    assert len(answers) == 1 and len(errors) == 1, errors
    (error,) = errors
    assert isinstance(error, Conflict) and error.status == 409
    assert _appended(clinic, name) == 1


@pytest.mark.parametrize("conflict", CONFLICTS, ids=lambda f: f.__name__)
def test_on_postgresql_the_loser_that_loaded_the_same_version_gets_a_concurrency_error(
        postgres_url, monkeypatch, conflict):
    clinic = Clinic(postgres_url)
    try:
        name, command = conflict(clinic)  # set up before the loads are made to overlap
        # both load the client's account before either saves: one version decided on
        loads_meet(monkeypatch, lambda aggregate_type, key: aggregate_type is ClientAccount)
        answers, errors = race(command)
        monkeypatch.undo()
        assert len(answers) == 1 and len(errors) == 1, errors
        assert isinstance(errors[0], ConcurrencyError)
        assert _appended(clinic, name) == 1
    finally:
        clinic.close()
