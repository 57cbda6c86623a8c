// Interoperability peer for rxws/interop_test.go: a WebSocket server built on
// the npm package ws (https://github.com/websockets/ws), permessage-deflate on.
//
//   node server.js      (needs `npm ci` in this directory)
//
// It listens on 127.0.0.1 with a kernel-chosen port, prints the port as the
// first line on stdout, and exits when stdin closes, so it never outlives the
// test that started it. Every data message is echoed with its own type, except
// these text commands:
//
//   ping-me     ping the client with "rxpype"; on its pong, send "pong-received:<data>"
//   close-4001  close with code 4001, reason "interop close"
//   close-1000  close with code 1000, reason "bye"
//   extensions  send JSON {"extensions": ws.extensions, "header": the
//               Sec-WebSocket-Extensions response header, "offered": the request's}
'use strict';

const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: true,
  maxPayload: 64 * 1024 * 1024,
});

// The handshake response headers, to report what was negotiated.
const negotiated = new WeakMap();
wss.on('headers', (headers, req) => {
  const ext = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
  negotiated.set(req, ext ? ext.replace(/^[^:]*:\s*/, '') : '');
});

wss.on('connection', (ws, req) => {
  ws.on('error', (err) => console.error('ws error:', err.message));
  ws.on('pong', (data) => ws.send('pong-received:' + data.toString()));
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length <= 16) {
      switch (data.toString()) {
        case 'ping-me':
          ws.ping('rxpype');
          return;
        case 'close-4001':
          ws.close(4001, 'interop close');
          return;
        case 'close-1000':
          ws.close(1000, 'bye');
          return;
        case 'extensions':
          ws.send(JSON.stringify({
            extensions: ws.extensions,
            header: negotiated.get(req) || '',
            offered: req.headers['sec-websocket-extensions'] || '',
          }));
          return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
});

wss.on('listening', () => {
  process.stdout.write(wss.address().port + '\n');
});
wss.on('error', (err) => {
  console.error('server error:', err.message);
  process.exit(1);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
