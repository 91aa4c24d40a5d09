"""The cluster's PKI: a CA for Kubernetes, a CA for etcd, serving and client certificates, and the
service-account signing key. Uses the ``cryptography`` package (ECDSA P-256 for certificates, which
is quick to generate; RSA-2048 for the service-account key).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
VALIDITY = dt.timedelta(days=30)
FRONT_PROXY_CLIENT = "front-proxy-client"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class CA:
    def __init__(self, key, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, cn: str) -> "CA":
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        name = _name(cn)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(self, cn: str, orgs: tuple[str, ...] = (), *, server: bool = False, client: bool = False,
              dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()):
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, orgs)).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        _write_private(directory / f"{stem}.key", _key_pem(self.key))
        (directory / f"{stem}.crt").write_bytes(_cert_pem(self.cert))
        return directory / f"{stem}.crt", directory / f"{stem}.key"


def _write_pair(directory: Path, stem: str, key, cert) -> tuple[Path, Path]:
    _write_private(directory / f"{stem}.key", _key_pem(key))
    (directory / f"{stem}.crt").write_bytes(_cert_pem(cert))
    return directory / f"{stem}.crt", directory / f"{stem}.key"


# (file stem, common name, organisations) of the client certificates signed by the Kubernetes CA.
CLIENTS = {
    "admin": ("localkube-admin", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    # kwok plays every kubelet; like kwokctl's default setup it runs with cluster-admin rights.
    "kwok": ("kwok-controller", ("system:masters",)),
}


def generate(pki: Path) -> dict[str, Path]:
    """Write the whole PKI into ``pki`` and return the paths by role."""
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    out: dict[str, Path] = {}
    ca = CA.create("localkube-ca")
    out["ca.crt"], out["ca.key"] = ca.write(pki, "ca")
    etcd_ca = CA.create("localkube-etcd-ca")
    out["etcd-ca.crt"], out["etcd-ca.key"] = etcd_ca.write(pki, "etcd-ca")

    loop = ("127.0.0.1",)
    key, cert = etcd_ca.issue("localkube-etcd", server=True, client=True, dns=("localhost",), ips=loop)
    out["etcd.crt"], out["etcd.key"] = _write_pair(pki, "etcd", key, cert)
    key, cert = etcd_ca.issue("kube-apiserver-etcd-client", client=True)
    out["apiserver-etcd-client.crt"], out["apiserver-etcd-client.key"] = _write_pair(
        pki, "apiserver-etcd-client", key, cert)

    key, cert = ca.issue(
        "kube-apiserver", server=True,
        dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"),
        ips=("127.0.0.1", KUBERNETES_SERVICE_IP),
    )
    out["apiserver.crt"], out["apiserver.key"] = _write_pair(pki, "apiserver", key, cert)
    for stem, (cn, orgs) in CLIENTS.items():
        key, cert = ca.issue(cn, orgs, client=True)
        out[f"{stem}.crt"], out[f"{stem}.key"] = _write_pair(pki, stem, key, cert)

    # Aggregation layer (request-header authentication), as kubeadm sets it up.
    fp_ca = CA.create("localkube-front-proxy-ca")
    out["front-proxy-ca.crt"], out["front-proxy-ca.key"] = fp_ca.write(pki, "front-proxy-ca")
    key, cert = fp_ca.issue(FRONT_PROXY_CLIENT, client=True)
    out["front-proxy-client.crt"], out["front-proxy-client.key"] = _write_pair(pki, "front-proxy-client", key, cert)

    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(pki / "sa.key", _key_pem(sa))
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out["sa.key"], out["sa.pub"] = pki / "sa.key", pki / "sa.pub"
    return out
