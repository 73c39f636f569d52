#!/usr/bin/env node
// A minimal CRM integration for agentconsole, written only against the control socket's
// contract (README "Integration"): JSON-RPC 2.0, one JSON object per line, on a Unix socket.
//
//   node examples/crm.js [--socket PATH] [--crm URL] [--log FILE] [--open]
//
// It watches the agent (registration, agent state), pops the caller's record when a call
// rings (prints the CRM link; --open hands it to xdg-open), logs every call's end and every
// wrap-up as JSON lines (--log, default crm-calls.log), and takes commands on stdin, the way
// a CRM page's buttons would send them:
//
//   dial NUMBER                click-to-dial
//   hangup | answer | hold | unhold
//   wrapup CODE [NOTES...]     file the wrap-up of the last call (agentconsole serve)
//   status                     print the agent's calls
//
// Node.js 18 or later; nothing to install.

"use strict";

const net = require("net");
const fs = require("fs");
const os = require("os");
const path = require("path");
const readline = require("readline");
const { execFile } = require("child_process");

function defaultSocket() {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, "agentconsole", "control.sock");
  return path.join(process.env.TMPDIR || "/tmp", `agentconsole-${os.userInfo().uid}`, "control.sock");
}

function parseArgs(argv) {
  const options = { socket: defaultSocket(), crm: "https://crm.example.com/contacts?phone=",
                    log: "crm-calls.log", open: false };
  const usage = "usage: crm.js [--socket PATH] [--crm URL] [--log FILE] [--open]";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      console.log(`${usage}\nstdin: dial NUMBER | answer | hangup | hold | unhold | ` +
                  "wrapup CODE [NOTES] | status");
      process.exit(0);
    } else if (arg === "--open") options.open = true;
    else if (["--socket", "--crm", "--log"].includes(arg) && i + 1 < argv.length) {
      options[arg.slice(2)] = argv[++i];
    } else {
      console.error(`${usage} (bad: ${arg})`);
      process.exit(2);
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const socket = net.createConnection(options.socket);
const pending = new Map(); // request id -> {resolve, reject}
let nextId = 1;
let buffer = "";

function say(text) {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

function call(method, params = {}) {
  const id = nextId++;
  socket.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function logLine(record) {
  fs.appendFileSync(options.log, JSON.stringify(record) + "\n");
}

function who(e) {
  return e.name && e.name !== e.number ? `${e.name} <${e.number}>` : e.number;
}

function onEvent(e) {
  switch (e.event) {
    case "registered":
    case "unregistered":
    case "registration_failed":
      say(`agent ${e.event}${e.cause ? ": " + e.cause : ""}`);
      break;
    case "agent_state":
      say(`agent is ${e.state}${e.reason ? " (" + e.reason + ")" : ""}`);
      break;
    case "incoming": {
      const url = options.crm + encodeURIComponent(e.number);
      say(`POP ${who(e)}${e.company ? " of " + e.company : ""}, queue ${e.queue || "-"}, ` +
          `dialled ${e.did || "-"}: ${url}`);
      if (options.open) execFile("xdg-open", [url], () => {});
      break;
    }
    case "outgoing":
      say(`calling ${who(e)} (${e.call_id})`);
      break;
    case "confirmed":
      say(`talking with ${who(e)}`);
      break;
    case "ended":
    case "failed":
      say(`call with ${who(e)} over: ${e.cause} after ${Math.round(e.duration || 0)} s`);
      logLine({ type: "call", call_id: e.call_id, direction: e.direction, number: e.number,
                name: e.name, queue: e.queue, answered: Boolean(e.answer_time),
                cause: e.cause, code: e.code, duration: e.duration, at: e.time });
      break;
    case "wrapup":
      say(`wrap-up of ${who(e)}: ${e.wrapup_code || "(no code)"}${e.notes ? " - " + e.notes : ""}`);
      logLine({ type: "wrapup", call_id: e.call_id, number: e.number, code: e.wrapup_code,
                notes: e.notes, at: e.time });
      break;
    case "hook_failed":
      say(`a hook failed: ${e.error}`);
      break;
  }
}

socket.on("data", (chunk) => {
  buffer += chunk.toString("utf8");
  let cut;
  while ((cut = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, cut);
    buffer = buffer.slice(cut + 1);
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    if (message.method === "event") {
      onEvent(message.params);
    } else if (pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(`${message.error.message} (${message.error.code})`));
      else resolve(message.result);
    }
  }
});

socket.on("error", (err) => {
  console.error(`crm.js: cannot talk to agentconsole at ${options.socket}: ${err.message}`);
  process.exit(1);
});
socket.on("close", () => {
  say("agentconsole went away");
  process.exit(0);
});

async function command(line) {
  const [verb, ...rest] = line.trim().split(/\s+/);
  if (!verb) return;
  try {
    if (verb === "dial") {
      const result = await call("dial", { number: rest.join(" ") });
      say(`dialled ${result.number}: call ${result.call_id}`);
    } else if (["hangup", "answer", "hold", "unhold"].includes(verb)) {
      const result = await call(verb);
      say(`${verb}: ${who(result)} is ${result.is_hold ? "on hold" : result.call_status}`);
    } else if (verb === "wrapup") {
      const result = await call("wrapup", { code: rest[0] || "", notes: rest.slice(1).join(" ") });
      say(`filed the wrap-up of call ${result.call_id}`);
    } else if (verb === "status") {
      const status = await call("status");
      say(`agent ${status.agent_state.state}, ${status.calls.length} call(s): ` +
          status.calls.map((c) => `${who(c)} ${c.is_ring ? "ringing" : c.call_status}`)
            .join(", "));
    } else {
      say(`unknown command ${verb}`);
    }
  } catch (err) {
    say(`${verb} refused: ${err.message}`);
  }
}

socket.on("connect", async () => {
  const status = await call("status");
  say(`connected to ${status.account}: ${status.registered ? "registered" : "not registered"}, ` +
      `agent ${status.agent_state.state}`);
  const subscribed = await call("subscribe", {
    events: ["registered", "unregistered", "registration_failed", "agent_state", "incoming",
             "outgoing", "confirmed", "ended", "failed", "wrapup", "hook_failed"] });
  say(`subscribed to ${subscribed.events.length} events; logging calls to ${options.log}`);
  const input = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  input.on("line", (line) => { queue = queue.then(() => command(line)); });
});
