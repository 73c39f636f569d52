"""Place or answer one call with the public API and print what happens.

    python examples/call.py agent.yaml 1002            # dial 1002, talk 8 s, hang up
    python examples/call.py agent.yaml --answer        # wait for a call, answer it

With ``audio: {backend: file, file_out: heard.wav}`` in the config it also prints the
dominant frequency of what the agent heard (a tone from the other side shows up here).
"""

from __future__ import annotations

import argparse
import asyncio
import wave

from agentconsole import Phone, load_config
from agentconsole.media.tone import dominant_frequency


async def main(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    phone = Phone(config)
    await phone.start()
    print("registered:", phone.is_registered, "| audio:", phone.audio_notice or "ok")
    if args.answer:
        incoming: asyncio.Queue = asyncio.Queue()
        phone.on("incoming", incoming.put_nowait)
        session = await asyncio.wait_for(incoming.get(), args.wait)
        print(f"incoming call from {session.status.name} <{session.status.number}>")
        await session.answer()
    else:
        session = await phone.call(args.number)
        session.on("progress", lambda code: print("progress", code))
    done = asyncio.Event()
    session.on("confirmed", lambda s: print("talking, codec", s.status.codec))
    session.on("call_report", lambda r: print(
        f"report: codec={r.audio_codec} rx={r.audio_rx} tx={r.audio_tx} "
        f"loss={r.audio_rx_lost} jitter={r.audio_rx_avg_jitter}ms mos={r.mos}"))
    session.on("ended", lambda info: (print("ended:", info["cause"]), done.set()))
    session.on("failed", lambda info: (print("failed:", info["code"], info["cause"]),
                                       done.set()))
    try:
        await asyncio.wait_for(done.wait(), args.seconds)
    except TimeoutError:
        session.hangup()
        print("hung up after", args.seconds, "s")
    await phone.stop()
    heard = config.audio.file_out
    if config.audio.backend == "file" and heard:
        with wave.open(heard, "rb") as w:
            rate = w.getframerate()
            w.setpos(min(rate, w.getnframes()))
            frames = w.readframes(rate)
        samples = list(memoryview(frames).cast("h"))
        print(f"heard: ~{dominant_frequency(samples, rate):.0f} Hz")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config")
    parser.add_argument("number", nargs="?", default="")
    parser.add_argument("--answer", action="store_true", help="wait for a call and answer it")
    parser.add_argument("--seconds", type=float, default=8.0, help="talk this long")
    parser.add_argument("--wait", type=float, default=60.0, help="--answer: wait this long")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
