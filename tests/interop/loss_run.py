"""Calls straight to the UA with random UDP loss, run inside a private network namespace.

``unshare -n -- python -m tests.interop.loss_run --calls 200 --loss 0.2 --out R.json``
(as root; :mod:`tests.interop.test_loss_udp` does it): inside the namespace only ``lo``
exists, brought up here, and two ``iptables -m statistic`` rules drop each datagram to
or from the UA's port with the given probability (every datagram on ``lo`` passes INPUT
once, so the two rules cover both directions). The UA (a :class:`Phone` on UDP, no
registrar) answers every call and hangs up a second later; SIPp places the calls with
a WebRTC offer (``uac-webrtc-answered.xml``) and counts a call successful only when the
UA's BYE reached it. Everything — UA, SIPp, the loss — lives in the namespace and dies
with it, so the machine's loopback and the rig's ports are untouched.

The result (SIPp's counters and what the UA saw of each call) is written as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from agentconsole import Phone, parse_config

UA_PORT = 5070
SIPP_PORT = 5061
TALK_S = 1.0
SCENARIO = Path(__file__).parent / "rig" / "sipp" / "uac-webrtc-answered.xml"

UA_CONFIG = f"""
account:
  aor: "sip:1001@127.0.0.1"
  transport: udp
  register: false
sip:
  local_host: 127.0.0.1
  local_port: {UA_PORT}
calls:
  max_calls: 100
  auto_hold: false
  no_answer_s: 0
media:
  host_addresses: ["127.0.0.1"]
audio:
  backend: "null"
"""


def run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=10)


def drop_datagrams(probability: float) -> None:
    """``lo`` up, and random loss on every datagram to or from the UA's port."""
    run("ip", "link", "set", "lo", "up")
    iptables = shutil.which("iptables") or "/usr/sbin/iptables"
    for match in ("--dport", "--sport"):
        run(iptables, "-A", "INPUT", "-i", "lo", "-p", "udp", match, str(UA_PORT),
            "-m", "statistic", "--mode", "random", "--probability", f"{probability}",
            "-j", "DROP")


async def webrtc_offer() -> str:
    """A real WebRTC offer (aiortc's), CRLF-free for the scenario file; its media
    endpoint is gone by the time the UA answers, which only the media would notice."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return "\n".join(line for line in sdp.splitlines() if line)


class Ledger:
    """What the UA saw of each call, from its own SIP trace and Session events."""

    def __init__(self) -> None:
        self.incoming = 0
        self.causes: Counter[str] = Counter()
        self.bye_finals: dict[str, int] = {}
        self.errors: list[str] = []

    def trace(self, entry: Any) -> None:
        text = entry.data.decode("utf-8", "replace")
        if entry.direction != "in" or not text.startswith("SIP/2.0 "):
            return
        if re.search(r"^CSeq: \d+ BYE", text, re.M):
            call_id = re.search(r"^Call-ID: (.*)$", text, re.M)
            if call_id:
                self.bye_finals.setdefault(call_id.group(1).strip(), int(text[8:11]))


async def take_calls(phone: Phone, ledger: Ledger) -> set[asyncio.Task[None]]:
    tasks: set[asyncio.Task[None]] = set()

    async def answer_then_hang_up(session: Any) -> None:
        session.on("ended", lambda info: ledger.causes.update([info["cause"]]))
        session.on("failed", lambda info: ledger.causes.update([f"failed: {info['cause']}"]))
        try:
            await session.answer()
            await asyncio.sleep(TALK_S)
            session.hangup()
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            ledger.errors.append(repr(exc))

    def on_incoming(session: Any) -> None:
        ledger.incoming += 1
        task = asyncio.get_running_loop().create_task(answer_then_hang_up(session))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    phone.on("incoming", on_incoming)
    return tasks


def sipp_command(scenario: Path, work: Path, calls: int, rate: float) -> list[str]:
    sipp = shutil.which("sipp") or "/usr/bin/sipp"
    return [sipp, f"127.0.0.1:{UA_PORT}", "-sf", str(scenario), "-s", "1001",
            "-i", "127.0.0.1", "-p", str(SIPP_PORT), "-mp", "6400", "-m", str(calls),
            "-r", str(rate), "-l", "200", "-max_invite_retrans", "9",
            "-recv_timeout", "60000", "-nostdin", "-timeout", "600s",
            "-trace_screen", "-screen_file", str(work / "screen.log"),
            "-trace_err", "-error_file", str(work / "errors.log")]


def sipp_counts(work: Path, output: str) -> dict[str, int]:
    screen = (work / "screen.log").read_text(errors="replace") \
        if (work / "screen.log").exists() else ""
    counts = {}
    for name in ("Successful call", "Failed call"):
        found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", screen + output)
        counts[name.split()[0].lower()] = int(found[-1]) if found else -1
    return counts


async def main(args: argparse.Namespace) -> dict[str, Any]:
    drop_datagrams(args.loss)
    work = Path(tempfile.mkdtemp(prefix="loss-run-"))
    scenario = work / "scenario.xml"
    scenario.write_text(SCENARIO.read_text().replace("@SDP@", await webrtc_offer()))
    ledger = Ledger()
    phone = Phone(parse_config(UA_CONFIG), trace=ledger.trace)
    await phone.start()
    tasks = await take_calls(phone, ledger)
    proc = await asyncio.create_subprocess_exec(
        *sipp_command(scenario, work, args.calls, args.rate), cwd=work,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate()
    while phone.sessions or tasks:  # calls whose BYE is still being retransmitted
        await asyncio.sleep(0.5)
    await phone.stop()
    text = output.decode(errors="replace")
    return {
        "calls": args.calls, "loss": args.loss, "sipp_rc": proc.returncode,
        "sipp": sipp_counts(work, text), "ua_incoming": ledger.incoming,
        "ua_causes": dict(ledger.causes), "ua_errors": ledger.errors[:10],
        "bye_finals": dict(Counter(ledger.bye_finals.values())),
        "sipp_errors": (work / "errors.log").read_text(errors="replace")[-3000:]
        if (work / "errors.log").exists() else "",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--loss", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    result = asyncio.run(main(parser.parse_args()))
    args_out = parser.parse_args().out
    args_out.write_text(json.dumps(result, indent=2))
    sys.exit(0)
