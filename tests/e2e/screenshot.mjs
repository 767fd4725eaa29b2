#!/usr/bin/env node
// The README screenshot (docs/screenshot.png): the built demo on the bundled model, with a layer open,
// an intervention that changes the prediction, and a sub-update's details.
//   node tests/e2e/screenshot.mjs [--out docs/screenshot.png] [--prompt "..."]
import path from 'node:path';
import { launch, root, startServers, waitTraced } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const out = path.resolve(arg('out', path.join(root, 'docs/screenshot.png')));
const prompt = arg('prompt', 'The river flowed past the old');

const { hub, site } = await startServers();
const { context, close } = await launch('shot', { width: 1440, height: 1000 });
try {
  const page = await context.newPage();
  await page.goto(`${site.url}?${new URLSearchParams({ m: 'bundled', p: prompt })}`);
  await waitTraced(page);
  // An LM-Debugger switch that changes the prediction (else a set coefficient), with its layer and details open.
  const pick = await page.evaluate(async () => {
    const app = window.lmdbgApp;
    const ids = await app.tokens();
    const pos = app.trace.positions[app.trace.positions.length - 1];
    const subs = pos.layers.flatMap((l) => l.subUpdates);
    const tries = [];
    for (const mode of ['on', 'off']) for (const su of subs) tries.push({ layer: su.layer, index: su.index, mode });
    for (const value of [10, 20]) for (const su of subs) tries.push({ layer: su.layer, index: su.index, mode: 'set', value });
    for (const iv of tries) {
      const r = await app.dbg.trace(ids, { topK: 1, subUpdates: 0, valueTopK: 0, interventions: [iv] });
      if (r.positions[0].clean.changed) return iv;
    }
    return { layer: subs[0].layer, index: subs[0].index, mode: 'off' };
  });
  const n = await page.evaluate(() => window.lmdbgApp.traces);
  await page.evaluate((iv) => {
    const app = window.lmdbgApp;
    app.addIntervention(iv);
    app.selectLayer(iv.layer);
    app.openDetail(iv.layer, iv.index);
  }, pick);
  await page.waitForFunction((n) => window.lmdbgApp.traces > n && !document.querySelector('#busy.on'), n);
  await page.locator('#details .vv').waitFor();
  await page.fill('#search-q', 'water');
  await page.locator('#search .hit').first().waitFor();
  await page.locator('#search-q').blur();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(500);
  await page.screenshot({ path: out });
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
} finally {
  await close();
  await site.close();
  await hub.close();
}
