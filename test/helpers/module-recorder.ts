// Preloaded into a connector process (NODE_OPTIONS="--import <this file>") by tests that
// check what the daemon loads: appends the URL of every module Node loads, one per line,
// to the file named by MODULE_RECORD_FILE. Synchronous hooks, so the list is complete at
// any moment the test reads it.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env['MODULE_RECORD_FILE'];
if (out) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(out, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
