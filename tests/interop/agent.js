// A Gun.js peer driven by the Rust interop suite (tests/tests/interop.rs)
// over stdin/stdout: one JSON command per input line, one JSON answer or
// event per output line, each prefixed "@@ " (Gun.js prints a banner on stdout).
//
//   node agent.js client ws://127.0.0.1:PORT/gun
//   node agent.js relay PORT DATA_DIR        (prints "@@ {"listening":PORT}")
//   node agent.js relay PORT DATA_DIR CERT KEY   the same, serving https/wss
//
// Commands ({"id": n, "op": ...}); every answer carries the command's id:
//   put   {path, value}        -> {ok, err}    chain.put, answered on the ack
//   set   {path, value}        -> {ok, err}    chain.set
//   burst {soul, n, wait}      -> {acked, err} n puts soul.k{i} = i at once,
//                                              answered when all are acked
//                                              or after `wait` ms
//   raw   {graph}              -> {ok}         a put with explicit states, as
//                                              if a peer had sent it
//   once  {path, wait}         -> {value}      chain.once (undefined -> null)
//   on    {path, sub}          -> events {sub, value, key}
//   map   {path, sub}          -> events {sub, value, key} (map().on)
//   off   {sub}                -> {ok}
//   lex   {soul, prefix, wait} -> {keys}       a get by key prefix
//   nodes {souls, wait}        -> {nodes}      the graph's copy of each soul,
//                                              states included (a client
//                                              asks its relay for each whole
//                                              node first)
//   sea   {fn, args}           -> {value}      SEA[fn](...args) (pair, sign,
//                                              verify, encrypt, decrypt, work,
//                                              secret, certify)
//   create {alias, pass}       -> {pub, err}   gun.user().create
//   auth  {alias, pass}|{pair} -> {pub, err}   gun.user().auth
//   uput  {path, value}        -> {ok, err}    gun.user().get(…).put
//   cput  {path, value, cert}  -> {ok, err}    gun.get(…).put with {opt: {cert}}
//   certify_self {who, policy} -> {value}      SEA.certify by the logged-in user
//   leave {}                   -> {ok}         gun.user().leave()
//
// Safety: multicast off; the relay listens on 127.0.0.1 only, the client
// dials only the URL given.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const readline = require('readline');
const Gun = require('gun');

const [mode, arg1, arg2, cert, key] = process.argv.slice(2);
const say = (obj) => process.stdout.write('@@ ' + JSON.stringify(obj) + '\n');

let gun;
if (mode === 'relay') {
  const server = cert
    ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) })
    : http.createServer();
  // As `npm install gun` runs a relay: radisk on, AXE on.
  gun = Gun({ web: server, file: arg2, multicast: false, localStorage: false });
  server.listen(Number(arg1), '127.0.0.1', () => say({ listening: server.address().port }));
} else if (mode === 'client') {
  gun = Gun({ peers: [arg1], radisk: false, localStorage: false, multicast: false, axe: false, file: false });
  say({ ready: true });
} else {
  console.error('usage: node agent.js client URL | node agent.js relay PORT DIR');
  process.exit(2);
}

const SEA = Gun.SEA;
const subs = new Map();
const chain = (path) => path.slice(1).reduce((c, k) => c.get(k), gun.get(path[0]));
// A node copied out of Gun.js's graph: plain JSON, states included.
const copy = (soul) => {
  const n = gun._.graph[soul];
  return n === undefined ? null : JSON.parse(JSON.stringify(n));
};
// Gun.js's `once` answers with undefined when nothing is found.
const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

const ops = {
  put(c, done) {
    chain(c.path).put(c.value, (ack) => done({ ok: !ack.err, err: ack.err || null }));
  },
  set(c, done) {
    chain(c.path).set(c.value, (ack) => done({ ok: !ack.err, err: ack.err || null }));
  },
  burst(c, done) {
    // Answers when all are acked, or at `wait` ms with how many were.
    let acked = 0, err = null, answered = false;
    const finish = () => { if (!answered) { answered = true; done({ acked, err }); } };
    for (let i = 0; i < c.n; i++) {
      gun.get(c.soul).get('k' + i).put(i, (ack) => {
        if (ack.err) err = err || ack.err; else acked++;
        if (acked === c.n || err) finish();
      });
    }
    setTimeout(finish, c.wait || 20000);
  },
  raw(c, done) {
    // Enters as an incoming message would: HAM-merged here, then sent on.
    gun.on('in', { '#': String(Math.random()).slice(2), put: c.graph });
    done({ ok: true });
  },
  once(c, done) {
    chain(c.path).once((v) => done({ value: plain(v) }), { wait: c.wait || 2000 });
  },
  on(c, done) {
    const ch = chain(c.path);
    subs.set(c.sub, ch);
    ch.on((v, key) => say({ sub: c.sub, value: plain(v), key }));
    done({ ok: true });
  },
  map(c, done) {
    const ch = chain(c.path).map();
    subs.set(c.sub, ch);
    ch.on((v, key) => say({ sub: c.sub, value: plain(v), key }));
    done({ ok: true });
  },
  off(c, done) {
    const ch = subs.get(c.sub);
    if (ch) ch.off();
    subs.delete(c.sub);
    done({ ok: true });
  },
  lex(c, done) {
    let answered = false;
    const finish = () => {
      if (answered) return;
      answered = true;
      const n = copy(c.soul) || {};
      done({ keys: Object.keys(n).filter((k) => k !== '_').sort() });
    };
    // `get({'#': soul, '.': …})` would drop the '.' part; this is the form
    // that sends the lex to peers.
    gun.get(c.soul).get({ '.': { '*': c.prefix } }).once(finish, { wait: c.wait || 2000 });
    setTimeout(finish, (c.wait || 2000) + 500);
  },
  sea(c, done) {
    Promise.resolve(SEA[c.fn](...c.args))
      .then((value) => done({ value: plain(value), err: value === undefined ? String(SEA.err || 'undefined') : null }))
      .catch((e) => done({ value: null, err: String(e) }));
  },
  create(c, done) {
    gun.user().create(c.alias, c.pass, (ack) => done({ pub: ack.pub || null, err: ack.err || null }));
  },
  auth(c, done) {
    const cb = (ack) => done({ pub: ack.err ? null : gun.user().is.pub, err: ack.err || null });
    if (c.pair) gun.user().auth(c.pair, cb); else gun.user().auth(c.alias, c.pass, cb);
  },
  uput(c, done) {
    c.path.reduce((ch, k) => ch.get(k), gun.user()).put(c.value, (ack) => done({ ok: !ack.err, err: ack.err || null }));
  },
  cput(c, done) {
    chain(c.path).put(c.value, (ack) => done({ ok: !ack.err, err: ack.err || null }), { opt: { cert: c.cert } });
  },
  certify_self(c, done) {
    // A certificate by the logged-in user (its pair is Gun.js's internal).
    SEA.certify(c.who, c.policy, gun.user()._.sea).then((value) => done({ value }));
  },
  leave(c, done) {
    gun.user().leave();
    done({ ok: true });
  },
  nodes(c, done) {
    if (mode === 'client') {
      // A client may hold a node in part (it asked for one key): ask the
      // relay for each whole node first, as a raw get (a second `once` of a
      // soul whose first is still waiting never answers), then copy.
      c.souls.forEach((soul) => gun.on('out', { '#': String(Math.random()).slice(2), get: { '#': soul } }));
      return setTimeout(() => {
        const out = {};
        c.souls.forEach((soul) => { out[soul] = copy(soul); });
        done({ nodes: out });
      }, 300);
    }
    // A relay: what its graph holds; a soul it lacks is read from disk.
    const out = {};
    const missing = c.souls.filter((soul) => {
      out[soul] = copy(soul);
      return out[soul] === null;
    });
    let left = missing.length;
    if (left === 0) return done({ nodes: out });
    missing.forEach((soul) => {
      gun.get(soul).once(() => {
        out[soul] = copy(soul);
        if (--left === 0) done({ nodes: out });
      }, { wait: c.wait || 1000 });
    });
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let c;
  try { c = JSON.parse(line); } catch (e) { return say({ error: 'bad command: ' + e.message }); }
  const op = ops[c.op];
  if (!op) return say({ id: c.id, error: 'unknown op ' + c.op });
  try {
    op(c, (answer) => say(Object.assign({ id: c.id }, answer)));
  } catch (e) {
    say({ id: c.id, error: String(e && e.stack || e) });
  }
}).on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
