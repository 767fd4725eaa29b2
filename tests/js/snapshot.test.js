// Saved views through the package (docs/snapshot-schema.md): Debugger.info's fingerprint is the CLI's
// for every source, dbg.snapshot writes what `lmdbg snapshot` writes for the same view (one writer),
// readSnapshot/snapshotTrace give back the trace that the same call returns, and a broken file is
// refused with a message that names the field.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lmdbg, modelDir, readModelFiles, root } from './helpers.js';

const { LMDebugger, parseIntervention, readSnapshot, snapshotTrace, snapshotViews } = await lmdbg();
const cli = path.join(root, 'build/lmdbg');
const PROMPT = 'The old man and the sea';

/** The native and wasm builds agree within the reference tolerance, not bit for bit (other kernels): ids, texts and
 *  structure exactly, floats (the attention's too) within 1e-4 relative. */
function expectClose(got, want, at = '') {
  if (typeof want === 'number' && !Number.isInteger(want)) {
    expect(Math.abs(got - want), at).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
  } else if (want && typeof want === 'object') {
    expect(Object.keys(got ?? {}).sort(), at).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) {
      if (k === 'base64') {
        const f = (b) => new Float32Array(new Uint8Array(Buffer.from(b, 'base64')).buffer);
        const [a, b] = [f(got[k]), f(want[k])];
        expect(a.length, at).toBe(b.length);
        expect(Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]))), `${at}.base64`).toBeLessThanOrEqual(1e-4);
      } else expectClose(got[k], want[k], `${at}.${k}`);
    }
  } else expect(got, at).toEqual(want);
}

function cliJson(args) {
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:native\``).toBe(true);
  return JSON.parse(execFileSync(cli, args, { encoding: 'utf8' }));
}

describe('the weights fingerprint', () => {
  it('is the CLI’s, for a folder, for the same files in memory, and differs between checkpoints', async () => {
    const seen = new Set();
    for (const v of ['l4-f32', 'l2-f16']) {
      const want = cliJson(['info', modelDir(v), '--json']);
      const a = await LMDebugger.load(modelDir(v));
      const b = await LMDebugger.load(readModelFiles(v));
      try {
        expect(a.info.fingerprint).toMatch(/^xxh64:[0-9a-f]{16}$/);
        expect(a.info.fingerprint).toBe(want.fingerprint);
        expect(b.info.fingerprint).toBe(want.fingerprint);
        expect(a.info.checkpointBytes).toBe(want.checkpointBytes);
        expect(a.info.dtype).toBe('f32');
        seen.add(a.info.fingerprint);
      } finally {
        await a.dispose();
        await b.dispose();
      }
    }
    expect(seen.size).toBe(2);
  });
});

describe('dbg.snapshot', () => {
  let dbg;
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l4-f32'));
  });
  afterAll(() => dbg?.dispose());

  it('writes what `lmdbg snapshot` writes for the same view', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lmdbg-snapshot-'));
    try {
      const out = path.join(dir, 'view.json');
      execFileSync(cli, ['snapshot', modelDir('l4-f32'), '--prompt', PROMPT, '--intervene', '3:28:set=6', '--inactive', '1:2:off',
        '--view', 'rank', '--layer', '2', '--detail', 'L3D28', '--name', 'A fixture', '--source', 'hub:lmdbg-test/l4-f32',
        '-n', '3', '--seed', '5', '--temperature', '0.9', '--top-k', '20', '-o', out]);
      const want = JSON.parse(readFileSync(out, 'utf8'));
      const got = await dbg.snapshot(PROMPT, {
        interventions: [{ ...parseIntervention('L3D28:set=6'), active: true }, { ...parseIntervention('L1D2:off'), active: false }],
        view: { open: 'rank', layer: 2, detail: { layer: 3, index: 28 } },
        valueVectors: [[3, 28]],
        model: { name: 'A fixture', source: 'hub:lmdbg-test/l4-f32' },
        generate: { maxNewTokens: 3, sampling: { temperature: 0.9, topK: 20, seed: 5 } },
      });
      expectClose(got, want);
      expect(got.schema).toBe('lmdbg.snapshot/1');
      expect(got.trace.interventions).toHaveLength(1);
      expect(got.generation.tokens).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads back as the trace the same call returns, attention bit for bit', async () => {
    const interventions = [parseIntervention('L2D5:off')];
    const s = readSnapshot(JSON.stringify(await dbg.snapshot(PROMPT, { interventions })));
    const t = snapshotTrace(s);
    const { interventions: _i, ...opts } = s.trace.options;
    const want = await dbg.trace(PROMPT, { ...opts, interventions });
    expect(t.attention.dims).toEqual(want.attention.dims);
    expect(Buffer.from(t.attention.data.buffer).equals(Buffer.from(want.attention.data.buffer))).toBe(true);
    const { attention: _a, ...rest } = want;
    const { attention: _b, ...restGot } = t;
    expect(restGot).toEqual(JSON.parse(JSON.stringify(rest)));
    expect(s.trace.options.cleanLayers).toBe(true);
    expect(t.positions.at(-1).clean).toBeTruthy();
  });

  it('costs the passes of its calls and names a bad option', async () => {
    const passes = async (f) => {
      const before = (await dbg.memory()).forwardPasses;
      await f();
      return (await dbg.memory()).forwardPasses - before;
    };
    expect(await passes(() => dbg.snapshot('The old man'))).toBe(1);
    expect(await passes(() => dbg.snapshot('The old man', { interventions: [{ ...parseIntervention('L1D2:off'), active: false }] }))).toBe(1);
    expect(await passes(() => dbg.snapshot('The old man', { interventions: [parseIntervention('L1D2:on')] }))).toBe(2);
    await expect(dbg.snapshot('The old man', { view: { open: 'lenz' } })).rejects.toThrow(/unknown view "lenz"/);
    await expect(dbg.snapshot('The old man', { names: { L9D1: 'x' } })).rejects.toThrow(/L9D1 is outside this model/);
    await expect(dbg.snapshot('The old man', { colour: 1 })).rejects.toThrow(/unknown option "colour"/);
    expect((await dbg.snapshot('The old man')).prompt).toBe('The old man'); // usable after the errors
  });
});

describe('readSnapshot', () => {
  let good;
  beforeAll(async () => {
    const dbg = await LMDebugger.load(modelDir('l2-f16'));
    good = JSON.stringify(await dbg.snapshot('The old man', { interventions: [parseIntervention('L1D2:off')] }));
    await dbg.dispose();
  });
  const broken = (edit) => {
    const s = JSON.parse(good);
    edit(s);
    return () => readSnapshot(JSON.stringify(s));
  };

  it('lists the engine’s views', () => {
    expect(snapshotViews.map((v) => v.name)).toEqual(['prediction', 'layers', 'lens', 'rank', 'attention', 'compare']);
  });

  it('refuses a broken file and names what is wrong', () => {
    expect(readSnapshot(good).prompt).toBe('The old man');
    expect(() => readSnapshot('{"schema": "lmdbg.snapshot/1"')).toThrow(/not JSON/);
    expect(() => readSnapshot('{"schema": "lmdbg.trace/1"}')).toThrow(/needs "schema": "lmdbg.snapshot\/1"/);
    expect(() => readSnapshot('{"schema": "lmdbg.snapshot/2"}')).toThrow(/cannot read/);
    expect(broken((s) => delete s.model.fingerprint)).toThrow(/model.fingerprint must be a string/);
    expect(broken((s) => (s.view.open = 'lenz'))).toThrow(/view.open "lenz" is not one of prediction/);
    expect(broken((s) => (s.view.layer = 2))).toThrow(/view.layer must be an integer in \[0, 1\]/);
    expect(broken((s) => (s.interventions[0].mode = 'of'))).toThrow(/interventions\[0\].mode "of"/);
    expect(broken((s) => (s.names = { L5D1: 'x' }))).toThrow(/names: "L5D1"/);
    expect(broken((s) => s.trace.positions[0].layers.pop())).toThrow(/trace.positions\[0\].layers must have 2 layers/);
    expect(broken((s) => (s.trace.attention.base64 = s.trace.attention.base64.slice(8)))).toThrow(/attention.base64 has the wrong length/);
  });
});
