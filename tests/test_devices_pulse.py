"""``phone.devices`` on a PulseAudio server (audio over SSH): the devices a client lists,
tests and meters are the server's, and the route a header shows follows the server.

The backend is the real :class:`PulseBackend` on fake streams (tests/media/
test_audio_pulse.py) and a fake device list; tests/e2e/test_audio_over_ssh.py runs the
same path against a real daemon through a real SSH tunnel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentconsole import Phone, parse_config
from agentconsole.media import audio_pulse
from agentconsole.media.audio_base import DeviceInfo
from agentconsole.media.audio_pulse import HOSTAPI, PulseBackend, id_key
from agentconsole.softphone.api import AudioRoute
from tests.media.test_audio_pulse import NOWHERE, RATE, Streams, tone_frame
from tests.waiting import wait_until

SINK = DeviceInfo(3, "Headset", HOSTAPI, 0, 2, 48000.0, is_default_output=True)
SOURCE = DeviceInfo(3, "Headset microphone", HOSTAPI, 1, 0, 48000.0, is_default_input=True)
NAMES = {id_key(SINK): "alsa_output.headset", id_key(SOURCE): "alsa_input.headset"}


@pytest.fixture
async def phone(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Phone, Streams]]:
    monkeypatch.setattr(audio_pulse, "list_pulse_devices",
                        lambda server: ([SINK, SOURCE], dict(NAMES)))
    streams = Streams()
    backend = PulseBackend(NOWHERE, rate=RATE, via_ssh=True, stream_factory=streams)
    phone = Phone(parse_config('account: {aor: "sip:1001@127.0.0.1", register: false}\n',
                               env={}))
    phone.devices.use(backend)
    try:
        yield phone, streams
    finally:
        streams.tick(1000)  # unblock a thread waiting in a fake write/read
        await backend.close()


async def test_the_devices_are_the_servers(phone: tuple[Phone, Streams]) -> None:
    devices = phone[0].devices
    assert devices.available() == [SINK, SOURCE]
    assert devices.rescan() == [SINK, SOURCE]
    assert devices.name == "pulse" and "SSH tunnel" in devices.description


async def test_tone_and_meter_go_to_the_chosen_sink_and_source(
        phone: tuple[Phone, Streams]) -> None:
    devices, streams = phone[0].devices, phone[1]
    streams.tick(100)  # the server takes the tone's writes at once
    devices.play_test_tone(SINK, 0.1)
    tone = next(s for s in streams.opened if s.direction == "playback")
    assert tone.device == "alsa_output.headset" and tone.closed and any(tone.written)
    meter = devices.open_meter(SOURCE)
    try:
        record = next(s for s in streams.opened if s.direction == "record")
        assert record.device == "alsa_input.headset"
        streams.tick(3)
        await wait_until(lambda: (meter.level() or 0) > 0.3, 5, "the meter to read the tone")
    finally:
        streams.tick(10)
        meter.close()


async def test_the_route_follows_the_server(phone: tuple[Phone, Streams]) -> None:
    the_phone, streams = phone
    devices = the_phone.devices
    assert devices.route == AudioRoute("pulse via SSH tunnel", "pulse/ssh")
    assert not devices.silent and the_phone.audio_notice is None
    streams.down = True  # the SSH session, and its tunnel, went
    devices.open().play(tone_frame(440))
    await wait_until(lambda: devices.silent, 5, "the lost server noticed")
    assert devices.route is None
    assert (the_phone.audio_notice or "").startswith("no audio device")
    streams.down = False  # back with the next SSH session
    for n in range(1, 4):
        devices.open().play(tone_frame(440, n))
    await wait_until(lambda: not devices.silent, 5, "the server answering again")
    assert devices.route is not None


async def test_a_sound_card_has_no_route_to_tell() -> None:
    from agentconsole.media.audio import NullBackend

    phone = Phone(parse_config('account: {aor: "sip:1001@127.0.0.1", register: false}\n',
                               env={}))
    assert phone.devices.route is None and not phone.devices.silent  # nothing open yet
    phone.devices.use(NullBackend())
    assert phone.devices.route is None and phone.devices.silent  # heard nowhere
