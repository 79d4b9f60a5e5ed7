"""What a request brings to a command: who asks, and the correlation it runs under.

Service classes build one per request (shared/web.py `caller_of`); applications
take it instead of a principal and a correlation id side by side, and stamp
every event they append with `caller.context(...)`. Reactions to events build
theirs with `Context.caused_by(event)`.
"""
from dataclasses import dataclass

from .auth import Principal
from .envelope import Context


@dataclass(frozen=True)
class Caller:
    principal: Principal
    correlation_id: str

    def context(self, organisation_id, clinic_id):
        """The Context of events this caller's command appends in a clinic."""
        return Context(organisation_id, clinic_id, self.correlation_id,
                       actor=self.principal.user_id)

    def context_of(self, record):
        """The same, in the organisation and clinic of a read-model row (a mapping)."""
        return self.context(record["organisation_id"], record["clinic_id"])
