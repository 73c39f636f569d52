"""What the control socket costs: request round trips, event fan-out, and the time the
phone's loop spends handing one event to every client (with one client that never reads).

    .venv/bin/python bench/bench_control.py [--clients 1,10,50] [--events 2000]

An offline phone (no REGISTER, nothing dialled) behind a real Integration on a Unix socket
in a temporary directory; clients are asyncio connections in the same process. Printed:

* ``status p50/p95 ms`` — one client's ``status`` round trips (100 of them) while the other
  clients are connected and subscribed;
* ``publish µs/event`` — the phone-side cost of one event (the bridge builds it and queues
  it for every client): what a pyee handler costs the phone's loop;
* ``fan-out events/s`` — events delivered to every client per second of wall time;
* ``stalled client`` — the same with one more client that subscribed and never reads
  (it is dropped when its queue fills; the others are not slowed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from agentconsole import Config, Phone
from agentconsole.control.integration import Integration


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.events = 0

    @classmethod
    async def open(cls, path: Path) -> Client:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=2**24)
        return cls(reader, writer)

    async def request(self, method: str) -> Any:
        self.writer.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode()
                          + b"\n")
        while True:
            message = json.loads(await self.reader.readline())
            if message.get("id") == 1:
                return message

    async def count_events(self, until: int) -> None:
        while self.events < until:
            message = json.loads(await self.reader.readline())
            if message.get("method") == "event":
                self.events += 1


async def measure(clients: int, events: int, stalled: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="acb-"))
    config = Config.from_mapping({
        "account": {"aor": "sip:1001@127.0.0.1:9", "register": False},
        "sip": {"local_host": "127.0.0.1"}, "audio": {"backend": "null"},
        "control": {"socket": str(tmp / "control.sock")}}, env={})
    phone = Phone(config)
    integration = Integration(phone, config)
    await integration.start()
    try:
        conns = [await Client.open(integration.socket_path) for _ in range(clients)]
        for conn in conns:
            await conn.request("subscribe")
        if stalled:
            _r, silent = await asyncio.open_unix_connection(str(integration.socket_path))
            silent.write(b'{"jsonrpc":"2.0","id":1,"method":"subscribe"}\n')
            await asyncio.sleep(0.1)
        rtts = []
        for _ in range(100):
            start = time.perf_counter()
            await conns[0].request("status")
            rtts.append((time.perf_counter() - start) * 1000)
        readers = [asyncio.create_task(c.count_events(events)) for c in conns]
        start = time.perf_counter()
        spent = 0.0
        for index in range(events):
            t0 = time.perf_counter()
            integration.bridge.publish("agent_state", state="away", reason=f"r{index}")
            spent += time.perf_counter() - t0
            if index % 50 == 0:
                await asyncio.sleep(0)  # let the writers run, as the phone's loop would
        await asyncio.gather(*readers)
        wall = time.perf_counter() - start
        for conn in conns:
            conn.writer.close()
        return {"p50": statistics.median(rtts), "p95": sorted(rtts)[94],
                "publish_us": spent / events * 1e6, "rate": events / wall}
    finally:
        await integration.stop()
        await phone.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'clients':>8} {'stalled':>8} {'status p50 ms':>14} {'p95 ms':>8} "
          f"{'publish µs/event':>17} {'fan-out events/s':>17}")
    for count in (int(c) for c in args.clients.split(",")):
        for stalled in (False, True):
            row = asyncio.run(measure(count, args.events, stalled))
            print(f"{count:>8} {'yes' if stalled else 'no':>8} {row['p50']:>14.2f} "
                  f"{row['p95']:>8.2f} {row['publish_us']:>17.1f} {row['rate']:>17.0f}")


if __name__ == "__main__":
    main()
