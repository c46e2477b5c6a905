// A Gun.js node client for the smoke interop test: writes interop/js, waits
// to see interop/rust written by a Rust client, and reports on stdout with
// lines starting "RESULT " (Gun.js prints a banner there too).
//
//   node smoke-client.js ws://127.0.0.1:PORT/gun
//
// Safety: multicast off; it dials only the URL given (127.0.0.1 in tests).
'use strict';
const Gun = require('gun');

const url = process.argv[2];
if (!url) { console.error('usage: node smoke-client.js URL'); process.exit(2); }
const report = (what) => process.stdout.write('RESULT ' + JSON.stringify(what) + '\n');

const gun = Gun({ peers: [url], radisk: false, localStorage: false, multicast: false, axe: false, file: false });
gun.get('interop/js').put({ from: 'js', n: 1 }, (ack) => report({ acked: !ack.err, err: ack.err || null }));
gun.get('interop/rust').get('from').on((v) => {
  if (v === 'rust') { report({ saw: v }); setTimeout(() => process.exit(0), 200); }
});
setTimeout(() => { report({ timeout: true }); process.exit(1); }, 20000);
