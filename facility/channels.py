"""Outbound notification channels every part may use: group-robot webhooks, SMTP e-mail.

Both the alarm notifier (``gateway.alarms.notify``) and work-order notices
(``maintenance.wo_notify``) send through these; like the MQTT link they are I/O that every
part stands on, so they live on the ground floor and import no part (docs/decisions/004).

- ``Message``: the rendered text of one notice (title, Markdown, plain text).
- ``wecom_payload`` / ``dingtalk_payload`` (+ ``dingtalk_signed_url``): the JSON the WeCom
  (企业微信) and DingTalk (钉钉) group robots accept.
- ``post_json``: POST a JSON document (blocking; run it in a thread), errors mapped into the
  project's tree — CommError (retry), ConfigError (do not retry), ProtocolError (robot errcode).
- ``SmtpSettings`` / ``send_email``: one e-mail over SMTP, STARTTLS or TLS (blocking).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from facility.errors import CommError, ConfigError, ProtocolError
from facility.limits import HTTP_JSON_MAX_BYTES, HTTP_JSON_MAX_DEPTH, JsonLimitError, load_json
from facility.redact import redact_url


@dataclass(frozen=True)
class Message:
    """The rendered text of one notice."""

    title: str
    markdown: str
    text: str


def wecom_payload(message: Message, mention_all: bool = False) -> dict[str, Any]:
    """The JSON a WeCom group robot accepts (markdown; at most 4096 bytes of content)."""
    content = _truncate(message.markdown, 4096)
    if mention_all:
        # markdown messages cannot @all; a text message can
        return {
            "msgtype": "text",
            "text": {"content": _truncate(message.text, 2048), "mentioned_list": ["@all"]},
        }
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_payload(message: Message, mention_all: bool = False) -> dict[str, Any]:
    """The JSON a DingTalk group robot accepts (markdown with a title)."""
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title[:64], "text": _truncate(message.markdown, 5000)},
        "at": {"isAtAll": mention_all},
    }


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """A DingTalk robot URL with its ``timestamp`` and HMAC-SHA256 ``sign`` added."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def _truncate(text: str, max_bytes: int) -> str:
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode(errors="ignore") + "…"


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP server from ``smtp://[user@]host:port`` (``smtps://``: TLS, ``smtp+starttls://``)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    mode: Literal["plain", "starttls", "tls"] = "plain"

    @classmethod
    def from_url(cls, url: str, sender: str, password: str | None = None) -> SmtpSettings:
        parts = urlsplit(url)
        modes = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
        if parts.scheme not in modes or not parts.hostname:
            raise ConfigError(
                f"smtp_url {redact_url(url)!r}: expected smtp://host:port, "
                "smtp+starttls://host:587 or smtps://host:465"
            )
        mode = modes[parts.scheme]
        default_port = {"plain": 25, "starttls": 587, "tls": 465}[mode]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=password,
            mode=mode,  # type: ignore[arg-type]
        )


def send_email(
    settings: SmtpSettings, to: Sequence[str], subject: str, body: str, timeout_s: float
) -> None:
    """Blocking: one e-mail (run it in a thread). CommError / ConfigError on failure."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    try:
        smtp: smtplib.SMTP
        if settings.mode == "tls":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
        with smtp:
            if settings.mode == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise ConfigError(f"smtp {settings.host}:{settings.port}: login refused: {exc}") from None
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise ConfigError(f"smtp {settings.host}:{settings.port}: refused: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise CommError(f"smtp {settings.host}:{settings.port}: {exc}") from None


def post_json(url: str, body: Mapping[str, Any], timeout_s: float, robot: bool) -> None:
    """Blocking: POST a JSON document. ``robot``: also check WeCom/DingTalk's ``errcode``.

    CommError (retry) for network errors, 429 and 5xx; ConfigError (do not retry) for other
    4xx; ProtocolError (retry) for a robot's non-zero errcode (most often rate limiting).
    """
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    where = redact_url(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise CommError(f"webhook {where}: HTTP {exc.code}") from None
        raise ConfigError(f"webhook {where}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise CommError(f"webhook {where}: {exc}") from None
    if robot:
        try:
            reply = load_json(
                answer or b"{}",
                what="answer",
                max_bytes=HTTP_JSON_MAX_BYTES,
                max_depth=HTTP_JSON_MAX_DEPTH,
            )
        except JsonLimitError as exc:
            raise ProtocolError(f"webhook {where}: {exc}") from None
        code = reply.get("errcode", 0) if isinstance(reply, dict) else 0
        if code != 0:
            raise ProtocolError(
                f"webhook {where}: errcode {code} {reply.get('errmsg', '')}".rstrip(), code
            )
