"""Argument types shared by every program's command line.

Addresses, ports and numbers are checked the same way everywhere, so a typo gets the same
clear argparse error from EV_Central, EV_CP_E, EV_CP_M and EV_Driver.
"""

from __future__ import annotations

import argparse


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def host_and_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets: ``[::1]:9092``)."""
    host, sep, number = text.rpartition(":")
    if not sep or not host or not number.isdigit() or any(c.isspace() for c in host):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, port(number)


def host_port(text: str) -> str:
    """``HOST:PORT`` checked, kept as text (a Kafka bootstrap address)."""
    host_and_port(text)
    return text


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value
