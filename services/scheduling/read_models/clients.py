"""Clients as scheduling knows them (from intake's events) and their episodes of care."""
from sqlalchemy import Column, DateTime, Integer, String, Table

from shared import client_history
from shared.projection import upsert
from shared.timeutil import parse_time

from .base import metadata, projection

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("organisation_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
    Column("name", String(200)),
    Column("preferred_name", String(200)),
    # The highest details revision known: stamped on what billing prices for the client.
    Column("details_revision", Integer),
)

# intake's ClientRegistered / ClientDetailsUpdated, folded in intake's order, not arrival;
# its consents only counted, for the revision billing's fees wait for
client_facts = client_history.facts_table(metadata, "client_facts")

# Opened and closed by intake; a ClientDischarged may arrive before its EpisodeOpened.
episodes = Table(
    "episodes", metadata,
    Column("episode_id", String(36), primary_key=True),
    Column("client_id", String(36), nullable=False, index=True),
    Column("opened_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
)


@projection.on("ClientRegistered", "ClientDetailsUpdated", *client_history.CONSENTS)
def client_details(conn, event):
    _org, _clinic, client_id = client_history.record(conn, client_facts, event)
    tenancy = client_history.latest_registration(conn, client_facts, client_id)
    if tenancy is None:
        return  # an update before its registration: kept, applied when it arrives
    details = client_history.latest(conn, client_facts, *tenancy, client_id)
    upsert(conn, clients, {"client_id": client_id}, {
        "organisation_id": tenancy[0], "clinic_id": tenancy[1], "name": details.get("name"),
        "preferred_name": details.get("preferred_name"),
        "details_revision": client_history.latest_revision(conn, client_facts, *tenancy,
                                                           client_id)})


@projection.on("EpisodeOpened")
def episode_opened(conn, event):
    upsert(conn, episodes, {"episode_id": event.data["episode_id"]}, {
        "client_id": event.data["client_id"], "opened_at": parse_time(event.data["opened_at"])})


@projection.on("ClientDischarged")
def client_discharged(conn, event):
    upsert(conn, episodes, {"episode_id": event.data["episode_id"]}, {
        "client_id": event.data["client_id"],
        "closed_at": parse_time(event.data["discharged_at"])})
