"""Register an account and print what happens: `python examples/register.py agent.yaml`."""

import asyncio
import sys

from agentconsole import Phone, load_config


async def main(path: str) -> None:
    phone = Phone(load_config(path))
    phone.on("registered", lambda expires: print(f"registered for {expires} s"))
    phone.on("registration_failed", lambda f: print(f"failed: {f.code} {f.cause}"))
    await phone.start()
    print("is_registered:", phone.is_registered)
    await phone.stop()


asyncio.run(main(sys.argv[1]))
