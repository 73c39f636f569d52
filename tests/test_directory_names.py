"""An outbound call to a number in the configured directory shows the directory's name."""

from __future__ import annotations

from pathlib import Path

from tests.test_two_phones import make_pair


async def test_outbound_call_takes_name_and_company_from_the_directory(tmp_path: Path) -> None:
    extra = ("calls:\n  dial_rate_limit_s: 0\n"
             "directory:\n  - {name: Bob Builder, number: \"1002\", company: Fixit Ltd}\n")
    a, b, target = await make_pair(tmp_path, calls_a=extra)
    try:
        session = await a.call(target)
        assert session.status.number == "1002"
        assert session.status.name == "Bob Builder" and session.status.company == "Fixit Ltd"
        session.hangup()
    finally:
        await a.stop()
        await b.stop()
