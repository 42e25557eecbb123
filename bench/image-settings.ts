// The runtime settings the container image gives the connector (Dockerfile ENTRYPOINT and
// ENV), so that the benches measure what a deployment runs. test/unit/image-settings.test.ts
// checks the Dockerfile against these.

/**
 * Flags on the image's `node` command line, which NODE_OPTIONS does not accept: V8's tiers
 * (docs/performance.md, "Tiering").
 * - `--no-sparkplug`: no baseline machine code between the interpreter and the optimizing
 *   compilers (about 6 MB off a 1,000-account sync's peak at the same CPU time).
 * - `--no-maglev`: no mid-tier optimizing compiler; hot code goes to TurboFan.
 * - `--invocation-count-for-turbofan=20000` (V8's default 3,000): TurboFan only for code
 *   that runs far more often than anything in the first seconds after start, so a daemon
 *   that has just connected has not loaded it.
 * Together: idle (15 s after the welcome) 61.9 MB instead of 63.6, the 1,000-account sync's
 * peak 121–130 MB instead of 129–138, for 8–13 % more CPU (2 % at 10,000 accounts).
 */
export const IMAGE_NODE_ARGS: readonly string[] = ['--no-sparkplug', '--no-maglev', '--invocation-count-for-turbofan=20000'];

/**
 * The connector's node command line in a bench: the image's flags unless
 * `--no-image-node-args`, then those of `--node-args '…'` (V8 flags NODE_OPTIONS refuses).
 */
export function benchNodeArgs(argv: readonly string[] = process.argv): string[] {
  const i = argv.indexOf('--node-args');
  return [...(argv.includes('--no-image-node-args') ? [] : IMAGE_NODE_ARGS), ...(i >= 0 ? (argv[i + 1] ?? '').split(/\s+/).filter(Boolean) : [])];
}

/** glibc's malloc arenas (MALLOC_ARENA_MAX in the image's ENV; docs/image.md). */
export const IMAGE_MALLOC_ARENA_MAX = 2;
