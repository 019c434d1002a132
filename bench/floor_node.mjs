// The Node.js floor: a bare socket.io server (the reference implementation), no app, no database, with the same HTTP
// interface as bench/floor_server.py, so the benchmarks drive both the same way.
//
//   node bench/floor_node.mjs PORT
//
// Clients connect (any auth) and join the room named by `?event=` in their query (the event slug, as the pages send
// it; "all" without one) and get a `snapshot` {v: 0}. `POST /go?room=R&size=N&v=V` emits one `state` frame of about
// N bytes to room R; `GET /healthz` answers {"ok": true}.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const ok = (res) => { res.writeHead(200, { "Content-Type": "application/json" }); res.end('{"ok": true}'); };

const http = createServer((req, res) => {
  const url = new URL(req.url, "http://floor");
  if (url.pathname === "/go") {
    const v = Number(url.searchParams.get("v"));
    const pad = "x".repeat(Number(url.searchParams.get("size")));
    io.to(url.searchParams.get("room")).emit("state", { v, prev_v: v - 1, pad });
    // the body (if any) is not needed; drain it so the connection can be reused
    req.resume();
    return ok(res);
  }
  if (url.pathname === "/healthz") return ok(res);
  res.writeHead(404);
  res.end();
});

// No CORS, no compression (python-socketio sends uncompressed frames too), WebSocket or long-polling as the client asks.
const io = new Server(http, { cors: undefined, perMessageDeflate: false, httpCompression: false,
                              maxHttpBufferSize: 1e6 });

io.on("connection", (socket) => {
  const room = socket.handshake.query.event || "all";
  socket.join(room);
  socket.emit("snapshot", { v: 0 });
});

http.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
