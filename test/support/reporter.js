// Mocha's spec reporter plus one closing line in the plain form CI reads: "N passed, N failed, N skipped",
// then one line per reason tests were skipped for (a test's `skipReason`, set by test/support/mongo-hooks.ts).
'use strict';
const Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SpecWithSummary extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const reasons = new Map();
    runner.on(EVENT_TEST_PENDING, (test) => {
      const reason = test.skipReason || 'skipped in the test';
      reasons.set(reason, (reasons.get(reason) || 0) + 1);
    });
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      console.log(`tests: ${passes} passed, ${failures} failed, ${pending} skipped`);
      for (const [reason, count] of reasons) console.log(`skipped ${count}: ${reason}`);
    });
  }
}

module.exports = SpecWithSummary;
