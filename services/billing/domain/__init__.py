"""Billing's domain: plain Python, no framework.

- codes: which service codes a session earns (type, minutes, add-ons, modifiers)
- fees: fee schedules by effective date, the clinic's policy, sliding scales, charges
- account: a client's invoices, payments, credit, refunds and write-offs
- superbill: provider profiles and the superbill

The aggregates (shared/aggregate.py), one per stream: FeeScheduleHistory,
ClinicPolicy, SlidingScale, BillingProfile (a clinic's settings), SessionCharge and
Fee (charges), ClientAccount (the money).
"""
from .account import ClientAccount  # noqa: F401
from .codes import psychotherapy_code, session_codes  # noqa: F401
from .fees import (NAMESPACE, BillingPolicy, ClinicPolicy, Fee, FeeSchedule,  # noqa: F401
                   FeeScheduleHistory, NoteState, Session, SessionCharge, SlidingScale,
                   charge_event_id, charge_id_of, price_session, record_charge,
                   set_fee_schedule)
from .superbill import BillingProfile  # noqa: F401
