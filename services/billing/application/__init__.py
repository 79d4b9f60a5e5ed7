"""Billing's use cases (plain Python, no nameko): configuration and money by command,
charges in reaction to other services' events.

- settings: fee schedules, the billing policy, billing profiles, sliding scales
- pricing: sessions held, cancellations, no-shows and instruments priced (the
  reactions), and add-ons
- invoices: drafting, issuing, voiding, writing off
- payments: payments and refunds

Commands take a Caller (shared/caller.py) and stamp their events with its context;
reactions get theirs from the kernel (Context.caused_by). Queries live in queries/.
"""
from shared.application import Application

from ..queries import BillingQueries
from ..read_models import projection
from ..subscriptions import SUBSCRIPTIONS
from .invoices import InvoiceCommands
from .payments import PaymentCommands
from .pricing import PricingReactions
from .settings import SettingsCommands


class BillingApplication(SettingsCommands, PricingReactions, InvoiceCommands, PaymentCommands,
                         BillingQueries, Application):
    service = "billing"
    projection = projection
    subscriptions = SUBSCRIPTIONS
