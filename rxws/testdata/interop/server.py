#!/usr/bin/env python3
"""Interoperability peer for rxws/interop_test.go: a WebSocket server built on
Python's websockets package (Debian: python3-websockets; 10.1 or newer).

    python3 server.py

It listens on 127.0.0.1 with a kernel-chosen port, prints the port as the
first line on stdout, and exits when stdin closes, so it never outlives the
test that started it. Every data message is echoed with its own type, except
these text commands:

    ping-me     ping the client with "rxpype"; once the matching pong is
                back, send "pong-received:rxpype"
    close-4001  close with code 4001, reason "interop close"
    close-1000  close with code 1000, reason "bye"
    extensions  send JSON {"header": the Sec-WebSocket-Extensions response
                header, "offered": the request's}
"""

import asyncio
import json
import os
import sys
import threading

import websockets


def _headers(ws):
    """The handshake's request and response headers, old API or new."""
    req = getattr(ws, "request", None)
    resp = getattr(ws, "response", None)
    if req is not None and resp is not None:  # websockets >= 13 (asyncio API)
        return req.headers, resp.headers
    return ws.request_headers, ws.response_headers  # legacy API


async def handler(ws):
    async for msg in ws:
        if isinstance(msg, str) and len(msg) <= 16:
            if msg == "ping-me":
                waiter = await ws.ping(b"rxpype")
                await waiter  # resolves on the pong with the same data
                await ws.send("pong-received:rxpype")
                continue
            if msg == "close-4001":
                await ws.close(code=4001, reason="interop close")
                return
            if msg == "close-1000":
                await ws.close(code=1000, reason="bye")
                return
            if msg == "extensions":
                req, resp = _headers(ws)
                await ws.send(json.dumps({
                    "header": resp.get("Sec-WebSocket-Extensions", ""),
                    "offered": req.get("Sec-WebSocket-Extensions", ""),
                }))
                continue
        await ws.send(msg)


def _exit_on_stdin_eof():
    sys.stdin.buffer.read()
    os._exit(0)


async def main():
    threading.Thread(target=_exit_on_stdin_eof, daemon=True).start()
    async with websockets.serve(
        handler, "127.0.0.1", 0, max_size=64 << 20, ping_interval=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()  # forever; stdin EOF or a kill ends the process


if __name__ == "__main__":
    asyncio.run(main())
