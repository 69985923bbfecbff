"""The one exception tree of EVCharging's wire layer.

Every failure that crosses a process boundary is translated into one of these at the edge
(``raise ... from exc``), so callers catch ``WireError`` and never a zmq, Kafka or OSError::

    WireError
    ├── FrameError                 a framed-TCP byte stream that breaks the framing rules
    │   ├── FrameTooLarge          DATA longer than the 1024-byte limit
    │   ├── BadChecksum            LRC does not match DATA
    │   └── MalformedFrame         bytes outside a frame, bad control byte sequence
    ├── MessageError               a frame or ZeroMQ message whose text is not a valid message
    │   ├── UnknownOpcode
    │   └── BadField               a field that is missing, empty or of the wrong form
    ├── SessionError               the framed-TCP session could not do its job
    │   ├── HandshakeRefused       Central answered ENQ with NACK
    │   ├── TooManyAttempts        three NACKs for the same frame
    │   ├── ResponseTimeout        no answer within the deadline
    │   ├── ConnectionLost         the peer closed or the socket failed
    │   ├── CentralMoved           a silent Central's pair partner took over meanwhile
    │   └── UntrustedCertificate   Central's TLS certificate failed verification (CA, host name)
    ├── TlsConfigError             a certificate, key or CA file that cannot be used
    ├── CurveKeyError              a CURVE key file of the engine link missing or unusable
    ├── HealthError                ZeroMQ health check failures (the lazy-pirate client)
    │   └── EngineUnreachable      no reply within the 500 ms deadline
    │       └── EngineHandshakeFailed  the engine's port answered, its CURVE handshake failed
    └── KafkaError                 Kafka could not be reached or refused an operation
        ├── BrokerUnavailable      no broker answered in time
        ├── TopicSetupError        topics could not be created or have the wrong shape
        ├── KafkaAuthError         the broker refused our credentials, TLS or an ACL
        ├── KafkaCredentialsError  a --kafka-credentials file missing or unusable
        └── InvalidEvent           a Kafka value that is not a valid event (bad JSON, unknown type)
"""

from __future__ import annotations


class WireError(Exception):
    """Base of every error raised by ``wire``."""


class FrameError(WireError):
    """The byte stream broke the framing rules."""


class FrameTooLarge(FrameError):
    """DATA exceeded the maximum frame size."""


class BadChecksum(FrameError):
    """The LRC byte did not match DATA."""


class MalformedFrame(FrameError):
    """Bytes that cannot be part of a frame."""


class MessageError(WireError):
    """Text that is not a valid protocol message."""


class UnknownOpcode(MessageError):
    """The opcode (first field) is not one this protocol knows."""


class BadField(MessageError):
    """A field is missing, has the wrong form, or contains a forbidden character."""


class SessionError(WireError):
    """The framed-TCP session failed."""


class HandshakeRefused(SessionError):
    """Central answered the ENQ with NACK."""


class TooManyAttempts(SessionError):
    """The same frame was NACKed three times."""


class ResponseTimeout(SessionError):
    """No answer arrived within the deadline."""


class ConnectionLost(SessionError):
    """The peer closed the connection or the socket failed."""


class CentralMoved(SessionError):
    """While this Central kept silent, the other Central of the pair took over (it accepted
    a session): the monitor leaves the silent one for it instead of waiting out its time-out."""


class UntrustedCertificate(SessionError):
    """Central's TLS certificate is not signed by our CA or does not name the host we dialled.

    Nothing was sent: the monitor refuses to talk over a link it cannot verify."""


class TlsConfigError(WireError):
    """A TLS certificate, key or CA file is missing or unusable (message is for users)."""


class CurveKeyError(WireError):
    """A CURVE key of the monitor ⇄ engine link is missing or unusable (message is for users:
    it names the file and what to do)."""


class HealthError(WireError):
    """The ZeroMQ health check failed."""


class EngineUnreachable(HealthError):
    """The engine did not answer HEALTH within the deadline."""


class EngineHandshakeFailed(EngineUnreachable):
    """No answer, and ZeroMQ saw the security handshake with the engine fail: our CURVE key is
    not one the engine lets in, the engine's public key is not the one we hold, or one side
    runs ``--insecure`` (plain ZeroMQ). The message says which, in words."""


class KafkaError(WireError):
    """Kafka could not do what was asked."""


class BrokerUnavailable(KafkaError):
    """No Kafka broker answered in time."""


class TopicSetupError(KafkaError):
    """Topics could not be created or verified."""


class KafkaAuthError(KafkaError):
    """The broker refused our credentials, our TLS handshake or an operation (ACL)."""


class KafkaCredentialsError(KafkaError):
    """A Kafka credentials file is missing or unusable (message is for users)."""


class InvalidEvent(KafkaError):
    """A Kafka value that is not a valid event."""
