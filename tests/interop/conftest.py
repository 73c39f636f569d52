"""Fixtures that bring up real third-party peers for the interop tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .rig import Kamailio, RtpEngine, rig_lock


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/interop/" in str(item.fspath):
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    """A Kamailio registrar/proxy on 127.0.0.1 (UDP/TCP 5060, WS 8080, WSS 8443)."""
    with rig_lock():
        kam = Kamailio(Path(tmp_path_factory.mktemp("kamailio")))
        kam.start()
        try:
            yield kam
        finally:
            kam.stop()


@pytest.fixture(scope="module")
def kamailio_rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    """Kamailio with rtpengine: calls between WebSocket and plain-RTP users are anchored
    in rtpengine (ICE + DTLS-SRTP on one side, RTP/AVP on the other)."""
    with rig_lock():
        run = Path(tmp_path_factory.mktemp("rig-media"))
        rtpengine = RtpEngine(run)
        rtpengine.start()
        kam = Kamailio(run, rtpengine=True)
        kam.start()
        try:
            yield kam
        finally:
            kam.stop()
            rtpengine.stop()
