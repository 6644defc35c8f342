"""Helpers shared by the test tiers (standard library only: the Airflow env imports it too)."""

import socket


def free_port() -> int:
    """A TCP port nothing listens on now, for a private service of a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
