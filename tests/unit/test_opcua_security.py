"""OPC UA security settings and the trusted-certificate folder (files under tmp_path)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from collectors.opcua.errors import OpcuaConfigError
from collectors.opcua.security import (
    OpcuaSecurity,
    SecurityMode,
    SecurityPolicy,
    certificate_file_name,
    check_server_certificate,
    default_pki_dir,
    der_of,
    thumbprint,
)

DER = bytes.fromhex("3082000a") + b"not a real certificate"
URL = "opc.tcp://plant:4840/ua"
SUBJECT = "CN=Plant server,O=ACME"


def pem(der: bytes) -> bytes:
    body = base64.encodebytes(der)
    return b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"


def test_defaults_are_unsecured_and_under_var() -> None:
    security = OpcuaSecurity()
    assert (security.policy, security.mode, security.secured) == ("None", "None", False)
    assert security.pki_dir == default_pki_dir(Path("var")) == Path("var/pki/collector")
    assert security.own_certificate == Path("var/pki/collector/own/cert.der")
    assert security.own_private_key == Path("var/pki/collector/own/key.pem")
    assert "s3cret" not in repr(OpcuaSecurity(username="op", password="s3cret"))


@pytest.mark.parametrize(
    ("policy", "mode", "message"),
    [
        ("None", "Sign", "policy None with mode Sign"),
        ("Basic256Sha256", "None", "policy Basic256Sha256 with mode None"),
        ("Basic128Rsa15", "Sign", "expected one of None, Basic256Sha256"),
        ("Basic256Sha256", "Encrypt", "expected one of None, Sign, SignAndEncrypt"),
    ],
)
def test_policy_and_mode_must_go_together(policy: str, mode: str, message: str) -> None:
    with pytest.raises(OpcuaConfigError, match=message) as raised:
        OpcuaSecurity(policy, mode)  # type: ignore[arg-type]
    assert raised.value.error_code == "bad_security"


def test_secured_settings_accept_text_from_a_config_file() -> None:
    security = OpcuaSecurity("Basic256Sha256", "SignAndEncrypt")  # type: ignore[arg-type]
    assert security.policy is SecurityPolicy.BASIC256SHA256
    assert security.mode is SecurityMode.SIGN_AND_ENCRYPT
    assert security.secured


def test_a_password_needs_a_username() -> None:
    with pytest.raises(OpcuaConfigError, match="password given without a username"):
        OpcuaSecurity(password="x")


def test_pem_and_der_have_the_same_thumbprint() -> None:
    assert der_of(pem(DER)) == DER
    assert der_of(DER) == DER
    assert thumbprint(DER) == thumbprint(der_of(pem(DER)))
    assert len(thumbprint(DER)) == 40


def test_certificate_file_names_are_safe() -> None:
    name = certificate_file_name(SUBJECT, DER)
    assert name == f"CN_Plant_server_O_ACME_{thumbprint(DER)[:16]}.der"
    assert certificate_file_name("///", DER).startswith("server_")


def secured(tmp_path: Path, *, tofu: bool = False) -> OpcuaSecurity:
    return OpcuaSecurity(
        SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN, tmp_path, trust_on_first_use=tofu
    )


def test_an_untrusted_server_is_refused_with_the_file_to_move(tmp_path: Path) -> None:
    security = secured(tmp_path)
    with pytest.raises(OpcuaConfigError) as raised:
        check_server_certificate(security, URL, DER, SUBJECT)
    rejected = tmp_path / "rejected" / certificate_file_name(SUBJECT, DER)
    assert raised.value.error_code == "untrusted_certificate"
    assert rejected.read_bytes() == DER
    assert f"move {rejected} into {tmp_path / 'trusted'}/" in str(raised.value)
    (tmp_path / "trusted").mkdir()
    (tmp_path / "trusted" / "plant.pem").write_bytes(pem(DER))  # PEM is trusted too
    check_server_certificate(security, URL, DER, SUBJECT)


def test_trust_on_first_use_trusts_only_the_first(tmp_path: Path) -> None:
    security = secured(tmp_path, tofu=True)
    check_server_certificate(security, URL, DER, SUBJECT)
    assert [p.read_bytes() for p in (tmp_path / "trusted").iterdir()] == [DER]
    check_server_certificate(security, URL, DER, SUBJECT)  # the same one again
    other = DER + b"!"
    with pytest.raises(OpcuaConfigError, match="is not trusted"):
        check_server_certificate(security, URL, other, SUBJECT)
