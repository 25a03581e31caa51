import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, closePolicy } from '../src/backoff.js';

test('backoff grows exponentially up to the cap, with full jitter below it', () => {
  const top = () => 0.999999;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 500, 20000, top)),
    [499, 999, 1999, 3999, 7999, 15999, 19999],
  );
  assert.equal(backoffDelay(3, 500, 20000, () => 0), 0);
  assert.equal(backoffDelay(3, 500, 20000, () => 0.5), 2000);
  assert.equal(backoffDelay(1000, 500, 20000, top), 19999, 'a huge attempt count stays at the cap');
});

test('close codes: no retry storm after 4001 or 1009, a backoff after 1013, a quick resume after 4000', () => {
  const low = () => 0;
  for (const code of [4001, 1009]) {
    const p = closePolicy(code);
    assert.equal(p.clientFault, true, `${code} is the client's fault`);
    assert.ok(p.delay(0, 500, 20000, low) >= 10000, `${code} waits at least half the longest delay`);
  }
  const busy = closePolicy(1013);
  assert.equal(busy.clientFault, false);
  assert.ok(busy.delay(0, 500, 20000, low) >= 1000, '1013 never reconnects at once');
  assert.ok(busy.delay(0, 500, 20000, () => 0.999) >= 3990, '1013 starts at the fourth step');
  assert.ok(closePolicy(4000).delay(0, 500, 20000, () => 0.999) < 500, '4000 resumes quickly');
  for (const code of [1000, 1001, 1006, 1008, 1011]) {
    const p = closePolicy(code);
    assert.equal(p.clientFault, false);
    assert.equal(p.delay(0, 500, 20000, () => 0.999), 499, `${code} backs off from the shortest delay`);
  }
  assert.match(closePolicy(1001).reason, /restarting/);
});
