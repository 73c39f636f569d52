"""A throw-away agent process for the ``kill -9`` recording test (public API only).

Usage: ``python record_child.py CONFIG.yaml TARGET [SECONDS]``. It registers with the
configuration in CONFIG.yaml, calls TARGET, starts a local recording once audio flows,
writes ``RECORDING <path>`` on its own line to stdout and keeps the call up for
SECONDS (default 30) unless it is killed first, which is the point: the test sends it
SIGKILL and then checks that the WAV it leaves behind is still playable.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agentconsole import Phone, parse_config


async def main(config_path: str, target: str, seconds: float) -> int:
    phone = Phone(parse_config(Path(config_path).read_text()))
    await phone.start()
    try:
        session = await phone.call(target)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while session.media.frames_received < 10:
            if session.is_ended or loop.time() > deadline:
                sys.stdout.write(f"FAILED call status {session.status.call_status}\n")
                sys.stdout.flush()
                return 1
            await asyncio.sleep(0.05)
        if not await session.start_record():
            sys.stdout.write("FAILED start_record\n")
            sys.stdout.flush()
            return 1
        sys.stdout.write(f"RECORDING {session.recording_path}\n")
        sys.stdout.flush()
        await asyncio.sleep(seconds)
        session.hangup()
        return 0
    finally:
        await phone.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        sys.stderr.write(__doc__ or "")
        sys.exit(2)
    sys.exit(asyncio.run(main(args[0], args[1], float(args[2]) if len(args) == 3 else 30.0)))
