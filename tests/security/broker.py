"""A nats-server of the test's own, secured as `lfr fleet nats-config` says: on a free port,
JetStream in a temporary folder, TLS with a certificate authority made for the test, and
the authorization block the fleet's record gives. Never the shared server on 4222."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lfr.bus.nats_auth import ServerTls

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
START_WAIT_S = 30.0


@dataclass(frozen=True)
class Broker:
    url: str
    ca_file: Path
    config: Path
    tls: ServerTls
    process: subprocess.Popen[bytes]

    def reload(self, authorization: str) -> None:
        """Replace the authorization block and have the server read it again (SIGHUP)."""
        head = self.config.read_text().split("# lfr bus authorization")[0]
        self.config.write_text(head + authorization)
        self.process.send_signal(signal.SIGHUP)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signing_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:  # the authority
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    return builder.sign(signing_key, hashes.SHA256())


def make_tls(folder: Path) -> tuple[ServerTls, Path]:
    """A test authority and a server certificate for 127.0.0.1 signed by it."""
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("lfr test authority", ca_key, None)
    server = _certificate("127.0.0.1", server_key, ("lfr test authority", ca_key))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem_key(server_key))
    return ServerTls(cert_file, key_file), ca_file


@contextmanager
def secured_broker(
    folder: Path, authorization: str, tls: ServerTls, ca_file: Path
) -> Iterator[Broker]:
    """Run nats-server with `authorization` (and its TLS block) until the block ends."""
    port = free_port()
    config = folder / "nats.conf"
    config.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f'jetstream {{ store_dir: "{folder / "jetstream"}" }}\n'
        f"{authorization}"
    )
    log = (folder / "nats.log").open("wb")
    process = subprocess.Popen([NATS_SERVER, "-c", str(config)], stdout=log, stderr=log)
    try:
        _until_listening(port, process, folder / "nats.log")
        yield Broker(f"tls://127.0.0.1:{port}", ca_file, config, tls, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nats-server did not listen within {START_WAIT_S} s")
