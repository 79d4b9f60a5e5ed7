"""Billing's domain: plain Python, no framework.

- codes: which service codes a session earns (type, minutes, add-ons, modifiers)
- fees: fee schedules by effective date, the clinic's policy, sliding scales, charges
- account: a client's invoices, payments, credit, refunds and write-offs
- superbill: provider profiles and the superbill
"""
from .account import ClientAccount, account_stream  # noqa: F401
from .codes import psychotherapy_code, session_codes  # noqa: F401
from .fees import (NAMESPACE, BillingPolicy, FeeSchedule, FeeScheduleHistory,  # noqa: F401
                   NoteState, Session, SlidingScale, charge_event_id, charge_id_of,
                   charge_stream, fee_schedule_stream, fee_stream, policy_stream,
                   price_session, record_charge, set_fee_schedule, sliding_scale_stream)
