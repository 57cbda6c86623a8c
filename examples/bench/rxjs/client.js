// The RxJS peer of examples/bench, workload stream-typed: RxJS webSocket()
// on Node's ws, one map and one filter that keeps all, JSON-parsed by the
// subject's deserializer. Prints {"msgs":N,"seconds":S,"rate":R} on stdout.
//
//   node client.js ws://127.0.0.1:PORT/stream?n=N&size=S N
'use strict';
const { webSocket } = require('rxjs/webSocket');
const { map, filter } = require('rxjs');
const WebSocket = require('ws');

const [url, nArg] = process.argv.slice(2);
const want = Number(nArg);
let count = 0;
let lastSeq = -1;
// The clock starts before the socket is made, as the Go clients' starts
// before their dial: the handshake counts in all three. Node's own startup
// and the require()s above stay outside it, as the Go process's start does.
const t0 = process.hrtime.bigint();
const done = () => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ msgs: count, seconds, rate: count / seconds }) + '\n');
  process.exit(count === want ? 0 : 1);
};
webSocket({ url, WebSocketCtor: WebSocket, deserializer: (e) => JSON.parse(e.data) })
  .pipe(
    map((t) => t),
    filter(() => true),
  )
  .subscribe({
    next: (t) => {
      if (typeof t.seq === 'number' && t.seq <= lastSeq) {
        console.error(`out of order: ${t.seq} after ${lastSeq}`);
        process.exit(1);
      }
      lastSeq = t.seq;
      if (++count === want) done();
    },
    error: (e) => {
      if (count === want) return;
      console.error(String(e && e.message ? e.message : e));
      process.exit(1);
    },
    complete: done,
  });
