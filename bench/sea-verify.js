// Gun.js's SEA verifying user-space values as its relay does (SEA.verify of
// {m: {'#','.',':','>'}, s} against the owner's key, one after another on
// one core): the figure beside gun-proto's `sea_verify` bench.
//
//   node bench/sea-verify.js [N]     (prints gunjs_sea_verify_per_s)
'use strict';
const path = require('path');
const Gun = require(path.join(__dirname, '..', 'tests', 'interop', 'node_modules', 'gun'));
const SEA = Gun.SEA;

(async () => {
  const n = Number(process.argv[2] || 1000);
  const pair = await SEA.pair();
  const soul = '~' + pair.pub;
  const signed = [];
  for (let i = 0; i < n; i++) {
    const m = { '#': soul, '.': 'k' + i, ':': 'value ' + i, '>': 1.7e12 };
    const s = await SEA.sign(m, pair, null, { raw: 1 });
    signed.push(s);
  }
  for (let round = 0; round < 3; round++) {
    const t = process.hrtime.bigint();
    for (const s of signed) {
      if ((await SEA.verify(s, pair.pub)) === undefined) throw new Error('did not verify');
    }
    const secs = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`gunjs_sea_verify_per_s ${Math.round(n / secs)} (round ${round + 1}, ${n} values)`);
  }
  process.exit(0);
})();
