// Bundles the compiled daemon (dist/src, from tsc) into dist/bundle: what the image ships
// and what every test that starts a connector process runs.
//
// Why a bundle: Node keeps, for each module it loads, the module's source text, its
// module record and its path resolution; the AWS SDK alone is hundreds of small files. One
// ESM file per lazily loaded part, with whitespace and syntax minified, takes the idle
// daemon from about 79 to about 69 MB resident and the image needs no node_modules
// (docs/performance.md, "Memory"). Identifiers keep their names, so stack traces and logs
// stay readable.
//
// Lazy loading survives bundling: every `import()` in src/ becomes a chunk of its own that
// loads with it. dist/bundle/meta.json (esbuild's metafile) says which source files each
// chunk holds; test/integration/lazy-loading.test.ts reads it to check what an idle daemon
// has loaded.
//
//   node dist/scripts/bundle.js          (run by `npm run build`)
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

// dist/scripts/bundle.js → the repository (or the image's build directory).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE_DIR = resolve(ROOT, 'dist/bundle');

/**
 * The license texts of every package whose code is in the bundle, in one file beside it:
 * minified output drops their comments, and the image no longer carries node_modules.
 */
function thirdPartyLicenses(meta: Metafile): string {
  const packages = new Set<string>();
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]!);
  }
  packages.add('node_modules/yaml');
  const parts: string[] = [];
  for (const dir of [...packages].sort()) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = readdirSync(join(ROOT, dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = file ? readFileSync(join(ROOT, dir, file), 'utf8').trim() : `License: ${pkg.license ?? 'see the package'}`;
    parts.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`);
  }
  return parts.join(`\n${'-'.repeat(72)}\n\n`);
}

async function main(): Promise<void> {
  rmSync(BUNDLE_DIR, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'dist/src/main.js' },
    outdir: BUNDLE_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // The ES module builds of the AWS SDK: their CommonJS builds, imported with `import()`,
    // come out of esbuild without named exports.
    mainFields: ['module', 'main'],
    minifyWhitespace: true,
    minifySyntax: true,
    // ws loads these optional native add-ons when they are installed; we install neither.
    // yaml is loaded with require() on the first operator file (src/files.ts), which esbuild
    // cannot follow, so it stays a package of its own (the image copies it).
    external: ['bufferutil', 'utf-8-validate', 'yaml'],
    // CommonJS dependencies (ws, pino) call require() for Node's built-ins; an ES module has
    // no require of its own.
    banner: { js: "import{createRequire as __acRequire}from'node:module';const require=__acRequire(import.meta.url);" },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  writeFileSync(resolve(BUNDLE_DIR, 'meta.json'), JSON.stringify(result.metafile));
  writeFileSync(resolve(BUNDLE_DIR, 'THIRD_PARTY_LICENSES.txt'), thirdPartyLicenses(result.metafile));
  if (!existsSync(resolve(BUNDLE_DIR, 'main.js'))) throw new Error('the bundle has no main.js');
}

await main();
