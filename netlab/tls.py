"""Certificates for kubernetes.io/tls Secrets: a small CA and a host certificate it signs.

A user who trusts the Secret's ca.crt (`curl --cacert`) can check the ingress's
certificate the way a client checks a real one. ECDSA P-256: a key takes a
millisecond to make, so every lab gets its own.
"""
from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from netlab.errors import NetlabError

DAYS = 365


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: str, issuer: x509.Name, key, signer, extensions, days: int) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days)))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical)
    return builder.sign(signer, hashes.SHA256())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(hosts: list[str], days: int = DAYS, issuer: str = "netlab CA") -> dict[str, bytes]:
    """{"ca.crt", "tls.crt", "tls.key"} in PEM: a CA and a certificate for `hosts` it signed."""
    if not hosts:
        raise NetlabError("a certificate needs at least one host name")
    for h in hosts:
        if not h.isascii() or len(h) > 253 or any(len(label) > 63 for label in h.split(".")):
            raise NetlabError(f"{h!r} cannot be a certificate's host name (ASCII, labels of at most 63 "
                              f"characters, 253 in all)")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
    # key identifiers (RFC 5280): strict verifiers require them, and they tell one lab's
    # CA from another's of the same name in a client's trust store
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = _cert(issuer, ca_name, ca_key, ca_key,
               [(x509.BasicConstraints(ca=True, path_length=0), True),
                (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
                (ca_ski, False)], days)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(hosts[0][:64], ca_name, key, ca_key,      # (a common name holds 64 characters)
                 [(x509.SubjectAlternativeName([_san(h) for h in hosts]), False),
                  (x509.BasicConstraints(ca=False, path_length=None), True),
                  (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
                  (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
                  (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False)], days)
    pem = serialization.Encoding.PEM
    return {"ca.crt": ca.public_bytes(pem), "tls.crt": leaf.public_bytes(pem), "tls.key": _pem_key(key)}


def check_pair(cert_pem: bytes, key_pem: bytes, where: str) -> None:
    """A certificate and key that belong together, or one clear error naming `where`."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as e:
        raise NetlabError(f"{where}: tls.crt is not a PEM certificate ({e})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise NetlabError(f"{where}: tls.key is not an unencrypted PEM private key ({e})") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(serialization.Encoding.PEM, public) != \
            key.public_key().public_bytes(serialization.Encoding.PEM, public):
        raise NetlabError(f"{where}: tls.key does not match tls.crt")
