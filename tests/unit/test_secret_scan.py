"""tools/secret_scan.py: each rule finds its secret and keeps quiet on its look-alike.

Every secret-looking value in this file is fake (allowed as a whole in .secret-scan-allow).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("secret_scan", ROOT / "tools" / "secret_scan.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["secret_scan"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


scan = _load()

# (rule, line that must be found, look-alike that must not be)
CASES = [
    (
        "private-key",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----",
    ),
    ("private-key", "-----BEGIN PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----"),
    (
        "private-key",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "# the private key is written 0600",
    ),
    (
        "url-credentials",
        'url = "mqtt://collector:Tr0ub4dor@broker:1883"',
        'url = "mqtt://collector@broker:1883"',
    ),
    (
        "url-credentials",
        "postgresql+psycopg://app:hunter22@db/facility",
        "postgresql+psycopg://app:${DB_PASSWORD}@db/facility",
    ),
    (
        "url-credentials",
        "see https://ops:wh4tever@example.com/x",
        "see https://ops:***@example.com/x",
    ),
    ("secret-assignment", 'password = "Tr0ub4dor&3"', 'password = ""'),
    ("secret-assignment", "token: 'abc123xyz'", "token: str | None = None"),
    ("secret-assignment", '"api_key": "k-19ff02"', '"api_key": "${API_KEY}"'),
    ("secret-assignment", 'connect(password="hunter22")', "connect(password=password)"),
    ("secret-assignment", 'smtp_password = "p4ss-w0rd"', 'smtp_password = "<password>"'),
    ("secret-assignment", 'db_password = "s3cr3t!"', 'db_password = "changeme"'),
    ("token-shape", "id = AKIAIOSFODNN7EXAMPL3", "id = AKIA-not-a-key"),
    (
        "token-shape",
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "ghp_short",
    ),
    ("token-shape", "hook xoxb-1234567890-abcdefghij", "xox is a word"),
    ("token-shape", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIza too short"),
    (
        "high-entropy",
        'signing_key = "q8ZfP3kL0wR7yT2vX9mB4nC6sD1gH5jA"',
        'signing_key = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"',
    ),
    (
        "high-entropy",
        "session_cookie: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg'",
        "session_cookie: 'facility_session_cookie_name'",
    ),
]


def _rules(line: str, *, config_file: bool = False) -> set[str]:
    return {rule for rule, _ in scan.scan_line(line, config_file=config_file)}


@pytest.mark.parametrize(("rule", "positive", "negative"), CASES)
def test_rule_finds_the_secret_and_not_its_look_alike(
    rule: str, positive: str, negative: str
) -> None:
    assert rule in _rules(positive)
    assert rule not in _rules(negative)


def test_unquoted_values_count_in_config_files_only() -> None:
    assert "secret-assignment" in _rules("password: Tr0ub4dor", config_file=True)
    assert "secret-assignment" not in _rules("password: ${MQTT_PASSWORD}", config_file=True)
    # in code the same shape is a type annotation
    assert "secret-assignment" not in _rules("    token: AckToken,")


def test_a_finding_never_prints_the_secret() -> None:
    findings = list(scan.scan_text("app.py", 'password = "Tr0ub4dor&3"\n'))
    assert [f.rule for f in findings] == ["secret-assignment"]
    assert "Tr0ub4dor&3" not in str(findings[0])
    assert str(findings[0]).startswith("app.py:1: secret-assignment: password")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.py:0123456789ab", "expected 'ENTRY  # reason'"),
        ("a.py:0123456789ab  #   ", "expected 'ENTRY  # reason'"),
        ("a.py  # fake", "expected 'path:HASH' or 'glob:re:REGEX'"),
        ("a.py:xyz  # fake", "expected 12 hex digits"),
        ("a.py:re:(  # fake", "bad regex"),
    ],
)
def test_allow_list_entries_need_a_form_and_a_reason(text: str, expected: str) -> None:
    with pytest.raises(scan.AllowListError, match=r"allow:1: ") as caught:
        scan.parse_allow(text, "allow")
    assert expected in str(caught.value)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        check=True,
        capture_output=True,
    )


def test_a_committed_secret_fails_and_its_allow_entry_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "settings.py").write_text('HOST = "db"\nDB_PASSWORD = "Tr0ub4dor&3"\n')
    (repo / "untracked.py").write_text('password = "n0t-c0mmitted"\n')
    _git(repo, "add", "settings.py")
    _git(repo, "commit", "-q", "-m", "oops")

    assert scan.main(["--root", str(repo)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1  # the untracked file is not scanned
    assert out[0].startswith("settings.py:2: secret-assignment: DB_PASSWORD")
    assert "Tr0ub4dor&3" not in out[0]

    # the hash the finding printed is what the allow-list takes
    entry = out[0].split("allow with '")[1].rstrip("')")
    (repo / ".secret-scan-allow").write_text(entry.replace("reason", "fake, for the test") + "\n")
    assert scan.main(["--root", str(repo)]) == 0
    # the same line moved further down stays allowed
    (repo / "settings.py").write_text('HOST = "db"\n\n\nDB_PASSWORD = "Tr0ub4dor&3"\n')
    assert scan.main(["--root", str(repo)]) == 0

    (repo / ".secret-scan-allow").write_text("settings.py:re:DB_PASSWORD\n")  # no reason
    assert scan.main(["--root", str(repo)]) == 2


def test_this_repository_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert scan.main(["--root", str(ROOT)]) == 0, capsys.readouterr().out
