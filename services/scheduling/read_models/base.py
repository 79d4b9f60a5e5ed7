"""What every read model of scheduling shares: the metadata, the projection and
a helper. Handlers are deterministic functions of the event (no clock); they
write with shared.projection's upsert."""
from sqlalchemy import MetaData

from shared import care_team
from shared.projection import Projection
from shared.timeutil import aware  # noqa: F401 (re-exported)

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)
projection.erases_clients()  # an erased client's rows go


