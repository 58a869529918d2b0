import { dirname, relative, resolve } from "node:path";
import type { Plugin } from "esbuild";
import { defineConfig, type Options } from "tsup";

// ESM ships one file per module, so that a user's bundler drops whole modules it does not use,
// external imports (@aws-sdk/client-s3) included. CJS ships the library once, in index.cjs; the
// other CJS entry points require it instead of bundling a copy.
const shared = {
  target: "node20",
  platform: "node",
  // Maps without the sources' text: stack traces (node --enable-source-maps) still name the
  // src/ file and line, at a third of the package's unpacked size.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
} satisfies Options;
const dts = { compilerOptions: { ignoreDeprecations: "6.0" } };
// The published entry points (package.json "exports"). `lambda` and `replay` are the zero-code
// Lambda handlers; `reconcile` is kept out of the main entry, so that no handler loads it.
const entries = {
  index: "src/index.ts",
  "testing/index": "src/testing/index.ts",
  lambda: "src/lambda.ts",
  replay: "src/replay.ts",
  reconcile: "src/reconcile.ts",
};
const { index, reconcile, ...otherEntries } = entries;

const source = resolve("src");
const library = resolve(index);

/**
 * For the CJS entry points other than index: an import of a library module (src/, outside
 * src/testing) becomes a require of index.cjs, which exports what they use. TypeScript does not
 * check that: test/bundle.test.ts checks every name they read from index.cjs. The private modules
 * the testing entry shares with the library (index.cjs does not export them) are copied instead.
 */
const copiedPrivateModules = new Set([resolve("src/lambda-shape.ts")]);

const requireLibraryFromIndex: Plugin = {
  name: "require-library-from-index",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, ({ path, importer, resolveDir, kind }) => {
      // Modules of src/testing are bundled; the entry points' imports of src/ modules are not.
      const resolved = resolve(resolveDir, path).replace(/\.js$/, ".ts");
      if (kind === "entry-point" || dirname(resolved) !== source || copiedPrivateModules.has(resolved))
        return undefined;
      const fromImporter = relative(dirname(importer), library).replace(/\.ts$/, ".cjs");
      return { path: fromImporter.startsWith(".") ? fromImporter : `./${fromImporter}`, external: true };
    });
  },
};

export default defineConfig([
  {
    ...shared,
    entry: ["src/**/*.ts"],
    format: "esm",
    bundle: false,
    clean: true,
    dts: { ...dts, entry: entries },
  },
  {
    ...shared,
    entry: { index },
    format: "cjs",
    treeshake: true,
    dts: { ...dts, entry: entries },
  },
  {
    ...shared,
    entry: otherEntries,
    format: "cjs",
    treeshake: true,
    esbuildPlugins: [requireLibraryFromIndex],
  },
  {
    // Whole: index.cjs does not export reconcile's modules, and must not load them.
    ...shared,
    entry: { reconcile },
    format: "cjs",
    treeshake: true,
  },
]);
