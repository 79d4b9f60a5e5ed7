"""Use cases of a client's record: registration, details, consents, episodes of care."""
import uuid

from shared import config
from shared.errors import Conflict
from shared.timeutil import iso, utc_now

from .. import domain
from ..queries import visible_client


def load_client(uow, principal, client_id, care_team=True):
    """The client's row (tenancy, care team) and the Client its stream says it is."""
    record = visible_client(uow.conn, principal, client_id, care_team=care_team)
    return record, uow.get(domain.Client, record["client_id"])


class ClientUseCases:
    def register_client(self, caller, command):
        caller.principal.require_clinic(command["organisation_id"], command["clinic_id"])
        client_id, episode_id = str(uuid.uuid4()), str(uuid.uuid4())
        new_events = domain.register(client_id, episode_id, _details(command), iso(utc_now()))
        with self.store.unit_of_work() as uow:
            # A new id's stream is empty: saved at version 0, as any other save.
            uow.save(uow.get(domain.Client, client_id),
                     caller.context(command["organisation_id"], command["clinic_id"]),
                     new_events)
        return {"client_id": client_id, "episode_id": episode_id}

    def update_client(self, caller, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record),
                     domain.update_details(client, _details(command), iso(utc_now())))
        return self.client(caller.principal, client_id)

    def give_consent(self, caller, client_id, command):
        given_at = iso(command["given_at"] or utc_now())
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record), domain.give_consent(
                client, command["kind"], command["document_version"], given_at,
                caller.principal.user_id))
        return self.consents(caller.principal, client_id)

    def revoke_consent(self, caller, client_id, kind, command):
        revoked_at = iso(command["revoked_at"] or utc_now())
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record), domain.revoke_consent(
                client, kind, revoked_at, caller.principal.user_id))
        return self.consents(caller.principal, client_id)

    # -- episodes of care --------------------------------------------------
    def open_episode(self, caller, client_id, command):
        episode_id = str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            uow.save(client, caller.context_of(record), domain.open_episode(
                client, episode_id, iso(command["opened_at"] or utc_now())))
        return {"client_id": client.client_id, "episode_id": episode_id, "status": "open"}

    def discharge(self, caller, client_id, command):
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            (event,) = uow.save(client, caller.context_of(record), domain.discharge(
                client, command["reason"], iso(command["discharged_at"] or utc_now())))
        return {**event.data, "status": "discharged"}

    # -- erasure -----------------------------------------------------------
    def request_erasure(self, caller, client_id, command):
        """Erased now (ClientErased: every service shreds its keys for the client and
        purges its rows), or 409 saying until when the record is retained. Either way
        the request and its outcome are events, and the request's audit row."""
        request_id = str(uuid.uuid4())
        with self.store.unit_of_work() as uow:
            record, client = load_client(uow, caller.principal, client_id)
            events = uow.save(client, caller.context_of(record), domain.request_erasure(
                client, request_id, command["legal_basis"], command["reason"],
                caller.principal.user_id, iso(utc_now()), config.erasure_policy()))
            outcome = events[-1]
            if outcome.name == "ClientErased":
                self.erase_client(uow, outcome)
        if outcome.name == "ClientErasureRefused":
            until = outcome.data["retained_until"]
            raise Conflict(
                f"the client's clinical record is retained until {until}" if until else
                "the client's clinical record is retained while an episode of care is open "
                "(and for the retention period after its discharge)",
                {"retained_until": [until or "an episode of care is open"],
                 "request_id": [request_id]})
        return {"client_id": str(client_id), "request_id": request_id, "status": "erased",
                "erased_at": outcome.data["erased_at"]}


def _details(command):
    """Registration details in their event (JSON) form, only those given."""
    details = {name: command[name] for name in domain.DETAIL_FIELDS if name in command}
    if details.get("date_of_birth") is not None:
        details["date_of_birth"] = details["date_of_birth"].isoformat()
    return details
