// Entry point for process-level tests: the real daemon (runDaemon) with the test job
// type plugged in, and protocol timings shrunk when TEST_CONNECTOR_TIMING is set.
import { runDaemon } from '../../src/main.js';
import { testSleepJob } from './test-jobs.js';

const timing = process.env['TEST_CONNECTOR_TIMING'] ? (JSON.parse(process.env['TEST_CONNECTOR_TIMING']) as Record<string, number>) : undefined;
await runDaemon({ extraHandlers: [testSleepJob], ...(timing !== undefined && { timing }) });
