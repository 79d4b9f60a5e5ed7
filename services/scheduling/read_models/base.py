"""What every read model of scheduling shares: the metadata, the projection and
a helper. Handlers are deterministic functions of the event (no clock); they
write with shared.projection's upsert."""
from sqlalchemy import MetaData

from shared import care_team
from shared.projection import Projection
from shared.timeutil import parse_time

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)
projection.erases_clients()  # an erased client's rows go


def aware(moment):
    """SQLite gives back naive datetimes; they are UTC."""
    return parse_time(moment.isoformat()) if moment is not None else None
