// Drives the official Socket.IO client for server/tests/socketio.rs:
//
//   node bridge.mjs URL [TRANSPORTS]
//
// TRANSPORTS is the client's `transports` option as a comma-separated list:
// "websocket" (the default), "polling", or "polling,websocket" (long-polling,
// then the upgrade). Every `message` event the server emits is printed on
// stdout as one JSON line; every JSON line read on stdin is emitted as a
// `message` event. The bridge's own lines have a type starting `bridge_`:
//
//   {"type":"bridge_connected","id":...,"transport":...}
//   {"type":"bridge_disconnected","reason":...,"detail":...}  then it exits
//   {"type":"bridge_error","message":...}  a failed connect (then it exits)
//                                          or a stdin line that is not JSON
//
// One stdin line is for the bridge itself: {"type":"bridge_stall","ms":N}
// blocks its event loop for N ms, like a frozen browser tab: it neither
// reads nor polls, so the server's buffers for it fill up. Closing stdin
// disconnects the client and ends the bridge.

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, transportArg = "websocket"] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node bridge.mjs URL [websocket|polling|polling,websocket]\n");
  process.exit(2);
}
const transports = transportArg.split(",").map((t) => t.trim()).filter(Boolean);

const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");

// Stdout to a pipe may be written asynchronously: exit only once the last
// line (and so every line before it) has been flushed.
let finished = false;
const finish = (value, code) => {
  if (!finished) {
    finished = true;
    process.stdout.write(JSON.stringify(value) + "\n", () => process.exit(code));
  }
};

// No reconnection: a test must see a dropped connection, not a silent new session.
const socket = io(url, { transports, reconnection: false, forceNew: true });

socket.on("connect", () => {
  print({ type: "bridge_connected", id: socket.id, transport: socket.io.engine.transport.name });
});
socket.on("message", (payload) => print(payload));
socket.on("connect_error", (error) => {
  finish({ type: "bridge_error", message: `connect failed: ${error.message}` }, 1);
});
socket.on("disconnect", (reason, details) => {
  // For transport errors, `details` says what the transport saw.
  const detail = details?.description?.message ?? details?.description ?? details?.message;
  finish({ type: "bridge_disconnected", reason, ...(detail ? { detail: String(detail) } : {}) }, 0);
});

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() === "") {
    return;
  }
  let payload;
  try {
    payload = JSON.parse(line);
  } catch (error) {
    print({ type: "bridge_error", message: `stdin line is not JSON: ${error.message}` });
    return;
  }
  if (payload?.type === "bridge_stall") {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(payload.ms) || 0);
    return;
  }
  // Emitted before `connect` is buffered by the client and sent once connected.
  socket.emit("message", payload);
});
lines.on("close", () => {
  // Fires `disconnect` (which ends the bridge) only if connected.
  socket.disconnect();
  finish({ type: "bridge_disconnected", reason: "io client disconnect" }, 0);
});
