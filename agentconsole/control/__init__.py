"""The integration layer: a JSON-RPC control socket, its event stream, hooks, auto-answer.

A client of the softphone like the console (DESIGN §0): it holds the phone and its calls
as :class:`~agentconsole.softphone.api.PhoneAPI` / ``SessionAPI`` and follows their
events; it never reaches the SIP core, the media or the console. Importing this package
is light; each part loads what it needs when used.

* :mod:`.protocol` — JSON-RPC 2.0 over newline-delimited UTF-8 lines (sans-IO);
* :mod:`.methods` — the method table (``status``, ``dial``, ``answer`` ...);
* :mod:`.bridge` — phone and session events as ``event`` notifications, in order;
* :mod:`.server` / :mod:`.websocket` — the Unix socket and the optional WebSocket;
* :mod:`.client` and :mod:`.commands` — ``agentconsole ctl``, ``dial`` and ``serve``;
* :mod:`.hooks` — programs and HTTP requests run on named events (their templates:
  :mod:`agentconsole.hook_templates`);
* :mod:`.auto_answer` — answering calls that ask for it, and the agent's auto-answer mode;
* :mod:`.integration` — all of the above attached to one phone.
"""
