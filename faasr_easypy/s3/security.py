"""Locking the embedded SeaweedFS down to its signed S3 port.

`weed mini` also runs a master, a volume server, a filer and an admin server,
each with an HTTP and a gRPC listener on loopback, and out of the box they take
requests from any local process (an unsigned PUT on the filer could forge a
`.done` marker and flip a verdict). The server process runs with:

* `-disableHttp`: the master's and the filer's HTTP APIs are off;
* SeaweedFS's own security.toml (format: `weed scaffold -config=security`),
  read from weed's working directory, its private data folder, mode 0600, with
  keys and certificates new for every start:
  - JWT signing keys: the volume server reads and writes only with a token
    the master signed, the filer only what the S3 gateway signed;
  - mutual TLS on every gRPC listener and on the master's remaining HTTP
    (its status pages), with a certificate authority whose private key is
    never written down, so only weed itself holds a client certificate.

The S3 port checks AWS signatures itself (the server's credentials).
"""

import datetime
import ipaddress
import os
import secrets
from pathlib import Path

JWT_SECTIONS = ("jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read")
GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "admin", "worker", "client")
CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "tls.crt", "tls.key"


def write_security_toml(folder):
    """Write security.toml and the TLS files into `folder` (all 0600); return its path."""
    folder = Path(folder)
    _write_private(folder / "security.toml", _toml(folder, tls=_write_tls(folder)))
    return folder / "security.toml"


def _toml(folder, tls):
    parts = [f'[{section}]\nkey = "{secrets.token_urlsafe(32)}"\nexpires_after_seconds = 10\n'
             for section in JWT_SECTIONS]
    parts.append("[access]\nui = false\n")
    parts.append("[filer.expose_directory_metadata]\nenabled = false\n")
    if tls:
        ca, cert, key = (_quoted(folder / name) for name in (CA_FILE, CERT_FILE, KEY_FILE))
        parts.append(f"[grpc]\nca = {ca}\n")
        parts += [f"[grpc.{component}]\ncert = {cert}\nkey = {key}\n" for component in GRPC_COMPONENTS]
        parts.append(f"[https.master]\ncert = {cert}\nkey = {key}\nca = {ca}\n")
    return "\n".join(parts)


def _quoted(path):
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_tls(folder):
    """A throw-away CA and one certificate weed uses as server and client, made in a forked
    child: `cryptography` costs the harness ~14 MiB and 60 ms of imports it never needs again.
    False when the package is missing (then only the JWT keys and -disableHttp protect weed)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if _make_tls_files(folder) else 3
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
    except ChildProcessError:  # reaped by someone else's SIGCHLD handler: look at the files
        code = 0 if all((folder / name).is_file() for name in (CA_FILE, CERT_FILE, KEY_FILE)) else 3
    if code not in (0, 3):
        raise OSError(f"making the embedded S3 server's TLS certificates in {folder} failed")
    return code == 0


def _make_tls_files(folder):
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=30))

    def certificate(subject, issuer, public_key, signing_key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(valid[0]).not_valid_after(valid[1]))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())  # never written: no one can issue more
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "faasr-easypy embedded S3 CA")])
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key,
                     [(x509.BasicConstraints(ca=True, path_length=0), True)])
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "faasr-easypy embedded S3")])
    cert = certificate(name, ca_name, key.public_key(), ca_key, [
        (x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                      x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    pem = serialization.Encoding.PEM
    _write_private(folder / CA_FILE, ca.public_bytes(pem).decode())
    _write_private(folder / CERT_FILE, cert.public_bytes(pem).decode())
    _write_private(folder / KEY_FILE, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()).decode())
    return True


def _write_private(path, text):
    """A new file, 0600 from its first byte (an old one may have been readable by others)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
