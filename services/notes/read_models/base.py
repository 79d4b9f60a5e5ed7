"""What every read-model module shares: the metadata, the projection, small helpers.
Rows are written with the one upsert (shared/projection.py)."""
import json

from sqlalchemy import MetaData

from shared import care_team
from shared.projection import Projection

metadata = MetaData()
projection = Projection(metadata)
care_team.include(projection)  # who reaches which client (shared/care_team.py)
projection.erases_clients()  # an erased client's rows go


def tenancy(event):
    """Every row carries the tenancy of the event that made it."""
    return {"organisation_id": event.organisationid, "clinic_id": event.clinicid}


def to_json(value):
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))

