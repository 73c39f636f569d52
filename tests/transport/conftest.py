"""Fixtures for the transport tests: a throw-away PKI and state-change recorders."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .helpers import Recorder


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    good: CertFiles
    self_signed: CertFiles
    expired: CertFiles
    wrong_san: CertFiles


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(
    dir_: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertFiles:
    cert_path = dir_ / f"{stem}.pem"
    key_path = dir_ / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return CertFiles(cert_path, key_path)


def _leaf(
    cn: str,
    sans: list[x509.GeneralName],
    issuer_name: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name or _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    return builder.sign(issuer_key or key, hashes.SHA256()), key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA, a good server cert (SAN IP:127.0.0.1) and three bad ones."""
    out = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    year = dt.timedelta(days=365)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("agentconsole test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - year)
        .not_valid_after(now + year)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = out / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    loopback = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    valid = {"not_before": now - dt.timedelta(days=1), "not_after": now + year}
    good = _leaf("127.0.0.1", loopback, ca_name, ca_key, **valid)
    self_signed = _leaf("127.0.0.1", loopback, None, None, **valid)
    expired = _leaf(
        "127.0.0.1",
        loopback,
        ca_name,
        ca_key,
        not_before=now - 2 * year,
        not_after=now - dt.timedelta(days=1),
    )
    wrong = _leaf(
        "pbx.example.com",
        [x509.DNSName("pbx.example.com"), x509.IPAddress(ipaddress.ip_address("192.0.2.10"))],
        ca_name,
        ca_key,
        **valid,
    )
    return Pki(
        ca_file=ca_file,
        good=_write(out, "good", *good),
        self_signed=_write(out, "self", *self_signed),
        expired=_write(out, "expired", *expired),
        wrong_san=_write(out, "wrong", *wrong),
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
