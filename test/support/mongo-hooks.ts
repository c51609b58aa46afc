/**
 * Root hook (registered in .mocharc.json): a test whose title path names NEEDS_MONGOD is skipped when no
 * MongoDB server is available, with the reason, so the summary counts it as skipped.
 */
import { mongoSkipReason, NEEDS_MONGOD } from './stores';

export const mochaHooks = {
  beforeEach(this: Mocha.Context): void {
    const test = this.currentTest;
    if (!test || !test.fullTitle().includes(NEEDS_MONGOD)) return;
    const reason = mongoSkipReason();
    if (reason === undefined) return;
    (test as Mocha.Test & { skipReason?: string }).skipReason = reason;
    this.skip();
  },
};
