"""The sans-IO JSON-RPC line protocol: framing, decoding, encoding, error objects."""

from __future__ import annotations

import json

import pytest

from agentconsole.control.protocol import (
    ErrorResponse,
    Invalid,
    LineDecoder,
    LineTooLong,
    Notification,
    Request,
    Response,
    decode_message,
    decode_request,
    encode,
)
from agentconsole.control.targets import TargetError, dial_target
from agentconsole.hook_templates import render, template_error


def test_lines_are_cut_at_newlines_across_chunks() -> None:
    decoder = LineDecoder(max_line=10)
    assert decoder.feed(b"ab") == []
    assert decoder.feed(b"c\nde\n\nf") == [b"abc", b"de", b""]
    assert decoder.finish() == [b"f"]
    assert decoder.finish() == []


def test_an_overlong_line_is_reported_once_and_skipped_to_its_end() -> None:
    decoder = LineDecoder(max_line=4)
    assert decoder.feed(b"123") == []
    assert decoder.feed(b"456789") == []
    assert decoder.feed(b"0\nok\n") == [LineTooLong(10, 4), b"ok"]
    assert decoder.feed(b"toolong") == [] and decoder.finish() == [LineTooLong(7, 4)]


def test_requests_notifications_and_their_defaults() -> None:
    assert decode_request(b'{"jsonrpc":"2.0","id":7,"method":"hold","params":{"call_id":"x"}}') \
        == Request("hold", {"call_id": "x"}, 7)
    assert decode_request(b'{"jsonrpc":"2.0","id":"a","method":"status"}') \
        == Request("status", {}, "a")
    assert decode_request(b'{"jsonrpc":"2.0","method":"status","params":null}') \
        == Request("status", {}, None, notification=True)
    assert decode_request(b"   ") is None


@pytest.mark.parametrize(("line", "code", "request_id"), [
    (b"{", -32700, None),
    (b"\xc3\x28", -32700, None),
    (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":Infinity}}', -32700, None),
    (b"[]", -32600, None),
    (b"3", -32600, None),
    (b'{"jsonrpc":"2.0","id":{},"method":"x"}', -32600, None),
    (b'{"id":4,"method":"x"}', -32600, 4),
    (b'{"jsonrpc":"2.0","id":5,"method":""}', -32600, 5),
    (b'{"jsonrpc":"2.0","id":6,"method":"x","params":[1]}', -32602, 6),
])
def test_invalid_lines_say_which_error_to_answer(line: bytes, code: int,
                                                 request_id: object) -> None:
    result = decode_request(line)
    assert isinstance(result, Invalid) and result.code == code and result.id == request_id


def test_a_notification_with_positional_params_is_not_answered() -> None:
    result = decode_request(b'{"jsonrpc":"2.0","method":"x","params":[1]}')
    assert isinstance(result, Invalid) and result.silent


def test_messages_encode_as_one_utf8_line_and_decode_back() -> None:
    for message in (Response(1, {"name": "Zoë", "n": 1.5}),
                    ErrorResponse(2, -211, "No call with that id", {"title": "Error"}),
                    ErrorResponse(None, -32700, "parse error"),
                    Notification("event", {"event": "incoming", "call_id": "c1"})):
        line = encode(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line)["jsonrpc"] == "2.0"
        assert decode_message(line.rstrip(b"\n")) == message
    assert b"Zo\xc3\xab" in encode(Response(1, "Zoë"))
    assert json.loads(encode(ErrorResponse(3, -1, "m")))["error"] == {"code": -1, "message": "m"}
    assert json.loads(encode(Request("status", {}, 9))) == {
        "jsonrpc": "2.0", "method": "status", "id": 9}


def test_browser_and_crm_dial_targets_become_numbers() -> None:
    assert dial_target("tel:+1-555-010-0101;phone-context=example.com") == "+15550100101"
    assert dial_target("callto://+1 (555) 0100/") == "+15550100"
    assert dial_target("callto:2001") == "2001"
    assert dial_target("TEL:%2B44.20.7946.0000") == "+442079460000"
    assert dial_target(" 600 ") == "600"
    assert dial_target("sip:1002@pbx.example.com;transport=tcp") == \
        "sip:1002@pbx.example.com;transport=tcp"
    assert dial_target("alice") == "alice"
    for bad in ("", "  ", "http://evil.example", "12\n3", "two words"):
        with pytest.raises(TargetError):
            dial_target(bad)


def test_templates_substitute_known_names_and_encode_values() -> None:
    values = {"number": "+1 555", "name": "O'Brien & Co"}
    assert render("{number}/{name}/{{x}}", values) == "+1 555/O'Brien & Co/{x}"
    assert render("q={name}", values, encode=lambda v: v.replace(" ", "%20")) == \
        "q=O'Brien%20&%20Co"
    assert template_error("{number} {name}") is None
    assert "unknown variable {nmber}" in (template_error("{nmber}") or "")
    assert "unmatched" in (template_error("{number") or "")
    assert "unknown variable {__class__}" in (template_error("{__class__}") or "")
