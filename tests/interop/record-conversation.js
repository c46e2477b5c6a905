// Records a real Gun.js client talking to a real Gun.js relay, through a
// WebSocket proxy that logs every frame with its direction and wall time.
// Output: JSON lines {"t": ms, "dir": "c2r"|"r2c", "frame": "..."} written to
// the file named on the command line (Gun.js prints a banner on stdout):
//
//   node record-conversation.js ../../gun-proto/tests/data/gunjs-conversation.jsonl
//
// Safety: every Gun instance has multicast:false and listens on 127.0.0.1 only.
'use strict';
const http = require('http');
const os = require('os');
const fs = require('fs');
const path = require('path');
const WebSocket = require('ws');
const Gun = require('gun');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gun-record-'));
const log = [];
const out = process.argv[2];
if (!out) { console.error('usage: node record-conversation.js OUT.jsonl'); process.exit(2); }
const note = (dir, data) => log.push({ t: Date.now(), dir, frame: data.toString() });

function listen(server) {
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res(server.address().port)));
}

async function main() {
  // The relay: Gun.js's own server setup with a disk store, no AXE so that it
  // behaves as the flooding relay the project's relay mirrors.
  const relayHttp = http.createServer();
  Gun({ web: relayHttp, file: path.join(dir, 'radata'), multicast: false, axe: false, localStorage: false });
  const relayPort = await listen(relayHttp);

  // The proxy: one upstream socket per client socket, logging both ways.
  const proxyHttp = http.createServer();
  const wss = new WebSocket.Server({ server: proxyHttp });
  wss.on('connection', (client) => {
    const up = new WebSocket(`ws://127.0.0.1:${relayPort}/gun`);
    const pending = [];
    up.on('open', () => { pending.splice(0).forEach((m) => up.send(m)); });
    up.on('message', (m) => { note('r2c', m); client.send(m.toString()); });
    client.on('message', (m) => {
      note('c2r', m);
      if (up.readyState === WebSocket.OPEN) up.send(m.toString()); else pending.push(m.toString());
    });
    client.on('close', () => up.close());
  });
  const proxyPort = await listen(proxyHttp);

  // The client: a node Gun.js peer with no storage of its own.
  const gun = Gun({ peers: [`http://127.0.0.1:${proxyPort}/gun`], radisk: false, localStorage: false, multicast: false, axe: false, file: path.join(dir, 'client') });
  const step = (ms) => new Promise((r) => setTimeout(r, ms));
  const once = (chain) => new Promise((r) => chain.once((v) => r(v)));
  const put = (chain, v) => new Promise((r) => chain.put(v, (ack) => r(ack)));

  await put(gun.get('user/alice'), { name: 'Alice', age: 30 });
  await step(300);
  await once(gun.get('user/alice'));
  await once(gun.get('user/bob').get('name'));
  await put(gun.get('people').get('carol'), { name: 'Carol', car: { color: 'red' } });
  await step(300);
  await put(gun.get('user/alice').get('age'), 31);
  await put(gun.get('user/alice').get('age'), null);
  await step(300);
  await new Promise((r) => gun.get('list').set({ label: 'x' }, r));
  await step(300);
  await once(gun.get('nope'));
  await step(300);

  fs.writeFileSync(out, log.map((e) => JSON.stringify(e) + '\n').join(''));
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

setTimeout(() => { console.error('recording timed out'); process.exit(1); }, 30000);
main().catch((e) => { console.error(e); process.exit(1); });
