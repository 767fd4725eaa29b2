// npm pack -> install the tarball into an empty project (offline) -> run the README example with
// plain node on a fixture model, and compile a strict TypeScript consumer against its types.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { root, modelDir, lmdbg } from '../helpers.js';

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });

describe('the packed npm package', () => {
  let dir, tarball, files;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lmdbg-pack-'));
    const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], root));
    tarball = path.join(dir, out[0].filename);
    files = out[0].files.map((f) => f.path).sort();
    const app = path.join(dir, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    npm(['install', '--offline', '--no-package-lock', tarball], app);
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('ships the ESM build, the hand-written .d.ts, the glue and the SIMD .wasm (single-threaded and threaded, plain and relaxed), and nothing else', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(Object.keys(pkg.exports['.'])[0]).toBe('types');
    expect(pkg.exports['./element']).toEqual({ types: './dist/element.d.ts', default: './dist/element.js' }); // <lm-debugger>
    expect(pkg.dependencies ?? {}).toEqual({});
    for (const f of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/worker.js', 'dist/element.js', 'dist/element.d.ts', 'dist/wasm/lmdbg.mjs', 'dist/wasm/lmdbg.wasm',
      'dist/wasm/lmdbg-threads.mjs', 'dist/wasm/lmdbg-threads.wasm', 'dist/wasm/lmdbg-threads.worker.js', 'dist/wasm/package.json',
      'dist/wasm/lmdbg-relaxed.mjs', 'dist/wasm/lmdbg-relaxed.wasm', 'dist/wasm/lmdbg-relaxed-threads.mjs',
      'dist/wasm/lmdbg-relaxed-threads.wasm', 'dist/wasm/lmdbg-relaxed-threads.worker.js'])
      expect(files).toContain(f);
    expect(files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/[\w-]+\.(js|d\.ts)|dist\/wasm\/lmdbg(-relaxed)?(-threads)?\.(mjs|wasm)|dist\/wasm\/lmdbg(-relaxed)?-threads\.worker\.js|dist\/wasm\/package\.json)$/.test(f))).toEqual([]);
    expect(readFileSync(path.join(root, 'dist/index.d.ts'), 'utf8')).toBe(readFileSync(path.join(root, 'js/types/index.d.ts'), 'utf8'));
    const installed = path.join(dir, 'app/node_modules/lmdbg');
    expect(existsSync(path.join(installed, 'dist/wasm/lmdbg.wasm'))).toBe(true);
    console.log(`tarball ${path.basename(tarball)}: ${files.length} files`);
  });

  it('runs the README example (README.md) with plain node on a fixture model', async () => {
    const md = readFileSync(path.join(root, 'README.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(md)[1];
    expect(code.trim().split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(12);
    writeFileSync(path.join(dir, 'app/example.mjs'), code);
    const r = spawnSync(process.execPath, ['example.mjs', modelDir('l4-f32')], { cwd: path.join(dir, 'app'), encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The same answers as the repo's build.
    const { LMDebugger } = await lmdbg();
    const dbg = await LMDebugger.load(modelDir('l4-f32'));
    const [pos] = (await dbg.trace('The capital of France is')).positions;
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`next token: ${JSON.stringify(pos.prediction[0].text)}`);
    expect(lines.filter((l) => l.startsWith('layer ')).length).toBe(4);
    expect(lines[1]).toContain(`top sub-update ${pos.layers[0].subUpdates[0].name}`);
    const gen = [];
    for await (const t of dbg.generate('The capital of France is', { maxNewTokens: 10 })) gen.push(t.text);
    expect(r.stdout.endsWith(gen.join(''))).toBe(true);
    await dbg.dispose();
  });

  it('a strict TypeScript consumer compiles against the installed types (browser project, Node project)', () => {
    const app = path.join(dir, 'app');
    copyFileSync(path.join(root, 'tests/js/pack/consumer.ts'), path.join(app, 'consumer.ts'));
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const strict = { strict: true, noEmit: true, target: 'ES2022', noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true };
    const configs = {
      // A browser project: the DOM lib, a bundler.
      browser: { ...strict, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
      // A Node project: @types/node and no DOM lib, Node's own ESM resolution.
      node: { ...strict, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')] },
    };
    for (const [name, compilerOptions] of Object.entries(configs)) {
      writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
      const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
      expect(r.stdout + r.stderr, name).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
