"""facility.redact: URLs keep where they point and lose what opens them."""

from __future__ import annotations

import pytest

from facility.redact import redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("mqtt://gateway@broker:1883", "mqtt://gateway@broker:1883"),
        ("mqtts://gateway:pa55@broker:8883", "mqtts://gateway:***@broker:8883"),
        ("mqtt://u:p@ss@broker", "mqtt://u:***@broker"),
        (
            "postgresql+psycopg://app:hunter2@db:5432/facility",
            "postgresql+psycopg://app:***@db:5432/facility",
        ),
        ("sqlite:///var/facility.db", "sqlite:///var/facility.db"),
        ("http://admin:pw@127.0.0.1:8086/", "http://admin:***@127.0.0.1:8086/"),
        ("smtp+starttls://ops:pw@mail:587", "smtp+starttls://ops:***@mail:587"),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        ),
        (
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1&sign=xyz%3D",
            "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***",
        ),
        ("https://h/p?Api-Key=1&page=2", "https://h/p?Api-Key=***&page=2"),
        ("https://h/p?token=&page=2", "https://h/p?token=&page=2"),
        ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
        ("https://h/p#section", "https://h/p#section"),
        ("http://[::1:8086", "http://[::1:8086"),  # unparseable: returned, not raised
        ("http://u:secret@[::1", "http://u:***@[::1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
