// Gun.js memory per stored property: puts N properties (10 per node) into a
// Gun.js instance with no storage and no network, then reports heap bytes per
// property after garbage collection. Run with `node --expose-gc memory.js N`.
'use strict';
const Gun = require('gun/gun');

const n = Number(process.argv[2] || 100000);
const gun = Gun({ localStorage: false, radisk: false, multicast: false, peers: [] });
global.gc();
const before = process.memoryUsage().heapUsed;
const started = process.hrtime.bigint();
for (let i = 0; i < n; i += 10) {
  const node = {};
  for (let k = 0; k < 10 && i + k < n; k++) node['k' + k] = i + k;
  gun.get('user/' + (i / 10)).put(node);
}
const putSecs = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`gunjs_property_puts_per_s ${(n / putSecs).toFixed(0)} (${n} properties in ${putSecs.toFixed(2)} s, in one process)`);
setTimeout(() => {
  global.gc();
  const after = process.memoryUsage().heapUsed;
  console.log(`gunjs_bytes_per_property ${((after - before) / n).toFixed(0)} (${n} properties, heap ${((after - before) / 1048576).toFixed(1)} MiB)`);
  process.exit(0);
}, 1000);
