"""Intake's use cases: each command is one unit of work (events + read models).

Commands load an aggregate with `uow.get`, let the domain decide, and `uow.save`
what it decided at the version loaded (a concurrent change is a 409); the
clinic's not-on-track rule is the one blind write. Each takes the request's
Caller (shared/caller.py) and stamps its events with the caller's context.
- clients: registration, details, consents, episodes of care
- measurement: assessments, risk flags, the reaction to sessions held
- care_team: care team members and break-glass
- alliance: alliance settings, ratings of held sessions, alliance concerns
- dropout: the dropout-risk rule (alliance concern with missed sessions)
- reference_data: instruments and the not-on-track rule
The read side is queries/. Which role may call each is the access policy's
(shared/access.py), checked before a request gets here.
"""
from shared import metrics
from shared.application import Application

from ..queries import IntakeQueries, open_risk_flag_counts
from ..queries.alliance import AllianceQueries, open_alliance_concern_counts
from ..read_models import projection
from ..subscriptions import SUBSCRIPTIONS
from .alliance import AllianceUseCases
from .care_team import CareTeamUseCases
from .dropout import DropoutRiskUseCases
from .clients import ClientUseCases
from .measurement import MeasurementUseCases
from .reference_data import ReferenceDataUseCases


class IntakeApplication(ClientUseCases, MeasurementUseCases, CareTeamUseCases,
                        ReferenceDataUseCases, AllianceUseCases, DropoutRiskUseCases,
                        IntakeQueries,
                        AllianceQueries, Application):
    service = "intake"
    projection = projection
    subscriptions = SUBSCRIPTIONS

    def refresh_gauges(self):
        """praxis_risk_flags_open and praxis_alliance_concerns_open per clinic (what
        GET /clinics/{clinic}/risk-flags and .../alliance-concerns list as open)."""
        with self.store.read() as conn:
            counts = open_risk_flag_counts(conn)
            concerns = open_alliance_concern_counts(conn)
        values = self.set_practice_gauge(metrics.RISK_FLAGS_OPEN, counts)
        self.set_practice_gauge(metrics.ALLIANCE_CONCERNS_OPEN, concerns)
        # Each clinic's break-glass and alliance-concern counters exist from 0, so increase() sees a first grant.
        for organisation_id, clinic_id in values:
            metrics.BREAK_GLASS.labels(self.service, organisation_id, clinic_id)
            metrics.ALLIANCE_CONCERNS_FLAGGED.labels(self.service, organisation_id, clinic_id)
        return values
