"""Certificates for kubernetes.io/tls Secrets: netlab.tls."""
import datetime
import ipaddress
import re
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from netlab import tls
from netlab.errors import NetlabError

HOSTS = ["business-manager.default", "shop.example", "192.168.0.21"]


@pytest.fixture(scope="module")
def pems():
    return tls.self_signed(HOSTS)


def _certs(pems):
    return x509.load_pem_x509_certificate(pems["ca.crt"]), x509.load_pem_x509_certificate(pems["tls.crt"])


def test_self_signed_gives_the_three_pem_files(pems):
    assert set(pems) == {"ca.crt", "tls.crt", "tls.key"}
    assert pems["ca.crt"].startswith(b"-----BEGIN CERTIFICATE-----")
    assert pems["tls.crt"].startswith(b"-----BEGIN CERTIFICATE-----")
    assert pems["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----")      # PKCS8, unencrypted
    assert pems["ca.crt"] != pems["tls.crt"]


def test_key_is_the_leafs_key(pems):
    _, leaf = _certs(pems)
    key = serialization.load_pem_private_key(pems["tls.key"], password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    assert key.public_key().public_bytes(pem, spki) == leaf.public_key().public_bytes(pem, spki)
    tls.check_pair(pems["tls.crt"], pems["tls.key"], "here")        # no error


def test_leaf_is_signed_by_the_ca(pems):
    ca, leaf = _certs(pems)
    assert leaf.issuer == ca.subject
    assert leaf.subject != ca.subject
    leaf.verify_directly_issued_by(ca)          # raises if the signature or names do not fit
    ca.verify_directly_issued_by(ca)            # the CA is self-signed


def _handshake(pems, tmp_path, hostname, strict=False, ca=None):
    """A TLS handshake in memory: a server with tls.crt/tls.key, a client trusting `ca`
    (the Secret's ca.crt by default), as `curl --cacert ca.crt https://hostname` would."""
    for name, data in pems.items():
        (tmp_path / name).write_bytes(data)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client_ctx = ssl.create_default_context(cadata=(ca or pems["ca.crt"]).decode())
    if strict:
        client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT      # Python 3.13's default
    else:
        client_ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {client: False, server: False}
    for _ in range(20):
        for side in (client, server):
            if not done[side]:
                try:
                    side.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done.values()):
            return client.getpeercert()
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("host", HOSTS)
def test_a_client_trusting_ca_crt_accepts_the_certificate_for_each_host(pems, tmp_path, host):
    peer = _handshake(pems, tmp_path, host)
    assert dict(x[0] for x in peer["subject"])["commonName"] == HOSTS[0]


def test_a_client_rejects_the_certificate_for_another_host(pems, tmp_path):
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(pems, tmp_path, "other.example")


def test_a_client_trusting_another_ca_rejects_the_certificate(pems, tmp_path):
    stranger = tls.self_signed(["x.example"])["ca.crt"]
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _handshake(pems, tmp_path, HOSTS[0], ca=stranger)


def test_a_client_trusting_two_labs_cas_accepts_either_labs_certificate(pems, tmp_path):
    other_lab = tls.self_signed(["x.example"])["ca.crt"]
    _handshake(pems, tmp_path, HOSTS[0], ca=other_lab + pems["ca.crt"])


def test_a_strict_client_accepts_the_certificate(pems, tmp_path):
    _handshake(pems, tmp_path, HOSTS[0], strict=True)


@pytest.mark.parametrize("host", HOSTS)
def test_leaf_verifies_with_cryptography_as_a_server_certificate(pems, host):
    verification = pytest.importorskip("cryptography.x509.verification")
    ca, leaf = _certs(pems)
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = verification.PolicyBuilder().store(verification.Store([ca])).build_server_verifier(subject)
    assert verifier.verify(leaf, []) == [leaf, ca]


def test_sans_are_the_hosts_ip_hosts_as_ip_sans(pems):
    _, leaf = _certs(pems)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["business-manager.default", "shop.example"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.168.0.21")]
    assert len(list(san)) == 3


def test_subjects_name_the_first_host_and_the_issuer(pems):
    ca, leaf = _certs(pems)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HOSTS[0]
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "netlab CA"
    custom = x509.load_pem_x509_certificate(tls.self_signed(["a.example"], issuer="Fake CA")["ca.crt"])
    assert custom.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Fake CA"


def test_ca_and_leaf_constraints(pems):
    ca, leaf = _certs(pems)
    ca_bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_bc.value.ca is True and ca_bc.critical
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    leaf_bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert leaf_bc.value.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_keys_are_ecdsa_p256(pems):
    ca, leaf = _certs(pems)
    for cert in (ca, leaf):
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"


def test_validity_covers_now_and_the_days_asked_for(pems):
    now = datetime.datetime.now(datetime.timezone.utc)
    for cert in _certs(pems):
        assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
        assert now + datetime.timedelta(days=364) < cert.not_valid_after_utc <= now + datetime.timedelta(days=366)
    short = x509.load_pem_x509_certificate(tls.self_signed(["a.example"], days=2)["tls.crt"])
    assert short.not_valid_after_utc - now < datetime.timedelta(days=2, minutes=1)
    assert short.not_valid_after_utc - now > datetime.timedelta(days=1)


def test_every_call_makes_new_keys():
    a, b = tls.self_signed(["a.example"]), tls.self_signed(["a.example"])
    assert a["tls.key"] != b["tls.key"] and a["ca.crt"] != b["ca.crt"]


def test_no_hosts_is_an_error():
    with pytest.raises(NetlabError, match="host"):
        tls.self_signed([])


# ---------------------------------------------------------------- check_pair

def test_check_pair_rejects_a_cert_that_is_not_pem(pems):
    with pytest.raises(NetlabError, match=r"^secret default/web-tls: tls\.crt is not a PEM certificate") as e:
        tls.check_pair(b"not a certificate", pems["tls.key"], "secret default/web-tls")
    assert str(e.value).startswith("secret default/web-tls: tls.crt is not a PEM certificate")


def test_check_pair_rejects_a_key_that_is_not_pem(pems):
    with pytest.raises(NetlabError, match=r"^cert\.pem, key\.pem: tls\.key is not an unencrypted PEM private key") as e:
        tls.check_pair(pems["tls.crt"], b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
                       "cert.pem, key.pem")
    assert str(e.value).startswith("cert.pem, key.pem: tls.key is not an unencrypted PEM private key")


def test_check_pair_rejects_an_encrypted_key(pems):
    key = serialization.load_pem_private_key(pems["tls.key"], password=None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(NetlabError, match=r"^here: tls.key is not an unencrypted PEM private key"):
        tls.check_pair(pems["tls.crt"], encrypted, "here")


def test_check_pair_rejects_a_key_of_another_certificate(pems):
    other = tls.self_signed(["a.example"])
    with pytest.raises(NetlabError, match="^" + re.escape(
            "secret default/web-tls: tls.key does not match tls.crt") + "$"):
        tls.check_pair(pems["tls.crt"], other["tls.key"], "secret default/web-tls")


def test_check_pair_rejects_the_ca_certificate_with_the_leaf_key(pems):
    with pytest.raises(NetlabError, match="does not match"):
        tls.check_pair(pems["ca.crt"], pems["tls.key"], "here")


def test_check_pair_messages_never_show_the_key(pems):
    other = tls.self_signed(["a.example"])
    for cert, key in [(b"junk", other["tls.key"]), (pems["tls.crt"], other["tls.key"])]:
        with pytest.raises(NetlabError,
                           match=r"^w: tls\.(crt is not a PEM certificate|key does not match tls\.crt)") as e:
            tls.check_pair(cert, key, "w")
        body = other["tls.key"].decode().splitlines()[1]
        assert body not in str(e.value)
