// A Gun.js relay with its LAN multicast on (lib/multicast.js, group
// 233.255.255.255:8765), for the multicast interop test. Prints "listening"
// when ready.
//
//   node relay-multicast.js PORT DATA_DIR
//
// Safety: multicast datagrams must never leave the machine, so this refuses
// to start unless its network namespace has no interface but the loopback
// (the test runs it under `unshare -n`). Listens on 127.0.0.1 only.
'use strict';
const os = require('os');
const names = Object.keys(os.networkInterfaces());
if (names.some((n) => n !== 'lo')) {
  console.error(`refusing: multicast on, and this namespace has interfaces besides lo: ${names}`);
  process.exit(2);
}
const http = require('http');
const Gun = require('gun');

const port = Number(process.argv[2] || 8765);
const file = process.argv[3] || 'radata';
const server = http.createServer();
Gun({ web: server, file, multicast: { address: '233.255.255.255', port: 8765 }, localStorage: false });
server.listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port}/gun`));
process.on('SIGTERM', () => process.exit(0));
