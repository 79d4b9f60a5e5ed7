"""Commands of secure messaging: the client or a clinician of the care team sends to
the client's thread (a client's message outside office hours gets the clinic's
auto-reply in the same unit of work), readers record their receipts, a clinician
flags a message as clinically relevant; a clinic's messaging settings."""
import uuid

from shared.errors import NotFound
from shared.timeutil import iso, utc_now

from ..domain import messaging as rules
from ..domain.messaging import Message, MessagingSettings
from ..queries.common import visible_client
from ..queries.messaging import settings_row


class MessagingCommands:
    def send_message(self, caller, client_id, command):
        principal = caller.principal
        sent_at = iso(utc_now())
        with self.store.unit_of_work() as uow:
            record = visible_client(principal, uow.conn, str(client_id))
            message = uow.get(Message, str(uuid.uuid4()))  # new: at version 0
            sender_role = rules.CLIENT if principal.role == "client" else rules.CLINICIAN
            (sent,) = uow.save(message, caller.context_of(record), rules.send(
                message.message_id, record["client_id"], principal.user_id, sender_role,
                command["text"], sent_at))
            settings = settings_row(uow.conn, record["organisation_id"], record["clinic_id"])
            reply = uow.get(Message, str(uuid.uuid4()))
            uow.save(reply, caller.context_of(record),
                     rules.auto_reply(settings, sent, reply.message_id))
        return self.thread_message(principal, client_id, message.message_id)

    def _change_message(self, caller, client_id, message_id, decide):
        with self.store.unit_of_work() as uow:
            record = visible_client(caller.principal, uow.conn, str(client_id))
            message = uow.get(Message, str(message_id))
            if message.client_id != record["client_id"]:
                raise NotFound("message not found")
            uow.save(message, caller.context_of(record), decide(message))
        return self.thread_message(caller.principal, client_id, message_id)

    def mark_message_read(self, caller, client_id, message_id):
        return self._change_message(caller, client_id, message_id, lambda message: (
            rules.mark_read(message, caller.principal.user_id, iso(utc_now()))))

    def flag_message(self, caller, client_id, message_id):
        return self._change_message(caller, client_id, message_id, lambda message: (
            rules.flag(message, caller.principal.user_id, iso(utc_now()))))

    def set_messaging_settings(self, caller, clinic_id, command):
        principal = caller.principal
        principal.require_clinic(principal.organisation_id, clinic_id)
        with self.store.unit_of_work() as uow:
            new_events = rules.set_settings(command["time_zone"], command["office_hours"],
                                            command["crisis_line"], principal.user_id,
                                            iso(utc_now()))
            # A blind write: a PUT of the clinic's setting; the last writer wins.
            uow.append_blind(MessagingSettings.stream_of(principal.organisation_id, clinic_id),
                             caller.context(principal.organisation_id, clinic_id), new_events)
        return self.messaging_settings(principal, clinic_id)
