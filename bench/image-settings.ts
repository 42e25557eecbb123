// The runtime settings the container image gives the connector (Dockerfile ENTRYPOINT and
// ENV), so that the benches measure what a deployment runs. test/unit/image-settings.test.ts
// checks the Dockerfile against these.

/**
 * Flags on the image's `node` command line, which NODE_OPTIONS does not accept.
 * `--no-sparkplug`: no baseline machine code between the interpreter and the optimizing
 * compilers. In 1,000-account syncs it lowered the peak resident set by about 6 MB at the
 * same CPU time (docs/performance.md, "Baseline compiler").
 */
export const IMAGE_NODE_ARGS: readonly string[] = ['--no-sparkplug'];

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
