"""A stand-in for an HTTPS service whose address is fixed in its client (Apprise's Discord
always posts to https://discord.com): a certificate authority made for the test, a
certificate for the service's host name, and the environment that sends the client's
requests through a local server acting as its HTTPS proxy.

The local server (tests/support/http_capture.py) answers the proxy's CONNECT, speaks TLS
with the made certificate, and records the requests inside as any other. The client checks
the certificate as always, against the test's authority (REQUESTS_CA_BUNDLE): nothing
in the client is switched off or replaced.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.real import missing


@dataclass(frozen=True)
class Authority:
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def proxy_env(self, proxy_url: str) -> dict[str, str]:
        """requests reads these on every request: HTTPS through the proxy, checked against
        the test's authority; plain HTTP to this machine goes direct."""
        return {
            "HTTPS_PROXY": proxy_url,
            "https_proxy": proxy_url,
            "REQUESTS_CA_BUNDLE": str(self.ca),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_authority(directory: Path, *hosts: str) -> Authority:
    """A CA and a certificate it signed for hosts, made with the openssl command."""
    if shutil.which("openssl") is None:
        missing("the openssl command (apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, csr = directory / "server.pem", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=Warden test CA", "-keyout", str(ca_key), "-out", str(ca),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hosts[0]}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    names = ",".join(f"DNS:{h}" for h in hosts)
    ext.write_text(
        f"subjectAltName={names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return Authority(ca=ca, cert=cert, key=key)
