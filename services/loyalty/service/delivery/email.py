"""Email over SMTP: one connection per batch to the bank's relay; a message the relay accepts (250) is
sent. There is no delivery receipt for email, so an email stays sent until the customer opens or answers."""

import smtplib
import uuid
from email.message import EmailMessage

from services.loyalty.service.delivery.addresses import Addresses, AddressUnavailable
from services.loyalty.service.delivery.channel import Message, Outcome

SUBJECT = "中国邮政储蓄银行"


class EmailSender:
    channel = "email"

    def __init__(self, host: str, port: int, sender: str, addresses: Addresses, timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.addresses, self.timeout = addresses, timeout

    def _mail(self, m: Message, to: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, to, SUBJECT
        # The same message id on a retry, so the relay and the mailbox can drop a repeat.
        mail["Message-ID"] = f"<{m.key}@{self.sender.rpartition('@')[2] or 'loyalty'}>"
        mail.set_content(m.body)
        return mail

    def send(self, messages: list[Message]) -> list[Outcome]:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError:
            return [Outcome("retry", "smtp_unreachable") for _ in messages]
        outcomes = []
        with smtp:
            for m in messages:
                outcomes.append(self._one(smtp, m))
        return outcomes

    def _one(self, smtp: smtplib.SMTP, m: Message) -> Outcome:
        try:
            to = self.addresses.lookup(uuid.UUID(str(m.customer_id)), "email")
        except AddressUnavailable:
            return Outcome("retry", "address_unavailable")
        if to is None:
            return Outcome("failed", "no_address")
        try:
            smtp.send_message(self._mail(m, to))
        except smtplib.SMTPRecipientsRefused:
            return Outcome("failed", "smtp_refused")
        except smtplib.SMTPResponseException as err:
            return Outcome("failed" if 500 <= err.smtp_code < 600 else "retry", f"smtp_{err.smtp_code}")
        except (smtplib.SMTPException, OSError):
            return Outcome("retry", "smtp_error")
        return Outcome("sent", provider_ref=m.key)
