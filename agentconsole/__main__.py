"""``python -m agentconsole``: the same as the ``agentconsole`` script."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
