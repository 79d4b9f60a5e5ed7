"""How a reminder reaches a client: the sender interface, and SMTP through the
organisation's relay.

A sender has one method, `send(to, subject, text)`, returning None when the relay
accepted the message and raising DeliveryFailed (with a reason of
domain.reminders.FAILURE_REASONS) when it did not. An SMS sender is the adapter
point for text reminders: a class with the same `send` (`to` a phone number, no
subject) chosen where SchedulingApplication.reminder_sender is set; none exists yet.
Nothing here logs an address or a message's text.
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid


class DeliveryFailed(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class SmtpSender:
    """Sends through PRAXIS_SMTP_* (shared/config.smtp()): STARTTLS with the relay's
    certificate verified, then AUTH when credentials are set."""

    def __init__(self, host, port, starttls=True, username=None, password=None, sender=None,
                 timeout=30, tls_context=None):
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password, self.sender = username, password, sender
        self.timeout = timeout
        self.tls_context = tls_context

    @classmethod
    def from_config(cls, smtp):
        return cls(**smtp) if smtp else None

    def send(self, to, subject, text, message_id=None):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        # The same Message-ID for the same slot lets a mail system drop a duplicate.
        message["Message-ID"] = message_id or make_msgid(domain="praxis")
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError, smtplib.SMTPAuthenticationError):
            raise DeliveryFailed("refused")
        except (OSError, smtplib.SMTPException):
            raise DeliveryFailed("unreachable")
