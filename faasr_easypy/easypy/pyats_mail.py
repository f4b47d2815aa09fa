"""pyATS's report mail, encoded for SMTP and redacted, and a failed send explained.

Easypy mails its report through ``pyats.utils.email.EmailMsg``: ``message()`` builds
the message (a file attached as an unencoded message/rfc822 part) and ``send()``
sends it; when the server refuses it, Easypy only says "Missing SMTP server
configuration, or failed to reach/authenticate/send mail". :func:`install`
(through pyats_patches) makes ``message()`` return report.mail.encoded_message of
pyATS's own message, redacted with the job's redactor (set by :func:`use`), and
``send()`` log the SMTP server's answer before pyATS's line.
"""

import logging

log = logging.getLogger(__name__)

_state = {"redactor": None, "original": None}


def use(redactor):
    """The job's redactor, applied to every part of every mail from now on."""
    _state["redactor"] = redactor


def premise():
    try:
        from pyats.utils.email import EmailMsg
    except Exception as exc:
        return f"pyats.utils.email.EmailMsg cannot be imported ({exc})"
    for name in ("message", "send", "recipients"):
        if not callable(getattr(EmailMsg, name, None)):
            return f"pyats.utils.email.EmailMsg has no {name}()"
    return None


def install():
    from pyats.utils.email import EmailMsg

    from ..report.mail import encoded_message, smtp_failure

    if _state["original"] is not None:
        return True
    build, send = EmailMsg.message, EmailMsg.send

    def message(self):
        return encoded_message(build(self), _state["redactor"])

    def send_and_explain(self, host=None, port=None, *args, **kwargs):
        try:
            return send(self, host, port, *args, **kwargs)
        except Exception as exc:
            host, port = _server(host, port)
            log.error("faasr-easypy: the report mail to %s was not sent: %s", _recipients(self),
                      smtp_failure(exc, host, port))
            raise

    _state["original"] = (build, send)
    EmailMsg.message, EmailMsg.send = message, send_and_explain
    return True


def _server(host, port):
    """The SMTP server a send used: its arguments, else pyATS's configuration."""
    if host:
        return host, port
    try:
        from pyats.configuration import configuration as cfg

        return cfg.get("email.smtp.host"), cfg.get("email.smtp.port")
    except Exception:  # only for the message
        return None, None


def _recipients(msg):
    try:
        recipients = msg.recipients()
    except Exception:  # only for the message
        return "?"
    if isinstance(recipients, str):
        return recipients or "?"
    return ", ".join(str(r) for r in recipients) or "?"
