"""URLs fit for a log line, a banner or an error message: no password, no key.

Every URL or DSN the project prints goes through ``redact_url`` first: the MQTT and InfluxDB
URLs, the SQL database URL, the SMTP URL and the notification webhooks, whose robots (WeCom,
DingTalk, Feishu) carry their key in the query string (``?key=``, ``?access_token=``,
``&sign=``). The host, port, path and the other parameters stay, so the message still says
where; only the secret parts become ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"

# Query or fragment parameters whose value is a credential (lower-cased, '-' read as '_').
SECRET_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "token",
        "access_token",
        "auth",
        "auth_token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "sign",
        "signature",
        "sig",
        "x_amz_signature",
        "x_amz_credential",
        "code",
    }
)
_PARAM = re.compile(r"(?P<name>[^&;=]*)(?P<eq>=?)(?P<value>[^&;]*)(?P<sep>[&;]?)")


def _mask_params(text: str) -> str:
    out = []
    for match in _PARAM.finditer(text):
        if not match[0]:
            continue
        name = match["name"]
        secret = name.lower().replace("-", "_") in SECRET_PARAMS and match["value"]
        out.append(f"{name}{match['eq']}{MASK if secret else match['value']}{match['sep']}")
    return "".join(out)


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query parameters replaced by ``***``.

    Never raises: text that does not parse as a URL is returned with anything after a
    ``user:`` and before an ``@`` masked all the same.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^/:@\s]*:)[^@\s]*@", rf"\g<1>{MASK}@", url)
    netloc = parts.netloc
    # rpartition: an unencoded '@' in the password still belongs to the password
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon and password else f"{userinfo}@{hostport}"
    query = _mask_params(parts.query) if parts.query else ""
    fragment = _mask_params(parts.fragment) if "=" in parts.fragment else parts.fragment
    # by hand: urlunsplit turns sqlite:///x (an empty host) into sqlite:/x
    head = f"{parts.scheme}:" if parts.scheme else ""
    if url[len(head) :].startswith("//"):
        head += f"//{netloc}"
    return (
        head
        + parts.path
        + (f"?{query}" if query or "?" in url else "")
        + (f"#{fragment}" if fragment or "#" in url else "")
    )
