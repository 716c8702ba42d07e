"""What the tests' local servers (PostgreSQL, gunicorn, vendor simulators) need from the
loopback interface: a free port, a self-signed certificate for 127.0.0.1, and an HTTP server
answering in a thread of its own."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that is free right now (``"0.0.0.0"``: free on every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1, written as PEM files in
    ``directory``; returns (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "cert.pem", directory / "key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


class Serving:
    """``server`` (bound to 127.0.0.1) answering in a thread of its own, over TLS with a
    self-signed certificate (its PEM file is ``certificate_path``) when ``tls``."""

    def __init__(self, server: socketserver.BaseServer, *, tls: bool = False) -> None:
        self.server, self.tls = server, tls
        self.certificate_path: Path | None = None
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="simulator-tls-")
            self.certificate_path, key_path = self_signed(Path(self._tls_dir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certificate_path, key_path)
            server.socket = context.wrap_socket(server.socket, server_side=True)  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def root_url(self) -> str:
        """Scheme, host and port."""
        port = self.server.server_address[1]  # type: ignore[index]
        return f"{'https' if self.tls else 'http'}://{HOST}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
