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
// Beside the code: THIRD_PARTY_LICENSES.txt (the bundled packages' license texts) and
// sbom.cdx.json (a CycloneDX list of them with their versions, for image scanners).
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
import { createRequire, isBuiltin } from 'node:module';
import { build, type Metafile, type Plugin } from 'esbuild';

// dist/scripts/bundle.js → the repository (or the image's build directory).
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE_DIR = resolve(ROOT, 'dist/bundle');

interface BundledPackage {
  name: string;
  version: string;
  license: string;
  dir: string;
}

/** Every package with code in the bundle (from esbuild's metafile), and yaml beside it. */
function bundledPackages(meta: Metafile): BundledPackage[] {
  const dirs = new Set<string>(['node_modules/yaml']);
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]!);
  }
  return [...dirs].sort().map((dir) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    if (!pkg.license) throw new Error(`${pkg.name}@${pkg.version} declares no license`);
    return { name: pkg.name, version: pkg.version, license: pkg.license, dir };
  });
}

/** The Apache 2.0 text as another bundled package ships it. */
function apacheText(packages: BundledPackage[]): string {
  for (const p of packages) {
    if (p.license !== 'Apache-2.0') continue;
    const file = readdirSync(join(ROOT, p.dir)).find((f) => /^licen[cs]e(\.|$)/i.test(f));
    const text = file && readFileSync(join(ROOT, p.dir, file), 'utf8').trim();
    if (text && text.includes('Apache License') && text.includes('Version 2.0')) return text;
  }
  throw new Error('no bundled package carries the Apache 2.0 text');
}

/**
 * The license texts of those packages, in one file beside the bundle: minified output drops
 * their comments, and the image carries no node_modules tree with them.
 */
function thirdPartyLicenses(packages: BundledPackage[]): string {
  return packages
    .map((p) => {
      const file = readdirSync(join(ROOT, p.dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
      // A few AWS SDK packages publish no license file: their license is the Apache 2.0
      // text the other SDK packages carry. Any other package without one fails the build.
      const text = file ? readFileSync(join(ROOT, p.dir, file), 'utf8').trim() : p.license === 'Apache-2.0' ? apacheText(packages) : undefined;
      if (text === undefined) throw new Error(`${p.name}@${p.version} has no license file and its license (${p.license}) has no standard text here`);
      return `${p.name}@${p.version} (${p.license})\n\n${text}\n`;
    })
    .join(`\n${'-'.repeat(72)}\n\n`);
}

/**
 * A CycloneDX SBOM of the bundled packages. Image scanners find a Node application's
 * dependencies through each package's package.json under node_modules, which a bundle does
 * not have; they also read SBOM files found in the image, so the versions stay visible.
 */
function sbom(packages: BundledPackage[]): string {
  const self = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
  const purl = (p: { name: string; version: string }) => `pkg:npm/${p.name.replace(/^@/, '%40')}@${p.version}`;
  return JSON.stringify(
    {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      version: 1,
      metadata: { component: { type: 'application', name: self.name, version: self.version, purl: purl(self), 'bom-ref': purl(self) } },
      components: [...new Map(packages.map((p) => [purl(p), p])).values()].map((p) => ({
        type: 'library',
        name: p.name,
        version: p.version,
        purl: purl(p),
        'bom-ref': purl(p),
        licenses: [{ expression: p.license }],
      })),
      dependencies: [{ ref: purl(self), dependsOn: [...new Set(packages.map(purl))] }],
    },
    null,
    2,
  );
}

/**
 * Node's http and http2 modules for the bundled dependencies, through require(). An ES
 * module import of node:http (the AWS SDK's HTTP handler and instance-metadata client make
 * one) builds the module's namespace from every export, and its lazy WebSocket,
 * MessageEvent and CloseEvent getters then load Node's bundled undici (src/node-http.ts
 * does the same for our own code). The SDK's handler module also imports node:http2 for an
 * HTTP/2 handler the connector never uses, and loading http2 costs megabytes: here it loads
 * on first use. Together about 4 MB of resident memory once the first AWS call is made
 * (docs/performance.md, "Memory"); test/integration/lazy-loading.test.ts checks neither loads.
 */
const nodeHttpShims: Plugin = {
  name: 'node-http-through-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?https?2?$/ }, (args) => {
      const mod = args.path.replace(/^node:/, '');
      if (mod === 'https') return undefined;
      // Our own modules already require() it (src/node-http.ts); CommonJS require() calls
      // need no shim either.
      if (args.kind === 'require-call') return { path: `node:${mod}`, external: true };
      return { path: mod, namespace: 'node-shim' };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (args) => {
      const prelude = "import { createRequire } from 'node:module';\nconst load = () => createRequire(import.meta.url)('node:" + args.path + "');\n";
      if (args.path === 'http2') {
        // Loaded when first touched; the SDK only uses the default export, at call time,
        // except that it takes `constants` from it when its module loads: that one is lazy too.
        return {
          contents: `${prelude}let m;\nconst get = () => (m ??= load());\nconst constants = new Proxy({}, { get: (_, k) => get().constants[k] });\nexport default new Proxy({}, { get: (_, k) => (k === 'constants' ? constants : get()[k]) });\n`,
          loader: 'js',
        };
      }
      // Plain values only: the accessors (WebSocket & co., globalAgent) are left out, and an
      // importer that needs one fails the build instead of loading undici.
      const names = Object.entries(Object.getOwnPropertyDescriptors(createRequire(import.meta.url)('node:http') as object))
        .filter(([, d]) => 'value' in d)
        .map(([k]) => k);
      return { contents: `${prelude}const m = load();\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`, loader: 'js' };
    });
  },
};

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
    // A map beside each chunk, without the sources' text: in the repository it follows tsc's
    // maps back to src/*.ts. Stack traces under `node --enable-source-maps`, and CPU
    // profiles read back to their package. Node reads none unless that flag is given; the
    // image leaves them out.
    sourcemap: 'linked',
    sourcesContent: false,
    plugins: [nodeHttpShims],
    metafile: true,
    logLevel: 'warning',
  });
  // The image carries the bundle and yaml only: a run-time import of anything else (a new
  // dependency's require() in a try/catch, say) would work in the repository and fail there.
  const allowed = new Set(['yaml', 'bufferutil', 'utf-8-validate']);
  const stray = new Set<string>();
  for (const out of Object.values(result.metafile.outputs)) {
    for (const i of out.imports) if (i.external && !isBuiltin(i.path) && !allowed.has(i.path)) stray.add(i.path);
  }
  if (stray.size > 0) throw new Error(`the bundle imports packages it does not hold (the image has none): ${[...stray].join(', ')}`);
  const packages = bundledPackages(result.metafile);
  writeFileSync(resolve(BUNDLE_DIR, 'THIRD_PARTY_LICENSES.txt'), thirdPartyLicenses(packages));
  writeFileSync(resolve(BUNDLE_DIR, 'sbom.cdx.json'), sbom(packages));
  if (!existsSync(resolve(BUNDLE_DIR, 'main.js'))) throw new Error('the bundle has no main.js');
  // Last: a bundle that failed a check above has no metafile, so test/helpers/fresh-bundle.ts
  // takes it for stale and makes it again.
  writeFileSync(resolve(BUNDLE_DIR, 'meta.json'), JSON.stringify(result.metafile));
}

await main();
