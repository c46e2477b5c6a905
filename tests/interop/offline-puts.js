// Gun.js with no peers and no storage: N puts, each awaited (its ack
// callback) before the next, as `examples/basic.rs` does with ours. Prints
// how long they took, or what the first put's callback said instead of an
// ack. Run: `node offline-puts.js 1000` (memory only), or
// `node offline-puts.js 1000 DIR` (its radisk store in DIR).
'use strict';
const Gun = require('gun');

const n = Number(process.argv[2] || 1000);
const dir = process.argv[3];
const gun = dir
  ? Gun({ localStorage: false, radisk: true, file: dir, multicast: false, axe: false, peers: [] })
  : Gun({ localStorage: false, radisk: false, file: false, multicast: false, axe: false, peers: [] });
const put = (i) => new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ timeout: true }), 12000);
  gun.get('counter').get('n' + i).put(i, (ack) => { clearTimeout(timer); resolve(ack); });
});
(async () => {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const ack = await put(i);
    if (ack.timeout || ack.err) {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(`gunjs_offline_puts none: put ${i} answered ${JSON.stringify(ack)} after ${secs.toFixed(1)} s`);
      process.exit(0);
    }
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`gunjs_offline_puts ${n} awaited puts in ${(secs * 1000).toFixed(1)} ms`);
  process.exit(0);
})();
