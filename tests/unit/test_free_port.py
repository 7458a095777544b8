"""free_port() hands out ports that outgoing connections cannot take meanwhile.

A port from the kernel's ephemeral range is also the local port the kernel gives to the next
outgoing connection (a test's HTTP client, paho, the InfluxDB writer): between free_port()
closing its probe and the service binding the port, one of those can take it, and the bind
fails with "address already in use" (CI, stop 20: test_portal's web server on 43053).
"""

import socket

from ioc.private_services import ephemeral_ports, free_port


def test_free_ports_lie_outside_the_ephemeral_range() -> None:
    low, high = ephemeral_ports()
    for _ in range(200):
        port = free_port()
        assert not low <= port <= high
        assert 1024 <= port < 65536


def test_a_port_in_use_is_not_handed_out() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        assert free_port(preferred=taken) != taken
        assert all(free_port() != taken for _ in range(200))


def test_a_free_preferred_port_is_kept() -> None:
    port = free_port()
    assert free_port(preferred=port) == port
