// Preloaded into a connector process (NODE_OPTIONS="--import <this file>") by tests that
// check what the daemon loads: appends the URL of every module Node loads, one per line,
// to the file named by MODULE_RECORD_FILE. Synchronous hooks, so the list is complete at
// any moment the test reads it.
import { appendFileSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env['MODULE_RECORD_FILE'];
if (out) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(out, `${url}\n`);
      return nextLoad(url, context);
    },
  });
  // Node's own internal modules load without passing through the hooks (node:http's lazy
  // getters load undici, for one): their list is written beside, every 100 ms, after the
  // time it was taken, so a reader can wait for a list newer than what it checks.
  const internals = () => writeFileSync(`${out}.internal`, [String(Date.now()), ...(process as unknown as { moduleLoadList: string[] }).moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length))].join('\n'));
  internals();
  setInterval(internals, 100).unref();
}
