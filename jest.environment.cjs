// jest's node environment, plus one thing: every AsyncLocalStorage enabled while a test file ran is disabled
// when that file ends. jest-circus builds a new AsyncLocalStorage in each test file's module registry and never
// disables it. Before Node 24 each enabled instance stays in a process-wide list that every new promise walks,
// so a worker's 100th test file pays 100 calls per promise: the tier's cost grew with the square of its files.
const { AsyncLocalStorage } = require('node:async_hooks');
const { TestEnvironment } = require('jest-environment-node');

const enabled = new Set();
for (const method of ['run', 'enterWith']) {
  const original = AsyncLocalStorage.prototype[method];
  AsyncLocalStorage.prototype[method] = function (...args) {
    enabled.add(this);
    return original.apply(this, args);
  };
}

class NodeEnvironmentReleasingAsyncContext extends TestEnvironment {
  async teardown() {
    for (const storage of enabled) storage.disable();
    enabled.clear();
    await super.teardown();
  }
}

module.exports = NodeEnvironmentReleasingAsyncContext;
