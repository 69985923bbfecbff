"""TLS contexts for the monitor ⇄ Central link (docs/security.md, layer 4).

Central presents a certificate issued by the network's private CA (``wire.pki``); a monitor
verifies it against that CA *and* the host name it dialled, and refuses to talk otherwise.
The framing of PROTOCOL.md §1 is unchanged inside TLS.

- Server: TLS 1.2 or newer (1.3 is negotiated by every client of ours), ECDHE with AEAD
  ciphers only for 1.2. The certificate is ECDSA P-256 (``wire.pki``): the cheapest full
  handshake, which matters when 10,000 monitors reconnect after a Central restart.
- Session resumption: OpenSSL's server issues TLS 1.3 session tickets (two per handshake by
  default), encrypted with keys that live in this process's ``SSLContext`` only. A monitor
  keeps its ``ssl.SSLSession`` across reconnections (``CentralClient.tls_session``) and
  resumes with it while the same Central process runs; after a Central restart the keys are
  new, the old tickets are refused, and every monitor does one full handshake again.
- Client: ``ssl.create_default_context(cafile=CA)`` (certificate and host-name checks on;
  only our CA is trusted, not the system's store).

Unusable files raise ``TlsConfigError`` with a message for users.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from wire.errors import TlsConfigError

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
# TLS 1.2 only: forward-secret key exchange and AEAD ciphers (TLS 1.3 suites are all AEAD).
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def _readable(path: Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise TlsConfigError(f"{what} {path} does not exist")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise TlsConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    return path


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """Central's context: its certificate chain and private key; TLS 1.2+. With
    ``client_ca`` (EV_OCPP in OCPP security profile 3) every client must present a
    certificate issued by that CA, or the handshake fails."""
    cert_path = _readable(cert, "TLS certificate")
    key_path = _readable(key, "TLS private key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"cannot use the TLS certificate {cert_path} with the key {key_path}: "
            f"{exc.reason or exc} (not PEM, or the key does not match the certificate)"
        ) from exc
    if client_ca is not None:
        ca_path = _readable(client_ca, "CA certificate")
        try:
            context.load_verify_locations(cafile=str(ca_path))
        except ssl.SSLError as exc:
            raise TlsConfigError(
                f"cannot use the CA certificate {ca_path}: {exc.reason or exc}"
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def peer_common_name(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The common name of the certificate the peer presented (and the handshake verified),
    or None without one."""
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A monitor's context: trusts only ``ca_file``; checks the certificate and host name."""
    ca_path = _readable(ca_file, "CA certificate")
    try:
        context = ssl.create_default_context(cafile=str(ca_path))
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"cannot use the CA certificate {ca_path}: {exc.reason or exc}"
        ) from exc
    context.minimum_version = MINIMUM_VERSION
    return context


def describe_verify_error(exc: ssl.SSLCertVerificationError) -> str:
    """The reason OpenSSL gives ("unable to get local issuer certificate", "Hostname
    mismatch, certificate is not valid for 'x'."), without the error-code noise."""
    return str(exc.verify_message or exc.reason or exc).rstrip(".")
