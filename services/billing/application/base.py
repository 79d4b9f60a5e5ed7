"""What billing's commands and reactions share."""
from ..domain import ClientAccount


def read_locked(uow):
    """The connection to read a decision's input rows from, once no other writer can
    change them. Read-model rows gather facts of many streams (a client's unbilled
    charges, the invoice a charge is on, a client's payer through time) whose versions
    uow.save cannot check, so the store's append lock is taken before the read and held
    to the commit. Reactions hold it already (record_foreign takes it first); on SQLite
    every unit of work does."""
    uow.lock()
    return uow.conn


def account_command(store, caller, organisation_id, clinic_id, client_id, decide):
    """Load the client's account, save what `decide(account, uow)` returns at the
    version loaded (409 if another writer got there first), return the events saved.
    The tenancy comes from a stored record, never from the request."""
    with store.unit_of_work() as uow:
        account = uow.get(ClientAccount, organisation_id, clinic_id, client_id)
        return uow.save(account, caller.context(organisation_id, clinic_id),
                        decide(account, uow))
