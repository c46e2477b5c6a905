// A Gun.js relay as `npm` installs it (AXE on, radisk disk store), for the
// benchmarks and interop tests. Prints "listening" when ready.
//
//   node relay.js PORT DATA_DIR [--axe=false]
//
// Safety: multicast off; listens on 127.0.0.1 only.
'use strict';
const http = require('http');
const Gun = require('gun');

const port = Number(process.argv[2] || 8765);
const file = process.argv[3] || 'radata';
const axe = !process.argv.includes('--axe=false');
const server = http.createServer();
Gun({ web: server, file, multicast: false, axe, localStorage: false });
server.listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port}/gun`));
process.on('SIGTERM', () => process.exit(0));
