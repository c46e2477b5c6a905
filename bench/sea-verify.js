// Gun.js's SEA verifying user-space values as its relay does (SEA.verify of
// {m: {'#','.',':','>'}, s} against the owner's key, one after another on
// one core): the figures beside gun-proto's `sea_verify` bench.
//
//   node bench/sea-verify.js [N] [USERS]   N values by USERS users (default
//                                          1000 by 1); prints
//                                          gunjs_sea_verify_per_s
// Gun.js caches each key it imported (SEA.opt.slow_leak), so one user's
// values cost less than many users' first ones: a relay sees both.
'use strict';
const path = require('path');
const Gun = require(path.join(__dirname, '..', 'tests', 'interop', 'node_modules', 'gun'));
const SEA = Gun.SEA;

(async () => {
  const n = Number(process.argv[2] || 1000);
  const users = Math.max(1, Number(process.argv[3] || 1));
  const pairs = [];
  for (let u = 0; u < users; u++) pairs.push(await SEA.pair());
  const signed = [];
  for (let i = 0; i < n; i++) {
    const pair = pairs[i % users];
    const m = { '#': '~' + pair.pub, '.': 'k' + i, ':': 'value ' + i, '>': 1.7e12 };
    signed.push([await SEA.sign(m, pair, null, { raw: 1 }), pair.pub]);
  }
  // Fresh keys each round when there are many users (as a relay meets
  // users): the first round pays the imports, later rounds find them cached.
  for (let round = 0; round < 3; round++) {
    const t = process.hrtime.bigint();
    for (const [s, pub] of signed) {
      if ((await SEA.verify(s, pub)) === undefined) throw new Error('did not verify');
    }
    const secs = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`gunjs_sea_verify_per_s ${Math.round(n / secs)} (round ${round + 1}: ${n} values by ${users} user(s))`);
  }
  process.exit(0);
})();
