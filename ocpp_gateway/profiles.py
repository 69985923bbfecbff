"""OCPP 1.6 security profiles (OCPP 1.6 security whitepaper, edition 3) as EV_OCPP serves
them, without a proxy (docs/ocpp.md):

=====  =========================  ====================================================
  1    ``ws://``, basic auth      the charger's password (``evc-admin ocpp password``);
                                  crosses the network in clear: a trusted network only
  2    ``wss://``, basic auth     the same password, inside TLS; the gateway's server
                                  certificate is issued by the project's private CA
                                  (``ocpp.pem``) or given (``--ocpp-cert``/``--ocpp-key``)
  3    ``wss://``, client cert    each charger presents a certificate issued by the CA
                                  (``evc-admin ocpp cert ID``) whose common name is its
                                  charge point id; an untrusted certificate fails the
                                  handshake, another charger's is answered 403
=====  =========================  ====================================================

EV_OCPP's default is 2 (1 with ``--insecure``, the development mode): a charger's password
never travels in clear unless the operator says so.
"""

from __future__ import annotations

from enum import IntEnum

from cp_core.passwords import CHARGE_POINT_ID

__all__ = ["CHARGE_POINT_ID", "SecurityProfile", "certificate_refusal"]


class SecurityProfile(IntEnum):
    BASIC_AUTH = 1
    TLS_BASIC_AUTH = 2
    TLS_CLIENT_CERTIFICATE = 3

    @property
    def tls(self) -> bool:
        return self is not SecurityProfile.BASIC_AUTH

    @property
    def client_certificates(self) -> bool:
        return self is SecurityProfile.TLS_CLIENT_CERTIFICATE

    @property
    def scheme(self) -> str:
        return "wss" if self.tls else "ws"

    @property
    def described(self) -> str:
        return {
            SecurityProfile.BASIC_AUTH: "security profile 1: basic auth, no TLS",
            SecurityProfile.TLS_BASIC_AUTH: "security profile 2: TLS, basic auth",
            SecurityProfile.TLS_CLIENT_CERTIFICATE: "security profile 3: TLS, client certificates",
        }[self]


def certificate_refusal(cp_id: str, common_name: str | None) -> str | None:
    """Why a verified client certificate may not open ``/ocpp/<cp_id>`` (None: it may): its
    common name must be the charge point id, so one charger's certificate cannot speak for
    another."""
    if common_name is None:
        return "no client certificate"
    if common_name != cp_id:
        return f"the client certificate names {common_name!r}, not {cp_id!r}"
    return None
