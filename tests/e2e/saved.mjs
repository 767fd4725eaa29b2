// Saved views in Chromium (docs/snapshot-schema.md, docs/EMBEDS.md): a snapshot written by the CLI
// draws in the embed (?embed=1&snapshot=URL) and in <lm-debugger> (the site's lm-debugger.js and the
// npm package's lmdbg/element, each on a plain page with one <script type="module">) with no model
// file and no WebAssembly fetched; "Make it live" names the download, loads, and the figure traces
// again; other weights are said; figures exported as SVG carry their view back onto the page.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { artifacts, FIXTURE, launch, root, waitTraced } from './lib.mjs';
import { expectReadable } from './readable.mjs';

const cli = path.join(root, 'build/lmdbg');
const MODEL_FILE = /model\.safetensors|\.wasm$|config\.json|vocab\.json|merges\.txt/;

/** Writes the saved views and plain pages that the tests load into the mock Hub's static folder. */
export function writeSavedViews(staticDir) {
  const dir = path.join(staticDir, 'views');
  mkdirSync(dir, { recursive: true });
  const model = path.join(root, 'tests/fixtures/models/l4-f32');
  execFileSync(cli, ['snapshot', model, '--prompt', 'The river bank was', '--intervene', '3:28:set=20', '--inactive', '1:2:off',
    '--view', 'prediction', '--name', 'the l4 fixture', '--source', `hub:${FIXTURE}`, '-o', path.join(dir, 'river.json')]);
  execFileSync(cli, ['snapshot', model, '--prompt', 'The old man and the sea', '--view', 'lens', '--name', 'the l4 fixture',
    '--source', `hub:${FIXTURE}`, '-o', path.join(dir, 'sea.json')]);
  // Interventions on a neuron and on an attention head: the page lists both.
  execFileSync(cli, ['snapshot', model, '--prompt', 'The river bank was', '--intervene', '2:h1:off', '--intervene', '1:h3:scale=0.5@1,2',
    '--inactive', '3:28:set=20', '--view', 'layers', '--layer', '2', '--name', 'the l4 fixture', '--source', `hub:${FIXTURE}`, '-o', path.join(dir, 'heads.json')]);
  // The same view claiming other weights: "Make it live" must say so.
  const other = JSON.parse(readFileSync(path.join(dir, 'river.json'), 'utf8'));
  other.model.fingerprint = 'xxh64:0123456789abcdef';
  writeFileSync(path.join(dir, 'other.json'), JSON.stringify(other));
  // Two figures from the site's script, the second far below (it loads when scrolled to).
  writeFileSync(path.join(staticDir, 'site-element.html'), `<!doctype html><meta charset="utf-8"><title>A course note</title>
<style>body{font:16px Georgia,serif;max-width:720px;margin:2em auto} .primary{color:rgb(1,2,3)}</style>
<script type="module" src="/lm-debugger.js"></script>
<h1>Feed-forward layers as key-value memories</h1>
<p class="primary" id="outside">Text of the note, styled by the note.</p>
<lm-debugger id="a" snapshot="/_hub/views/river.json" hub="/_hub"></lm-debugger>
<div style="height:3000px"></div>
<lm-debugger id="b" snapshot="/_hub/views/sea.json" hub="/_hub"></lm-debugger>
`);
  // The npm package's element, on a page of another origin, with the package's files as they ship.
  symlinkSync(path.join(root, 'dist'), path.join(staticDir, 'pkg'));
  symlinkSync(model, path.join(staticDir, 'l4-f32'));
  writeFileSync(path.join(staticDir, 'package-element.html'), `<!doctype html><meta charset="utf-8"><title>A blog post</title>
<script type="module" src="/pkg/element.js"></script>
<p>A figure:</p>
<lm-debugger id="c" snapshot="/views/river.json" model="/l4-f32/"></lm-debugger>
`);
}

/** Every URL a context fetches, from its pages and their workers. */
function recordRequests(context) {
  const urls = [];
  context.on('request', (r) => urls.push(r.url()));
  return urls;
}

export async function savedViewsSuite({ test, assert, siteUrl, hub, staticDir }) {
  writeSavedViews(staticDir);
  const { context, close } = await launch('saved', { width: 700, height: 460 });
  const urls = recordRequests(context);
  const page = await context.newPage();
  const want = JSON.parse(readFileSync(path.join(staticDir, 'views/river.json'), 'utf8'));
  const predicted = want.trace.positions.at(-1).predicted.text;
  try {
    await test('saved views', 'an embed draws a CLI snapshot with no model and no WebAssembly', page, async () => {
      urls.length = 0;
      await page.goto(`${siteUrl}?embed=1&hub=%2F_hub&snapshot=${encodeURIComponent('/_hub/views/river.json')}`);
      await page.locator('#prediction .pred-row').first().waitFor({ timeout: 20_000 });
      const fetched = urls.filter((u) => MODEL_FILE.test(u));
      assert(fetched.length === 0, `fetched before "Make it live": ${fetched.join(', ')}`);
      assert(await page.evaluate(() => window.lmdbgApp.dbg === null && window.lmdbgApp.frozen), 'no model, a saved view');
      assert((await page.locator('#prediction .pred-col').count()) === 2, 'clean beside intervened, from the file');
      const top = await page.locator('#prediction .pred-col').last().locator('.pred-row').first().locator('.tok').first().getAttribute('title');
      assert(top && top.startsWith(JSON.stringify(predicted)), `the saved prediction ${JSON.stringify(predicted)}: ${top}`);
      assert((await page.locator('#panel-rank svg circle').count()) === 4 * want.model.config.nLayers, 'the rank chart');
      assert((await page.locator('#embed-ivs input[type=checkbox]').count()) === 2, 'both interventions listed');
      assert(await page.locator('#embed-ivs input[type=checkbox]').first().isDisabled(), 'switches wait for "Make it live"');
      const label = await page.locator('#make-live').textContent();
      const kb = (want.model.checkpointBytes / 1024).toFixed(1);
      assert(label.trim() === `Make it live · ${kb} KB`, `names the download (${kb} KB): ${label}`);
      for (const tab of ['lens', 'layers', 'attn', 'compare']) {
        await page.locator(`#etab-${tab}`).click();
        assert((await page.locator(`#epanel-${tab}`).innerText()).trim().length > 20, `the ${tab} view has content`);
      }
      assert((await page.locator('#epanel-attn svg, #epanel-attn canvas').count()) > 0, 'attention from the saved patterns');
      await page.locator('#etab-pred').click();
      await page.screenshot({ path: path.join(artifacts, 'saved--embed-frozen.png') });
    });

    await test('saved views', '"Make it live" loads the model once and the figure traces again', page, async () => {
      const before = await page.evaluate(() => window.lmdbgApp.traces);
      await page.locator('#make-live').click();
      await page.waitForFunction((n) => window.lmdbgApp.dbg && window.lmdbgApp.traces > n && !document.querySelector('#busy.on'), before, { timeout: 60_000 });
      await waitTraced(page);
      assert(urls.filter((u) => /model\.safetensors/.test(u)).length >= 1, 'the model was fetched on request');
      assert(await page.locator('#embed-note').isHidden(), `no mismatch note: ${await page.locator('#embed-note').textContent()}`);
      const live = await page.evaluate(() => window.lmdbgApp.trace.positions.at(-1).predicted.text);
      assert(live === predicted, `the live model predicts what was saved: ${live} vs ${predicted}`);
      const n = await page.evaluate(() => window.lmdbgApp.traces);
      await page.locator('#embed-ivs input[type=checkbox]').nth(1).check();
      await page.waitForFunction((n) => window.lmdbgApp.traces > n && !document.querySelector('#busy.on'), n, { timeout: 30_000 });
      assert(await page.evaluate(() => window.lmdbgApp.trace.interventions.length === 2), 'the switched-on intervention is traced');
      await page.screenshot({ path: path.join(artifacts, 'saved--embed-live.png') });
    });

    await test('saved views', 'other weights are said after "Make it live"', page, async () => {
      await page.goto(`${siteUrl}?embed=1&hub=%2F_hub&snapshot=${encodeURIComponent('/_hub/views/other.json')}`);
      await page.locator('#make-live').click();
      await page.waitForFunction(() => window.lmdbgApp.dbg && !document.querySelector('#busy.on'), null, { timeout: 60_000 });
      const note = await page.locator('#embed-note').textContent();
      assert(/weights differ/.test(note) && /01234567/.test(note), `says the weights differ: ${note}`);
    });

    await test('saved views', 'a missing or broken saved view is said where the figure goes', page, async () => {
      await page.goto(`${siteUrl}?embed=1&snapshot=${encodeURIComponent('/_hub/views/nope.json')}`);
      await page.locator('#embed-note:visible').waitFor({ timeout: 20_000 });
      const note = await page.locator('#embed-note').textContent();
      assert(/Could not show the saved view \/_hub\/views\/nope\.json: HTTP 404/.test(note), note);
    });
  } finally {
    await close();
  }

  // A saved view with head interventions: listed in the page with their modes, the heads' outputs as saved.
  {
    const { context: ctx, close: closeCtx } = await launch('saved-heads', { width: 1400, height: 900 });
    const p = await ctx.newPage();
    try {
      await test('saved views', 'head interventions are listed and restored, beside the neuron ones', p, async () => {
        await p.goto(`${siteUrl}?hub=%2F_hub&snapshot=${encodeURIComponent('/_hub/views/heads.json')}`);
        await p.locator('#interventions .iv').first().waitFor({ timeout: 20_000 });
        const specs = await p.locator('#interventions .iv').evaluateAll((ls) => ls.map((l) => [l.dataset.spec, l.classList.contains('inactive')]));
        assert(JSON.stringify(specs) === JSON.stringify([['L2H1:off', false], ['L1H3:scale=0.5@1,2', false], ['L3D28:set=20', true]]), `listed: ${JSON.stringify(specs)}`);
        const modes = await p.locator('#iv-0-mode option').evaluateAll((os) => os.map((o) => o.value));
        assert(JSON.stringify(modes) === JSON.stringify(['off', 'scale']), `a head's modes: ${modes}`);
        // The saved trace ran with head 1 of layer 2 off: its output is zero.
        const h = await p.evaluate(() => window.lmdbgApp.trace.positions.at(-1).layers[2].heads.find((x) => x.head === 1));
        assert(h && h.norm === 0, `L2H1's output in the saved trace: ${JSON.stringify(h)}`);
        assert(!/cannot list/.test(await p.locator('body').textContent()), 'nothing is said to be dropped');
        await expectReadable(p, '1400', 'saved view with head interventions', '#interventions-card');
      });
    } finally {
      await closeCtx();
    }
  }

  // Figures: every view as SVG and PNG with its identity in the file; an SVG dropped on the page restores its view.
  {
    const { context: ctx, close: closeCtx } = await launch('saved-figures', { width: 1400, height: 900 });
    const p = await ctx.newPage();
    try {
      await test('saved views', 'each view exports as SVG and PNG that say what they show and carry the view back', p, async () => {
        await p.goto(`${siteUrl}?hub=%2F_hub&snapshot=${encodeURIComponent('/_hub/views/river.json')}`);
        await p.locator('#prediction .pred-row').first().waitFor({ timeout: 20_000 });
        await p.locator('#export-svg:enabled').waitFor({ timeout: 20_000 });
        const views = await p.locator('#figure-view option').evaluateAll((os) => os.map((o) => o.value));
        assert(JSON.stringify(views) === JSON.stringify(['prediction', 'layers', 'lens', 'rank', 'attention']), `views: ${views}`);
        const saved = {};
        for (const view of views) {
          await p.selectOption('#figure-view', view);
          for (const kind of ['svg', 'png']) {
            const [dl] = await Promise.all([p.waitForEvent('download'), p.locator(`#export-${kind}`).click()]);
            const file = path.join(artifacts, `saved--figure-${view}.${kind}`); // kept: the figures as a person sees them
            await dl.saveAs(file);
            const bytes = readFileSync(file);
            const text = kind === 'svg' ? bytes.toString('utf8') : bytes.toString('latin1');
            for (const needle of [want.model.fingerprint, 'The river bank was', 'L3D28:set=20', `lmdbg ${want.lmdbg}`])
              assert(text.includes(needle), `${view}.${kind} says ${needle}`);
            if (kind === 'png') assert(bytes.subarray(1, 4).toString() === 'PNG', `${view}.png is a PNG`);
            else saved[view] = file;
          }
        }
        // Dropped on a page that shows another view, the lens figure brings its own view back.
        await p.goto(`${siteUrl}?hub=%2F_hub&snapshot=${encodeURIComponent('/_hub/views/sea.json')}`);
        await p.locator('#prediction .pred-row').first().waitFor({ timeout: 20_000 });
        const svg = readFileSync(saved.lens, 'utf8');
        await p.evaluate((svg) => {
          const dt = new DataTransfer();
          dt.items.add(new File([svg], 'lmdbg-lens.svg', { type: 'image/svg+xml' }));
          document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        }, svg);
        await p.waitForFunction(() => window.lmdbgApp.prompt === 'The river bank was', null, { timeout: 10_000 });
        const st = await p.evaluate(() => ({ view: window.lmdbgApp.view, ivs: window.lmdbgApp.interventions.length, prompt: document.querySelector('#prompt').value }));
        assert(st.view === 'lens' && st.ivs === 2 && st.prompt === 'The river bank was', `restored: ${JSON.stringify(st)}`);
        assert(await p.locator('#panel-lens').isVisible(), 'the lens tab is open');
      });
    } finally {
      await closeCtx();
    }
  }

  // <lm-debugger> from the site's static build, on a plain page.
  {
    const { context: ctx, close: closeCtx } = await launch('saved-element', { width: 1000, height: 800 });
    const seen = recordRequests(ctx);
    const p = await ctx.newPage();
    try {
      await test('saved views', '<lm-debugger> draws without a model, lazily, its style in its shadow root', p, async () => {
        await p.goto(`${siteUrl}_hub/site-element.html`);
        await p.locator('#a .pred-row').first().waitFor({ timeout: 20_000 });
        assert(!seen.some((u) => /sea\.json/.test(u)), 'the figure far below waits until it is scrolled to');
        assert(!seen.some((u) => MODEL_FILE.test(u)), `no model file: ${seen.filter((u) => MODEL_FILE.test(u))}`);
        const outside = await p.locator('#outside').evaluate((e) => getComputedStyle(e).color);
        assert(outside === 'rgb(1, 2, 3)', `the page's own style stays: ${outside}`);
        const styled = await p.evaluate(() => document.querySelector('#a').shadowRoot.adoptedStyleSheets.length === 1 && document.styleSheets.length === 1);
        assert(styled, 'the figure brings its style in its shadow root only');
        await p.locator('#b').scrollIntoViewIfNeeded();
        await p.locator('#b .lens-cell').first().waitFor({ timeout: 20_000 });
        assert(await p.evaluate(() => document.querySelector('#b').app.view === 'lens'), 'the saved view opens its view');
        await p.screenshot({ path: path.join(artifacts, 'saved--element.png') });
      });

      await test('saved views', 'several <lm-debugger> share one Worker and one model', p, async () => {
        await p.locator('#a').scrollIntoViewIfNeeded();
        await p.locator('#a #make-live').click();
        await p.waitForFunction(() => document.querySelector('#a').app.dbg && !document.querySelector('#a').shadowRoot.querySelector('#busy.on'), null, { timeout: 60_000 });
        await p.locator('#b').scrollIntoViewIfNeeded();
        await p.locator('#b #make-live').click();
        await p.waitForFunction(() => document.querySelector('#b').app.dbg && document.querySelector('#b').app.trace?.lens, null, { timeout: 60_000 });
        const n = seen.filter((u) => /model\.safetensors$/.test(u) && !/\/cdn\//.test(u)).length;
        assert(n === 1, `one download of the model for both figures: ${n}`);
        const workers = seen.filter((u) => /\/worker-(?!client)[^/]*\.js$/.test(u));
        assert(workers.length === 1, `one Worker: ${workers}`);
        assert(await p.evaluate(() => document.querySelector('#a').app.dbg === document.querySelector('#b').app.dbg), 'the same model');
      });
    } finally {
      await closeCtx();
    }
  }

  // <lm-debugger> from the npm package (lmdbg/element), served as it ships, on another origin.
  {
    const { context: ctx, close: closeCtx } = await launch('saved-package', { width: 700, height: 600 });
    const seen = recordRequests(ctx);
    const p = await ctx.newPage();
    try {
      await test('saved views', 'the npm package’s <lm-debugger> draws, then traces once made live', p, async () => {
        await p.goto(`${hub.url}/package-element.html`);
        await p.locator('#c .pred-row').first().waitFor({ timeout: 20_000 });
        await expectReadable(p, '700', 'package lm-debugger, saved view', 'lm-debugger#c', { run: 'intervened' });
        assert(!seen.some((u) => MODEL_FILE.test(u)), `no model file: ${seen.filter((u) => MODEL_FILE.test(u))}`);
        assert((await p.locator('#c #embed-open').count()) === 1 && (await p.locator('#c #embed-open').isHidden()), 'no link to a site it does not know');
        await p.locator('#c #make-live').click();
        await p.waitForFunction(() => document.querySelector('#c').app.dbg && !document.querySelector('#c').shadowRoot.querySelector('#busy.on'), null, { timeout: 60_000 });
        assert(seen.some((u) => /\/l4-f32\/model\.safetensors$/.test(u)), 'loads the model the element names');
        assert(await p.evaluate(() => document.querySelector('#c').app.trace.positions.at(-1).predicted.text) === predicted, 'traces the saved prompt');
        await p.screenshot({ path: path.join(artifacts, 'saved--package-element.png') });
      });
    } finally {
      await closeCtx();
    }
  }

  // Readable at the three sizes, before "Make it live": the saved view on the page, in the embed, in the element.
  const river = encodeURIComponent('/_hub/views/river.json');
  for (const [size, viewport] of [['1400', { width: 1400, height: 900 }], ['700x460', { width: 700, height: 460 }], ['390', { width: 390, height: 844 }]]) {
    const { context: ctx, close: closeCtx } = await launch(`saved-readable-${size}`, viewport);
    const p = await ctx.newPage();
    try {
      await test(`readable at ${size}`, 'a saved view, before "Make it live"', p, async () => {
        if (size === '700x460') {
          await p.goto(`${siteUrl}?embed=1&hub=%2F_hub&snapshot=${river}`);
          await p.locator('#prediction .pred-row').first().waitFor({ timeout: 20_000 });
          await expectReadable(p, size, 'embed, saved view', '.embed', { run: 'intervened' });
          const h = await p.evaluate(() => document.documentElement.scrollHeight);
          if (h > 460 + 4) throw new Error(`does not fit the 460 px iframe (${h} px)`);
          for (const tab of ['lens', 'layers', 'attn', 'compare']) {
            await p.locator(`#etab-${tab}`).click();
            await expectReadable(p, size, `embed, saved view, ${tab}`, '.embed', { run: 'intervened' });
          }
        } else {
          await p.goto(`${siteUrl}?hub=%2F_hub&snapshot=${river}`);
          await p.locator('#prediction .pred-row').first().waitFor({ timeout: 20_000 });
          await expectReadable(p, size, 'saved view, prediction', 'section:has(> #pred-h)', { run: 'intervened' });
          await expectReadable(p, size, 'saved view, save and export', '#figures-card');
          await p.goto(`${siteUrl}_hub/site-element.html`);
          await p.locator('#a .pred-row').first().waitFor({ timeout: 20_000 });
          await expectReadable(p, size, 'lm-debugger, saved view', 'lm-debugger#a', { run: 'intervened' });
        }
      });
    } finally {
      await closeCtx();
    }
  }
}
