#!/usr/bin/env node
// End-to-end tests of the demo page (demo/dist, built by `npm run build:demo`) in headless Chromium.
// Two models: the bundled offline model, and a fixture GPT-2 served by a local mock Hugging Face Hub
// (tests/js/helpers.js, mirrored same-origin under /_hub/ by demo/serve.mjs). For each: the trace renders,
// a sub-update opens its details, switching an intervention changes the prediction, search returns
// results, generation streams tokens, a share URL round-trips, embed mode works, markup stays text, the
// page is keyboard-usable, does not shift while tracing, fits a phone, and logs no console errors. Then,
// with the servers stopped and the browser offline, the bundled model still traces, intervenes, searches
// and generates. Screenshots go to tests/artifacts/e2e/. Ends with "N passed, N failed".
//
//   node tests/e2e/run.mjs [--only hub|bundled|readable|saved] [--verbose]
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { artifacts, BIG, bundledAvailable, distDir, ensureArtifacts, FIXTURE, FLAKY, launch, QUOTA, startServers, STALL, waitIdle, waitTraced } from './lib.mjs';
import { existsSync } from 'node:fs';
import { expectReadable, headerCovered } from './readable.mjs';
import { savedViewsSuite } from './saved.mjs';

const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const verbose = argv.includes('--verbose');

let passed = 0;
let failed = 0;
const failures = [];

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

async function test(suite, name, page, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${suite}: ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    failures.push(`${suite}: ${name}`);
    console.log(`FAIL ${suite}: ${name} (${Date.now() - t0} ms)\n     ${String(e && e.stack ? e.stack : e).split('\n').slice(0, verbose ? 8 : 2).join('\n     ')}`);
  } finally {
    if (page && !page.isClosed()) await page.screenshot({ path: path.join(artifacts, `${slug(suite)}--${slug(name)}.png`), fullPage: true }).catch(() => {});
  }
}

/** Console errors, page errors and dialogs (an XSS would open one) of every page of a context. */
function watch(context) {
  const errors = [];
  const hook = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
      else if (verbose) console.log(`     [console.${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      errors.push(`dialog: ${d.type()} ${d.message()}`);
      d.dismiss().catch(() => {});
    });
  };
  context.pages().forEach(hook);
  context.on('page', hook);
  return errors;
}

async function traces(page) {
  return page.evaluate(() => window.lmdbgApp?.traces ?? 0);
}
async function waitNextTrace(page, before, timeout = 60_000) {
  await page.waitForFunction((n) => window.lmdbgApp && window.lmdbgApp.traces > n && !document.querySelector('#busy.on'), before, { timeout });
}

/**
 * Finds (through the API, in the page) an intervention that changes the top prediction: an LM-Debugger
 * switch (off/on) of a dominant sub-update when one does it, else setting a coefficient (m = 10, 20, 50).
 */
async function findChangingIntervention(page) {
  return page.evaluate(async () => {
    const app = window.lmdbgApp;
    const ids = await app.tokens();
    const pos = app.trace.positions[app.trace.positions.length - 1];
    const subs = [...pos.layers].reverse().flatMap((l) => l.subUpdates);
    const tries = [];
    for (const mode of ['on', 'off']) for (const su of subs) tries.push({ layer: su.layer, index: su.index, mode });
    for (const value of [10, 20, 50]) for (const su of subs) tries.push({ layer: su.layer, index: su.index, mode: 'set', value });
    for (const iv of tries) {
      const r = await app.dbg.trace(ids, { topK: 1, subUpdates: 0, valueTopK: 0, interventions: [iv] });
      if (r.positions[0].clean.changed)
        return { spec: `L${iv.layer}D${iv.index}:${iv.mode}${iv.mode === 'set' ? `=${iv.value}` : ''}`, mode: iv.mode, clean: r.positions[0].clean.predicted.text, now: r.positions[0].predicted.text };
    }
    return null;
  });
}

// The shown top prediction: the last column (with interventions when there are some).
const predTop = (page) =>
  page.evaluate(() => {
    const cols = document.querySelectorAll('#prediction .pred-col');
    const tok = cols[cols.length - 1]?.querySelector('.pred-row .tok');
    return tok ? JSON.parse(tok.title.replace(/ \(id \d+\)$/, '')) : null;
  });
const ivSpecs = (page) => page.evaluate(() => [...document.querySelectorAll('#interventions .iv')].map((e) => `${e.classList.contains('inactive') ? '!' : ''}${e.dataset.spec}`));

async function suite(label, { context, siteUrl, model, hub, prompt, keyword }) {
  const errors = watch(context);
  const page = await context.newPage();
  const q = new URLSearchParams({ m: model, p: prompt });
  if (hub) q.set('hub', '/_hub');
  const url = `${siteUrl}?${q}`;
  let config = null;
  let changing = null;

  await test(label, 'the trace renders', page, async () => {
    await page.goto(url);
    if (hub) {
      // Not cached yet: the page asks before downloading, then shows bytes and speed.
      await page.locator('#welcome button.primary').waitFor({ timeout: 20_000 });
      await page.evaluate(() => {
        window.__progress = [];
        const rec = () => window.__progress.push([document.querySelector('#busy-detail').textContent, document.querySelector('#busy-progress').getAttribute('value')]);
        new MutationObserver(rec).observe(document.querySelector('#busy'), { subtree: true, childList: true, characterData: true, attributes: true });
      });
      await page.locator('#welcome button.primary').click();
    }
    await waitTraced(page);
    config = await page.evaluate(() => window.lmdbgApp.dbg.config);
    const T = await page.evaluate(() => window.lmdbgApp.trace.tokens.length);
    assert((await page.locator('#layers .layer-table:not(.skeleton) tbody tr').count()) === config.nLayers, 'one row per layer');
    assert((await page.locator('#prediction .pred-row').count()) === 10, 'top-10 prediction');
    assert((await page.locator('#layers .chip').count()) >= config.nLayers, 'sub-update chips in every layer');
    const chip = await page.locator('#layers .chip').first().textContent();
    assert(/^L\d+D\d+[+−]\d/.test(chip), `chip shows L{l}D{i} and a signed score: ${chip}`);
    assert((await page.locator('#panel-lens .lens-cell').count()) === config.nLayers * T, 'logit lens: layers × positions');
    // The DOM shows what the API computed.
    const api = await page.evaluate(() => window.lmdbgApp.trace.positions[0].predicted.text);
    assert((await predTop(page)) === api, 'top prediction matches the trace');
    await page.locator('#tab-rank').click();
    assert((await page.locator('#panel-rank circle').count()) === 4 * config.nLayers, 'rank and probability: 2 points per layer each');
    await page.locator('#tab-attn').click();
    assert((await page.locator('#panel-attn .head').count()) === config.nHeads, 'one thumbnail per head');
    await page.locator('#panel-attn canvas.attn-big').focus();
    await page.keyboard.press('ArrowDown');
    assert(/attends to/.test(await page.locator('#panel-attn .readout').textContent()), 'the attention cursor is read out');
    await page.locator('#tab-lens').click();
    if (hub) {
      const prog = await page.evaluate(() => window.__progress);
      assert(prog.some(([t]) => /\d(\.\d)? (KB|MB) \/ \d/.test(t)), `progress shows bytes: ${JSON.stringify(prog.slice(-3))}`);
      assert(prog.some(([t]) => /\d(\.\d)? (KB|MB)\/s · \d+ s left/.test(t)), `progress shows a speed and the time left: ${JSON.stringify(prog.slice(-3))}`);
      // Once it is cached, the page asks the browser to keep it (persistent storage) and says how it went.
      await page.waitForFunction(() => /Kept in this browser for offline use/.test(document.querySelector('#model-note')?.textContent ?? ''), null, { timeout: 10_000 });
      assert((await page.evaluate(() => window.__persistCalls)) === 1, 'persistent storage asked for once');
      assert(prog.some(([, v]) => v !== null && Number(v) > 0 && Number(v) < 1), 'the progress bar moves');
    }
  });

  await test(label, 'a sub-update opens its details', page, async () => {
    const chip = page.locator('#layers .layer-table .chip').first();
    const name = await chip.getAttribute('data-name');
    await chip.click();
    await page.locator(`#details .vv[data-name="${name}"]`).waitFor({ timeout: 20_000 });
    const lists = page.locator('#details .vv .mini-list');
    assert((await lists.nth(0).locator('li').count()) === 15 && (await lists.nth(1).locator('li').count()) === 15, 'top and bottom tokens');
    // Its values are the API's.
    const [l, i] = name.slice(1).split('D').map(Number);
    const top = await page.evaluate(([l, i]) => window.lmdbgApp.dbg.valueVector(l, i, { topK: 1 }).then((v) => v.top[0].text), [l, i]);
    assert(JSON.parse((await lists.nth(0).locator('.tok').first().getAttribute('title')).replace(/ \(id \d+\)$/, '')) === top, 'top token matches the API');
    if (await page.evaluate(() => window.lmdbgApp.hasClusters)) assert((await page.locator('#details .cluster .chip').count()) > 0, 'its cluster, when clusters are loaded');
    // Add an intervention from it, then remove it.
    await page.locator('#details .vv button', { hasText: 'Switch on' }).click();
    assert((await ivSpecs(page)).includes(`${name}:on`), 'added from the details panel');
    await page.locator('#interventions .iv button[aria-label^="Remove"]').first().click();
    assert((await ivSpecs(page)).length === 0, 'removed');
    // From the layer view too.
    await page.locator('#layers .layer-btn').nth(1).click();
    await page.locator('#layer-detail .sub-table button', { hasText: 'Off' }).first().click();
    assert((await ivSpecs(page)).length === 1 && (await ivSpecs(page))[0].endsWith(':off'), 'added from the layer view');
    await page.locator('#interventions button', { hasText: 'Clear all' }).click();
    await waitIdle(page);
  });

  await test(label, 'switching an intervention changes the prediction', page, async () => {
    await page.waitForTimeout(400); // let the re-trace from the previous test settle
    await waitIdle(page);
    changing = await findChangingIntervention(page);
    assert(changing, 'some sub-update switch changes the prediction');
    const clean = await predTop(page);
    let n = await traces(page);
    await page.fill('#iv-spec', changing.spec);
    await page.press('#iv-spec', 'Enter');
    await waitNextTrace(page, n);
    assert((await page.locator('#prediction .banner.changed[data-changed="true"]').count()) === 1, 'a banner says the prediction changed');
    const cols = page.locator('#prediction .pred-col');
    assert((await cols.count()) === 2, 'clean beside intervened');
    assert((await page.locator('#prediction .pred-row.changed').count()) > 0, 'the change is highlighted');
    const newTop = await page.evaluate(() => window.lmdbgApp.trace.positions[0].predicted.text);
    assert(newTop !== clean && newTop === changing.now, `new prediction ${JSON.stringify(newTop)} (clean ${JSON.stringify(clean)})`);
    // Switch it off: back to the clean prediction. Each edit is one engine call (issue 13): one forward pass
    // without interventions, two with one (the clean run beside it).
    const passes = () => page.evaluate(async () => (await window.lmdbgApp.dbg.memory()).forwardPasses);
    let p = await passes();
    n = await traces(page);
    await page.locator('#iv-0-active').uncheck();
    await waitNextTrace(page, n);
    assert((await predTop(page)) === clean && (await page.locator('#prediction .banner.changed').count()) === 0, 'inactive: clean again');
    assert((await passes()) - p === 1, `an edit without interventions cost ${(await passes()) - p} forward passes, not 1`);
    p = await passes();
    n = await traces(page);
    await page.locator('#iv-0-active').check();
    await waitNextTrace(page, n);
    assert((await predTop(page)) === changing.now, 'active again');
    assert((await passes()) - p === 2, `an edit with an intervention cost ${(await passes()) - p} forward passes, not 2`);
    // Set a value instead (LM-Debugger's numeric mode).
    // Change its mode and value from the panel, then put it back.
    n = await traces(page);
    await page.selectOption('#iv-0-mode', changing.mode === 'set' ? 'off' : 'set');
    await waitNextTrace(page, n);
    assert((await ivSpecs(page))[0].includes(changing.mode === 'set' ? ':off' : ':set='), 'mode changed');
    n = await traces(page);
    await page.selectOption('#iv-0-mode', changing.mode);
    await waitNextTrace(page, n);
    if (changing.mode === 'set') {
      n = await traces(page);
      await page.fill('#iv-0-value', changing.spec.split('=')[1]);
      await page.press('#iv-0-value', 'Enter');
      await waitNextTrace(page, n);
    }
    assert((await ivSpecs(page))[0] === changing.spec && (await predTop(page)) === changing.now, `back to ${changing.spec}: ${(await ivSpecs(page))[0]}`);
  });

  await test(label, 'search returns results', page, async () => {
    await page.fill('#search-q', keyword);
    await page.locator('#search .hit').first().waitFor({ timeout: 30_000 });
    const hits = await page.locator('#search .hit').count();
    assert(hits > 0 && hits <= 20, `hits: ${hits}`);
    assert((await page.locator('#search .hit .tok.match').count()) > 0, 'matched tokens are marked');
    const name = await page.locator('#search .hit').first().getAttribute('data-name');
    await page.locator('#search .hit').first().click();
    await page.locator(`#details .vv[data-name="${name}"]`).waitFor({ timeout: 20_000 });
  });

  await test(label, 'clusters: loaded with the model, or computed by the Worker in idle time', page, async () => {
    // The bundled model ships value_clusters.json; the Hub fixture has none, so the Worker computes them.
    await page.locator('#details .vv .cluster').waitFor({ timeout: 120_000 });
    const computed = /computed in this browser/.test(await page.locator('#details .vv .cluster h4').textContent());
    assert(computed === !!hub, `${hub ? 'computed' : 'loaded'} clusters`);
    const c = await page.evaluate(async (n) => {
      const [, l, i] = /^L(\d+)D(\d+)$/.exec(n);
      return (await window.lmdbgApp.dbg.valueVector(Number(l), Number(i))).cluster;
    }, await page.locator('#details .vv').getAttribute('data-name'));
    assert((await page.locator('#details .vv .cluster h4').textContent()).includes(`Cluster ${c.id} · ${c.size} value vectors`), 'the cluster shown is the API\'s');
    assert((await page.locator('#details .vv .cluster .chip').count()) === Math.min(12, c.members.length), 'its members');
    assert((await page.locator('#details .vv .cluster .toklist .tok').count()) === Math.min(10, c.topTokens.length), 'its top tokens');
  });

  await test(label, 'generation streams tokens', page, async () => {
    await page.evaluate(() => {
      window.__gen = [];
      new MutationObserver(() => window.__gen.push(document.querySelectorAll('#gen-out .gen-tok').length)).observe(document.querySelector('#gen-out'), { childList: true, subtree: true });
    });
    await page.fill('#gen-n', '12');
    await page.locator('#gen-go').click();
    await page.waitForFunction(() => document.querySelectorAll('#gen-out .gen-block').length === 2 && !document.querySelector('#gen-go').disabled, null, { timeout: 60_000 });
    const batches = await page.evaluate(() => window.__gen);
    const distinct = new Set(batches.filter((n) => n > 0));
    const ivCount = await page.locator('#gen-out .gen-block.intervened .gen-tok').count();
    assert(ivCount >= 1 && ivCount <= 12, `tokens with interventions: ${ivCount}`);
    assert(distinct.size >= Math.min(ivCount, 3), `tokens arrived one by one (${[...distinct].join(',')})`);
    assert(/intervention/.test(await page.locator('#gen-out .gen-block.intervened h4').textContent()), 'labelled as intervened');
    // The streamed continuation is the API's greedy continuation with the same interventions.
    const want = await page.evaluate(async () => {
      const app = window.lmdbgApp;
      let s = '';
      for await (const t of app.dbg.generate(await app.tokens(), { maxNewTokens: 12, interventions: app.activeInterventions() })) s += t.text;
      return s;
    });
    const got = await page.locator('#gen-out .gen-block.intervened .gen-new').evaluate((e) => [...e.querySelectorAll('.gen-tok')].map((t) => t.textContent).join(''));
    assert(got === want, `streamed text ${JSON.stringify(got)} = API ${JSON.stringify(want)}`);
    // Stop ends a long generation (best effort on a fast model: it may finish first).
    await page.fill('#gen-n', '200');
    await page.locator('#gen-go').click();
    await page.locator('#gen-stop').click({ timeout: 3000 }).catch(() => {});
    await page.waitForFunction(() => !document.querySelector('#gen-go').disabled, null, { timeout: 60_000 });
  });

  let shareUrl = '';
  await test(label, 'a share URL round-trips', page, async () => {
    await page.locator('#layers .layer-btn').nth(config.nLayers - 1).click();
    shareUrl = await page.inputValue('#share-url');
    assert(shareUrl.length < 4000 && new URL(shareUrl).searchParams.get('iv'), `share URL: ${shareUrl}`);
    const want = {
      prompt: await page.inputValue('#prompt'),
      ivs: await ivSpecs(page),
      layer: await page.locator('#layers .layer-btn[aria-pressed="true"]').textContent(),
      detail: await page.locator('#details .vv').getAttribute('data-name'),
      top: await predTop(page),
    };
    const p2 = await context.newPage();
    try {
      await p2.goto(shareUrl);
      await waitTraced(p2);
      await p2.locator('#details .vv').waitFor({ timeout: 20_000 });
      const got = {
        prompt: await p2.inputValue('#prompt'),
        ivs: await ivSpecs(p2),
        layer: await p2.locator('#layers .layer-btn[aria-pressed="true"]').textContent(),
        detail: await p2.locator('#details .vv').getAttribute('data-name'),
        top: await predTop(p2),
      };
      assert(JSON.stringify(got) === JSON.stringify(want), `same view: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      assert((await p2.inputValue('#share-url')) === shareUrl, 'the same link again');
      // Bounded parsing: oversized or malformed state is dropped with a message, never run.
      const bad = new URL(shareUrl);
      bad.searchParams.set('p', 'x'.repeat(3000));
      bad.searchParams.set('l', '1e9');
      bad.searchParams.append('iv', 'L1D2:off;alert(1)');
      bad.searchParams.append('iv', 'L99999D1:off');
      await p2.goto(bad.href);
      // The warnings come at start-up, before the model loads (a toast hides itself after a while).
      await p2.locator('#toast').waitFor({ state: 'visible', timeout: 10_000 });
      await waitIdle(p2);
      assert(!(await p2.inputValue('#prompt')).startsWith('xxx'), 'over-long prompt ignored');
      const ivs = await ivSpecs(p2);
      assert(ivs.length === want.ivs.length, `malformed interventions dropped: ${JSON.stringify(ivs)}`);
      assert((await p2.locator('#layers .layer-btn[aria-pressed="true"]').count()) === 0, 'invalid layer ignored');
    } finally {
      await p2.close();
    }
  });

  await test(label, 'embed mode works', page, async () => {
    const snippet = await page.inputValue('#embed-snippet');
    assert(/^<iframe src="[^"]+embed=1"/.test(snippet), `snippet: ${snippet}`);
    const src = /src="([^"]+)"/.exec(snippet)[1].replace(/&amp;/g, '&');
    const p3 = await context.newPage();
    try {
      await p3.setContent(`<!doctype html><title>blog</title><p>A figure:</p>${snippet}`);
      const f = p3.frameLocator('iframe');
      const frame = await (await p3.waitForSelector('iframe')).contentFrame();
      await frame.waitForURL((u) => u.href === src, { timeout: 20_000 });
      // Storage is partitioned per embedding site: a Hub model may ask before downloading again.
      await frame.waitForFunction(() => window.lmdbgApp && (window.lmdbgApp.dbg || !document.querySelector('#welcome').hidden), null, { timeout: 30_000 });
      if (!(await frame.evaluate(() => !!window.lmdbgApp.dbg))) await f.locator('#welcome button.primary').click();
      await waitTraced(frame);
      const views = [await page.evaluate(() => window.lmdbgApp.view), await frame.evaluate(() => window.lmdbgApp.view)];
      assert(views[0] === views[1], `the embed opens the page's view: ${views}`);
      await f.locator('#etab-pred').click();
      assert((await frame.locator('#app').count()) === 0 && (await frame.locator('.embed').count()) === 1, 'compact layout');
      assert((await frame.locator('#prediction .pred-col').count()) === 2 && (await frame.locator('#prediction .pred-col').last().locator('.pred-row:visible').count()) === 5, 'top-5, clean beside intervened');
      assert((await frame.locator('#prediction .banner.changed').count()) === 1, 'the shared intervention is live');
      assert((await frame.locator('#panel-rank svg circle').count()) === 4 * config.nLayers, 'rank chart');
      const n = await frame.evaluate(() => window.lmdbgApp.traces);
      await frame.locator('#embed-ivs input[type=checkbox]').first().uncheck();
      await frame.waitForFunction((n) => window.lmdbgApp.traces > n && !document.querySelector('#busy.on'), n, { timeout: 30_000 });
      assert((await frame.locator('#prediction .banner.changed').count()) === 0, 'switching it off in the embed re-traces');
      const open = await frame.locator('#embed-open').getAttribute('href');
      assert(!new URL(open).searchParams.has('embed'), 'links to the full page');
      const fits = await frame.evaluate(() => document.documentElement.scrollHeight <= 460 + 4);
      assert(fits, 'fits the 460 px iframe');
      await p3.screenshot({ path: path.join(artifacts, `${slug(label)}--embed.png`) });
    } finally {
      await p3.close();
    }
  });

  await test(label, 'a prompt containing markup stays text', page, async () => {
    // Short enough for the fixture's 64-token context.
    const evil = '<img src=x onerror=alert(1)><|endoftext|><b>b</b>&amp;';
    const n = await traces(page);
    await page.fill('#prompt', evil);
    await page.locator('#trace-btn').click();
    await waitNextTrace(page, n);
    const toks = await page.evaluate(() => [...document.querySelectorAll('#tokens .tok')].map((e) => JSON.parse(e.title.replace(/ \(id \d+\)$/, ''))));
    assert(toks.join('') === evil, `tokens re-join to the prompt: ${JSON.stringify(toks)}`);
    assert(toks.includes('<|endoftext|>'), '<|endoftext|> is one (special) token, shown as text');
    const els = await page.evaluate(() => ({
      img: document.querySelectorAll('img').length,
      b: document.querySelectorAll('main b').length,
      inlineScripts: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
      text: document.querySelector('#tokens').textContent,
    }));
    assert(els.img === 0 && els.b === 0 && els.inlineScripts === 0, `no elements from data: ${JSON.stringify(els)}`);
    assert(els.text.includes('<img') && els.text.includes('<|endoftext|>'), 'visible as text');
    assert((await page.locator('#panel-lens thead .tok').count()) === toks.length, 'lens headers are the tokens');
    // Generated text and names are text too.
    await page.fill('#gen-n', '3');
    await page.locator('#gen-go').click();
    await page.waitForFunction(() => !document.querySelector('#gen-go').disabled && document.querySelector('#gen-out .gen-prompt'), null, { timeout: 60_000 });
    assert((await page.locator('#gen-out .gen-prompt').first().textContent()) === evil, 'generation shows the prompt as text');
    const csp = await page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? '');
    assert(/script-src 'self' 'wasm-unsafe-eval'/.test(csp) && !/unsafe-inline/.test(csp), `CSP: ${csp}`);
    // The Worker gets its policy from its script's response (demo/serve.mjs sends it).
    const workerCsp = await page.evaluate(async () => {
      const u = performance.getEntriesByType('resource').map((e) => e.name).find((n) => /\/assets\/worker-[^/]*\.js$/.test(n));
      return u ? (await fetch(u)).headers.get('content-security-policy') : 'no worker script';
    });
    assert(/connect-src 'self' https:\/\/huggingface\.co/.test(workerCsp ?? ''), `worker CSP: ${workerCsp}`);
  });

  await test(label, 'an error is shown as text and the page stays usable', page, async () => {
    const n = await traces(page);
    await page.fill('#prompt', 'word '.repeat(config.nCtx + 8));
    await page.locator('#trace-btn').click();
    await page.locator('#toast.error').waitFor({ timeout: 30_000 });
    assert(/exceeds|context/.test(await page.locator('#toast').textContent()), `message: ${await page.locator('#toast').textContent()}`);
    await page.locator('#toast button').click();
    await page.fill('#prompt', prompt);
    await page.locator('#trace-btn').click();
    await waitNextTrace(page, n);
  });

  await test(label, 'value-vector names are saved locally and export/import', page, async () => {
    const vv = page.locator('#details .vv');
    const name = await vv.getAttribute('data-name');
    const label2 = '<i>river</i> neuron';
    await page.fill('#vv-name', label2);
    await page.press('#vv-name', 'Tab');
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('lmdbg.names.v1')));
    const key = await page.evaluate(() => window.lmdbgApp.names.model);
    assert(stored[key][name] === label2, 'in localStorage');
    assert((await page.locator('main i').count()) === 0, 'a name with markup is text');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#details button', { hasText: 'Export names' }).click()]);
    const file = path.join(artifacts, `${slug(label)}-names.json`);
    await download.saveAs(file);
    const exported = JSON.parse((await import('node:fs')).readFileSync(file, 'utf8'));
    assert(exported.schema === 'lmdbg.names/1' && exported.names[name] === label2, 'exported');
    const other = `L0D${config.dMlp - 1}`;
    // Checked against the loaded model, all or nothing; the reason is shown next to the button.
    const refused = async (content, want) => {
      writeFileSync(file, JSON.stringify(content));
      await page.setInputFiles('#names-import', file);
      await page.locator('#names-import-error').waitFor();
      const text = await page.locator('#names-import-error').textContent();
      assert(want.test(text), `refused with a reason: ${text}`);
      assert(!(await page.evaluate((o) => window.lmdbgApp.names.get(o), other)), 'nothing imported');
      assert(!(await page.locator('#toast').isVisible()), 'not in a toast');
    };
    await refused({ names: { [other]: 'imported one' } }, /not an lmdbg names file: it needs "schema": "lmdbg\.names\/1"/);
    await refused({ schema: 'lmdbg.names/1', names: { [other]: 'imported one', L99D1: 'too deep' } }, new RegExp(`L99D1: layer 99 is outside this model \\(${config.nLayers} layers: 0–${config.nLayers - 1}\\)`));
    await refused({ schema: 'lmdbg.names/1', names: { [other]: 'imported one', [`L0D${config.dMlp}`]: 'too wide' } }, new RegExp(`neuron ${config.dMlp} is outside this model`));
    await refused({ schema: 'lmdbg.names/1', names: { [other]: 'imported one', 'L1D2;bad': 'x' } }, /"L1D2;bad" is not a value-vector name/);
    writeFileSync(file, JSON.stringify({ schema: 'lmdbg.names/1', model: 'hub:someone/else', names: { [other]: 'imported one' } }));
    await page.setInputFiles('#names-import', file);
    await page.waitForFunction((o) => window.lmdbgApp.names.get(o) === 'imported one', other);
    assert(/Imported 1 name .*exported for hub:someone\/else/.test(await page.locator('#details .names-bar').textContent()), 'says what was imported, and from which model');
    assert(!(await page.locator('#names-import-error').isVisible()), 'the error is gone');
  });

  await test(label, 'intervention errors are shown next to the field and say what is wrong', page, async () => {
    const before = await ivSpecs(page);
    const d = config.dMlp - 3; // a neuron that no other test switches
    const T = await page.evaluate(async () => (await window.lmdbgApp.tokens()).length);
    const typed = async (text, mode = 'off') => {
      await page.selectOption('#iv-mode', mode);
      await page.fill('#iv-spec', text);
      await page.press('#iv-spec', 'Enter');
      await page.waitForTimeout(100);
      const shown = await page.locator('#iv-error').isVisible();
      return shown ? await page.locator('#iv-error').textContent() : null;
    };
    let msg = await typed(`L1D${d}:set=abc`);
    assert(msg === 'The value "abc" of set is not a number', `set=abc: ${msg}`);
    assert((await page.getAttribute('#iv-spec', 'aria-invalid')) === 'true' && /iv-error/.test(await page.getAttribute('#iv-spec', 'aria-describedby')), 'linked to the field');
    assert(!(await page.locator('#toast').isVisible()), 'not in a toast');
    msg = await typed(`L1D${d}x`, 'on');
    assert(msg.startsWith(`"L1D${d}x" is not a sub-update name like L3D120`) && !msg.includes(`L1D${d}x:on`), `quotes what was typed, not the mode: ${msg}`);
    await page.locator('#iv-spec').press('End');
    await page.keyboard.type('y');
    assert(!(await page.locator('#iv-error').isVisible()), 'typing clears it');
    msg = await typed(`L1D${d}:on@${T + 95}`);
    assert(msg === `L1D${d}: position ${T + 95} is past the end of the prompt (${T} tokens: positions 0–${T - 1}).`, `position: ${msg}`);
    msg = await typed(`L${config.nLayers}D1`);
    assert(msg === `L${config.nLayers}D1: layer ${config.nLayers} is outside this model (${config.nLayers} layers: 0–${config.nLayers - 1}).`, `layer: ${msg}`);
    const n = await traces(page);
    msg = await typed(`l1d${d}`, 'on');
    assert(msg === null, `lowercase is accepted: ${msg}`);
    await waitNextTrace(page, n);
    assert((await ivSpecs(page)).includes(`L1D${d}:on`), 'added with the chosen mode');
    // A value typed in the list: checked by the same parser, the error beside that field.
    const i = (await ivSpecs(page)).indexOf(`L1D${d}:on`);
    let m = await traces(page);
    await page.selectOption(`#iv-${i}-mode`, 'set');
    await waitNextTrace(page, m);
    await page.fill(`#iv-${i}-value`, '1e9x');
    await page.press(`#iv-${i}-value`, 'Enter');
    assert((await page.locator(`#iv-${i}-value-error`).textContent()) === 'The value "1e9x" of set is not a number', 'the value field says why');
    m = await traces(page);
    await page.locator(`#interventions button[aria-label="Remove L1D${d}"]`).click();
    await waitNextTrace(page, m);
    assert(JSON.stringify(await ivSpecs(page)) === JSON.stringify(before), 'back to the interventions before');
    assert(/can lower a coefficient|already larger is lowered/.test(await page.locator('#iv-help').textContent()), 'the help says what on does');
  });

  await test(label, 'sampling takes a seed: the same seed gives the same text', page, async () => {
    await page.fill('#gen-n', '6');
    await page.locator('#gen-sample').check();
    const run = async (seed) => {
      await page.fill('#gen-seed', seed);
      await page.locator('#gen-go').click();
      await page.waitForFunction(() => !document.querySelector('#gen-go').disabled, null, { timeout: 60_000 });
      return page.locator('#gen-out .gen-block').first().evaluate((b) => [b.querySelector('h4').textContent, b.querySelector('.gen-new').textContent]);
    };
    const [h1, a] = await run('5');
    const [, b] = await run('5');
    assert(a === b && a.length > 0, `same seed, same text: ${JSON.stringify([a, b])}`);
    assert(/seed 5/.test(h1), `labelled with its seed: ${h1}`);
    await page.fill('#gen-seed', 'x');
    await page.locator('#gen-go').click();
    assert(/The seed must be a whole number/.test(await page.locator('#gen-seed-error').textContent()), 'a bad seed is refused next to the field');
    await page.fill('#gen-seed', '1');
    await page.locator('#gen-sample').uncheck();
  });

  await test(label, 'keyboard-accessible with labels', page, async () => {
    const unlabeled = await page.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll('input, select, textarea, button')) {
        if (el.closest('[hidden]') || el.type === 'hidden') continue;
        const name = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.labels && el.labels.length && [...el.labels].map((l) => l.textContent).join('').trim()) || (el.tagName === 'BUTTON' && el.textContent.trim()) || el.title;
        if (!name) bad.push(el.outerHTML.slice(0, 80));
      }
      return bad;
    });
    assert(unlabeled.length === 0, `unlabeled controls: ${unlabeled.join(' | ')}`);
    // Skip link -> prompt, type, Ctrl+Enter traces.
    await page.goto(`${siteUrl}?${q}`);
    await waitTraced(page);
    await page.keyboard.press('Tab');
    assert((await page.evaluate(() => document.activeElement.className)) === 'skip', 'the first Tab reaches the skip link');
    await page.keyboard.press('Enter');
    await page.locator('#prompt').focus(); // fragment navigation moves the start point; make it explicit
    const n = await traces(page);
    await page.keyboard.press('End');
    await page.keyboard.type(' by');
    await page.keyboard.press('Control+Enter');
    await waitNextTrace(page, n);
    assert((await page.inputValue('#prompt')).endsWith(' by'), 'typed');
    // Tabs follow the arrow keys.
    await page.locator('#tab-lens').focus();
    await page.keyboard.press('ArrowRight');
    assert((await page.locator('#tab-rank').getAttribute('aria-selected')) === 'true' && (await page.locator('#panel-rank').isVisible()), 'arrow keys switch tabs');
    await page.keyboard.press('ArrowLeft');
    // A layer button by keyboard.
    await page.locator('#layers .layer-btn').first().focus();
    await page.keyboard.press('Enter');
    assert((await page.locator('#layer-detail .layer-full').count()) === 1, 'Enter opens a layer');
  });

  await test(label, 'no layout shift while tracing', page, async () => {
    // Adding an intervention grows its list (the user's doing); tracing itself must not move anything.
    if ((await ivSpecs(page)).length === 0) {
      const n0 = await traces(page);
      await page.fill('#iv-spec', changing.spec);
      await page.press('#iv-spec', 'Enter');
      await waitNextTrace(page, n0);
    }
    await page.evaluate(() => {
      window.__cls = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries())
          window.__cls.push({
            v: e.value,
            at: Math.round(e.startTime),
            src: e.sources?.map((s) => `${s.node?.id || s.node?.className || s.node?.nodeName} y ${Math.round(s.previousRect.y)}→${Math.round(s.currentRect.y)} h ${Math.round(s.previousRect.height)}→${Math.round(s.currentRect.height)}`),
          });
      }).observe({ type: 'layout-shift', buffered: false });
    });
    let n = await traces(page);
    await page.evaluate(() => window.__cls.push({ v: 0, step: 'trace', at: Math.round(performance.now()) }));
    await page.fill('#prompt', `${prompt} a`);
    await page.locator('#trace-btn').click();
    await waitNextTrace(page, n);
    n = await traces(page);
    await page.evaluate(() => window.__cls.push({ v: 0, step: 'off', at: Math.round(performance.now()) }));
    await page.locator('#iv-0-active').uncheck();
    await waitNextTrace(page, n);
    n = await traces(page);
    await page.evaluate(() => window.__cls.push({ v: 0, step: 'on', at: Math.round(performance.now()) }));
    await page.locator('#iv-0-active').check();
    await waitNextTrace(page, n);
    await page.waitForTimeout(300);
    const shifts = await page.evaluate(() => window.__cls);
    const cls = shifts.reduce((a, s) => a + s.v, 0);
    assert(cls < 0.01, `cumulative layout shift ${cls.toFixed(4)}: ${JSON.stringify(shifts).slice(0, 1200)}`);
  });

  await test(label, 'usable at phone width', page, async () => {
    const p4 = await context.newPage();
    try {
      await p4.setViewportSize({ width: 390, height: 844 });
      await p4.goto(shareUrl);
      await waitTraced(p4);
      const m = await p4.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth, trace: document.querySelector('#trace-btn').getBoundingClientRect().right }));
      assert(m.sw <= m.w && m.trace <= m.w, `no horizontal page scroll: ${JSON.stringify(m)}`);
      await p4.screenshot({ path: path.join(artifacts, `${slug(label)}--phone.png`), fullPage: true });
    } finally {
      await p4.close();
    }
  });

  return { page, errors, shareUrl };
}


// ---------------------------------------------------------------- readable everywhere

// A prompt with one of GPT-2's longest tokens (64 "="), so that shortened tokens are exercised too.
const LONG_PROMPT = 'Notes ================================================================ The river bank was';

/** The patch heatmap's cells as shown, against a sweep from the API (2 decimals). */
async function expectHeatmap(page, ref) {
  const L = ref.metric.length;
  const T = ref.target.tokens.length;
  const cells = await page.locator('#panel-patch tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  assert(cells.length === L && cells[0].length === T, `${cells.length}×${cells[0]?.length} cells for ${L}×${T}`);
  for (let l = 0; l < L; l++)
    for (let p = 0; p < T; p++) {
      const v = ref.metric[l][p];
      const text = cells[L - 1 - l][p];
      if (v === null) assert(text === '–', `L${l} p${p}: ${text} for no source position`);
      else assert(Math.abs(Number(text) - v) <= 0.0051 * Math.max(1, Math.abs(v)), `L${l} p${p}: ${text} for ${v}`);
    }
}

async function readabilitySuite(siteUrl) {
  const VIEWS = [
    ['prompt and tokens', 'section:has(> #prompt-h)', null],
    ['prediction', 'section:has(> #pred-h)', 'run'],
    ['layers table and a layer in full', 'section:has(> #layers-h)', 'run'],
    ['logit lens', '#panel-lens', 'run', '#tab-lens'],
    ['rank chart', '#panel-rank', 'run', '#tab-rank'],
    ['attention', '#panel-attn', 'run', '#tab-attn'],
    ['clean vs intervened', '#panel-compare', 'run', '#tab-compare', 'intervened'],
    ['sub-update details', '#details-card', 'run'],
    ['interventions', '#interventions-card', null],
    ['generation', 'section:has(> #gen-h)', null],
    ['search', 'section:has(> #search-h)', null],
    ['share and embed', 'section:has(> #share-h)', null],
    ['save and export', '#figures-card', null],
    ['model picker', '#model-sec', null],
    ['model card', '#model-card-sec', null],
    ['patching heatmap', '#panel-patch', null, '#tab-patch', 'clean'],
    ['why this token', '#panel-attr', 'run', '#tab-attr'],
  ];
  // At the embed's size, 700x460, the full page's views of activation patching, followed tokens and search.
  const SMALL = new Set(['rank chart', 'patching heatmap', 'search', 'why this token']);
  for (const [size, viewport] of [['1400', { width: 1400, height: 900 }], ['700x460', { width: 700, height: 460 }], ['390', { width: 390, height: 844 }]]) {
    const suiteName = `readable at ${size} px`;
    const { context, close } = await launch(`readable-${size}`, viewport);
    const page = await context.newPage();
    try {
      await test(suiteName, 'first visit: the model choice', page, async () => {
        await page.goto(siteUrl);
        await page.waitForFunction(() => /lmdbg-mini/.test(document.querySelector('#welcome')?.textContent ?? ''), null, { timeout: 20_000 });
        await expectReadable(page, size, 'first visit', '#welcome');
        await expectReadable(page, size, 'model picker, nothing loaded', '#model-sec');
      });
      await page.goto(`${siteUrl}?${new URLSearchParams({ m: 'bundled', p: LONG_PROMPT, l: '1' })}`);
      await waitTraced(page);
      // Fill the panels that wait for the user: a value vector, a search, a generation.
      await page.evaluate(() => {
        const su = window.lmdbgApp.trace.positions.at(-1).layers[1].subUpdates[0];
        window.lmdbgApp.openDetail(su.layer, su.index);
      });
      await page.locator('#details .vv').waitFor({ timeout: 20_000 });
      // Case-insensitive, and a keyword of several tokens says so.
      await page.fill('#search-q', 'Water, xylophone');
      await page.locator('#search .hit').first().waitFor({ timeout: 30_000 });
      await page.locator('#search .search-notes .multi').waitFor({ timeout: 30_000 });
      await page.fill('#gen-n', '8');
      await page.locator('#gen-go').click();
      await page.waitForFunction(() => !document.querySelector('#gen-go').disabled && document.querySelectorAll('#gen-out .gen-tok').length > 0, null, { timeout: 60_000 });
      // Two followed tokens in the rank chart; one that is two tokens is refused next to the field.
      await page.locator('#tab-rank').click();
      for (const tok of [' water', ' river']) {
        const n = await traces(page);
        await page.fill('#track-q', tok);
        await page.press('#track-q', 'Enter');
        await waitNextTrace(page, n);
      }
      await test(suiteName, 'followed tokens: the trace has them, the chart draws them, a bad one is refused', page, async () => {
        const want = await page.evaluate(async () => Promise.all([' water', ' river'].map(async (t) => (await window.lmdbgApp.dbg.tokenize(t))[0])));
        const got = await page.evaluate(() => window.lmdbgApp.trace.positions.at(-1).layers[0].tracked.map((x) => x.id));
        assert(JSON.stringify(got) === JSON.stringify(want), `tracked ${JSON.stringify(got)} for ${JSON.stringify(want)}`);
        assert((await page.locator('#panel-rank path.line.tracked').count()) === 2, 'one line per followed token');
        assert((await page.locator('#panel-rank .track-chip').count()) === 2, 'one chip per followed token');
        assert(new URL(page.url()).searchParams.get('tk') === want.join(','), 'the link keeps them');
        await page.fill('#track-q', 'water river');
        await page.press('#track-q', 'Enter');
        await page.locator('#track-error:not([hidden])').waitFor({ timeout: 10_000 });
        assert(/2 tokens/.test(await page.locator('#track-error').textContent()), 'says it is 2 tokens');
        await page.fill('#track-q', '');
      });
      // A patching sweep from a shorter source prompt; a cell opens the patched trace.
      await page.locator('#tab-patch').click();
      await page.fill('#patch-source', 'Notes The sea shore was');
      await page.locator('#patch-go').click();
      await page.locator('#panel-patch .patch-table').waitFor({ timeout: 60_000 });
      await test(suiteName, 'patching: the heatmap is the API\'s sweep; a cell opens the patched trace', page, async () => {
        const ref = await page.evaluate(async () => {
          const app = window.lmdbgApp;
          const m = app.sweep.sweep.options;
          const s = await app.dbg.patchSweep('Notes The sea shore was', app.prompt, { hook: m.hook, metric: m.metric });
          return s;
        });
        const L = ref.metric.length;
        const T = ref.target.tokens.length;
        await expectHeatmap(page, ref);
        // The last layer's resid_post at the last position hands over the source's final residual.
        await page.selectOption('#patch-hook', 'resid_post');
        await page.locator('#patch-go').click();
        await page.waitForFunction(() => window.lmdbgApp.sweep?.sweep.options.hook === 'resid_post' && document.querySelector('#panel-patch .patch-table'), null, { timeout: 60_000 });
        const post = await page.evaluate(() => window.lmdbgApp.sweep.sweep);
        assert(Math.abs(post.metric[L - 1][T - 1] - post.clean) < 1e-4 * Math.max(1, Math.abs(post.clean)), `last cell ${post.metric[L - 1][T - 1]} for the source's ${post.clean}`);
        const n = await traces(page);
        await page.locator(`#panel-patch .cell-btn[data-layer="${L - 1}"][data-pos="${T - 1}"]`).click();
        await waitNextTrace(page, n);
        const opt = await page.evaluate(() => window.lmdbgApp.trace.options.patch);
        assert(opt && opt.layer === L - 1 && JSON.stringify(opt.positions) === JSON.stringify([T - 1]), `patched trace ${JSON.stringify(opt)}`);
        assert(/patched in/.test(await page.locator('#prediction .run-label').last().textContent()), 'the prediction says it is patched');
        const m = n + 1;
        await page.locator('#patch-clear').click();
        await waitNextTrace(page, m);
        assert(!(await page.evaluate(() => window.lmdbgApp.trace.options.patch)), 'back to the unpatched trace');
        await page.fill('#patch-source', '');
        await page.locator('#patch-go').click();
        await page.locator('#patch-error:not([hidden])').waitFor({ timeout: 10_000 });
        await page.fill('#patch-source', 'Notes The sea shore was');
      });
      await test(suiteName, 'patching one head\'s result: the heatmap is the API\'s sweep of that head; a cell traces it', page, async () => {
        assert(!(await page.locator('#patch-head').isVisible()), 'no head to choose for resid_post');
        await page.selectOption('#patch-hook', 'result');
        assert(await page.locator('#patch-head').isVisible(), 'a head to choose for result');
        await page.selectOption('#patch-head', '1');
        await page.locator('#patch-go').click();
        await page.waitForFunction(() => window.lmdbgApp.sweep?.sweep.options.hook === 'result' && document.querySelector('#panel-patch .patch-table'), null, { timeout: 60_000 });
        const { ref, shown } = await page.evaluate(async () => {
          const app = window.lmdbgApp;
          const m = app.sweep.sweep.options;
          return { ref: await app.dbg.patchSweep('Notes The sea shore was', app.prompt, { hook: 'result', head: 1, metric: m.metric }), shown: m };
        });
        assert(shown.head === 1, `the sweep patched head ${shown.head}`);
        await expectHeatmap(page, ref);
        const L = ref.metric.length;
        const T = ref.target.tokens.length;
        const n = await traces(page);
        await page.locator(`#panel-patch .cell-btn[data-layer="${L - 1}"][data-pos="${T - 1}"]`).click();
        await waitNextTrace(page, n);
        const opt = await page.evaluate(() => window.lmdbgApp.trace.options.patch);
        assert(opt && opt.hook === 'result' && opt.head === 1 && opt.layer === L - 1, `patched trace ${JSON.stringify(opt)}`);
        const label = await page.locator('#prediction .run-label').last().textContent();
        assert(new RegExp(`L${L - 1}H1 result @${T - 1} patched in`).test(label), `the prediction says which head: ${label}`);
        await page.locator('#patch-clear').click();
        await waitNextTrace(page, n + 1);
      });
      await test(suiteName, 'heads: beside the sub-updates, ranked by norm; switched off or scaled from a layer in full, typed with errors next to the field', page, async () => {
        const pos = await page.evaluate(() => window.lmdbgApp.trace.positions.at(-1));
        const chips = await page.locator('#layers tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td:nth-child(4) .head-chip')].map((c) => c.dataset.name)));
        assert(chips.length === pos.layers.length, `${chips.length} rows`);
        pos.layers.forEach((l, i) => {
          const norms = l.heads.map((x) => x.norm);
          assert(norms.every((v, k) => k === 0 || norms[k - 1] >= v), `layer ${i}: heads ranked by norm ${norms}`);
          assert(JSON.stringify(chips[i]) === JSON.stringify(l.heads.slice(0, 2).map((x) => x.name)), `layer ${i}: chips ${chips[i]}`);
        });
        // Layer 1 is open in full (l=1 in the link): every head with its tokens, Off and ×2.
        const rows = page.locator('#layer-detail .heads-table tbody tr');
        assert((await rows.count()) === pos.layers[1].heads.length, 'one row per head');
        const top = pos.layers[1].heads[0];
        assert((await rows.first().locator('td:nth-child(3) .tok').count()) > 0, 'the tokens it promotes');
        let n = await traces(page);
        await page.locator(`#layer-detail .heads-table button[aria-label="Switch ${top.name} off"]`).click();
        await waitNextTrace(page, n);
        const off = await page.evaluate(() => ({ ivs: window.lmdbgApp.trace.interventions, pos: window.lmdbgApp.trace.positions.at(-1) }));
        assert(JSON.stringify(off.ivs) === JSON.stringify([{ layer: 1, head: top.head, mode: 'off', positions: null }]), `traced with ${JSON.stringify(off.ivs)}`);
        assert(off.pos.layers[1].heads.find((x) => x.head === top.head).norm === 0, 'its output is zero');
        assert(off.pos.clean && (await page.locator('#prediction .pred-col').count()) === 2, 'the clean run beside it');
        assert((await page.locator(`#interventions .iv[data-spec="${top.name}:off"]`).count()) === 1, 'listed');
        n = await traces(page);
        await page.selectOption('#iv-0-mode', 'scale');
        await waitNextTrace(page, n);
        const scaled = await page.evaluate(() => window.lmdbgApp.trace.positions.at(-1).layers[1].heads);
        const s = scaled.find((x) => x.head === top.head);
        assert(Math.abs(s.norm - 2 * top.norm) < 1e-3 * top.norm, `×2: norm ${s.norm} for ${top.norm}`);
        // Typed: errors next to the field; a head on chosen positions.
        for (const [spec, want] of [['L1H99:off', /head 99 is outside layer 1/], ['L1H0:on', /head/i]]) {
          await page.fill('#iv-spec', spec);
          await page.press('#iv-spec', 'Enter');
          await page.locator('#iv-error:not([hidden])').waitFor({ timeout: 10_000 });
          const msg = await page.locator('#iv-error').textContent();
          assert(want.test(msg), `${spec}: ${msg}`);
        }
        n = await traces(page);
        await page.fill('#iv-spec', 'L0H1:scale=0.5@0,1');
        await page.press('#iv-spec', 'Enter');
        await waitNextTrace(page, n);
        const ivs = await page.evaluate(() => window.lmdbgApp.trace.interventions);
        assert(ivs.some((x) => x.layer === 0 && x.head === 1 && x.mode === 'scale' && x.value === 0.5 && JSON.stringify(x.positions) === '[0,1]'), `typed: ${JSON.stringify(ivs)}`);
        await expectReadable(page, size, 'interventions with heads', '#interventions-card');
        n = await traces(page);
        await page.locator('#interventions button:has-text("Clear all")').click();
        await waitNextTrace(page, n);
      });
      await test(suiteName, 'why this token: the waterfall\'s parts sum to the logit, for a token picked from a list and a distractor', page, async () => {
        await page.locator('#tab-attr').click();
        // A token of the prediction's list, through the token menu.
        const chip = page.locator('#prediction .pred-row .tok[data-tok-id]').nth(1);
        const id = Number(await chip.getAttribute('data-tok-id'));
        await chip.click();
        await page.locator('#tok-menu button:has-text("Explain")').first().click();
        await page.waitForFunction((id) => window.lmdbgApp.attribution?.target.id === id, id, { timeout: 30_000 });
        const a = await page.evaluate(() => window.lmdbgApp.attribution);
        const sum = a.components.reduce((x, c) => x + c.value, 0);
        assert(Math.abs(sum - a.logit) < 1e-4 * Math.max(1, Math.abs(a.logit)), `parts sum to ${sum}, logit ${a.logit}`);
        const total = await page.locator('#panel-attr .wf-row.total .num').textContent();
        assert(Math.abs(Number(total) - a.logit) < 0.006, `the total bar says ${total} for ${a.logit}`);
        assert((await page.locator('#panel-attr .wf-row').count()) >= 5, 'a bar per part');
        // Against a distractor picked the same way: the difference.
        const other = page.locator('#prediction .pred-row .tok[data-tok-id]').nth(0);
        const did = Number(await other.getAttribute('data-tok-id'));
        await other.click();
        await page.locator('#tok-menu button:has-text("against")').click();
        await page.waitForFunction((did) => window.lmdbgApp.attribution?.distractor?.id === did, did, { timeout: 30_000 });
        const d = await page.evaluate(() => window.lmdbgApp.attribution);
        const ref = await page.evaluate(async ([t, x]) => {
          const app = window.lmdbgApp;
          const [p, q] = await Promise.all([t, x].map((target) => app.dbg.attribute(app.prompt, { target })));
          return p.logit - q.logit;
        }, [id, did]);
        assert(Math.abs(d.logit - ref) < 1e-4 * Math.max(1, Math.abs(ref)), `difference ${d.logit} for ${ref}`);
        assert(/difference/.test(await page.locator('#panel-attr .wf-row.total').textContent()), 'the total is the difference');
        // A token typed as two tokens is refused next to the field; the view stays.
        await page.fill('#attr-target', 'water river');
        await page.locator('#panel-attr button[type=submit]').click();
        await page.locator('#attr-error:not([hidden])').waitFor({ timeout: 10_000 });
        assert((await page.locator('#panel-attr .wf-row').count()) > 0, 'the last waterfall stays');
        await page.fill('#attr-target', d.target.text);
      });
      for (const state of ['clean', 'intervened']) {
        if (state === 'intervened') {
          const ch = await findChangingIntervention(page);
          const n = await traces(page);
          await page.fill('#iv-spec', ch ? ch.spec : 'L1D1:set=10');
          await page.press('#iv-spec', 'Enter');
          await waitNextTrace(page, n);
        }
        for (const [view, sel, run, tab, only] of VIEWS) {
          if (size === '700x460' && !SMALL.has(view)) continue;
          if (state === 'intervened' && !run && view !== 'interventions') continue;
          if (only && only !== state) continue;
          // (expectReadable() keeps a screenshot of the region itself.)
          await test(suiteName, `${view}, ${state}`, null, async () => {
            if (tab) await page.locator(tab).click();
            await expectReadable(page, size, `${view}, ${state}`, sel, { run: run && state });
            if (view === 'clean vs intervened') {
              // One row per layer; the lens top tokens of both runs, as the trace has them.
              const want = await page.evaluate(() => {
                const pos = window.lmdbgApp.trace.positions.at(-1);
                return pos.layers.map((l, i) => [pos.clean.layers[i].after[0].text, l.after[0].text]);
              });
              const got = await page.locator('#panel-compare tbody tr').evaluateAll((rows) =>
                rows.map((r) => [...r.querySelectorAll('td:nth-child(2) .tok')].map((t) => JSON.parse(t.title.replace(/ \(id \d+\)$/, '')))));
              assert(got.length === want.length, `${got.length} rows for ${want.length} layers`);
              for (let l = 0; l < want.length; l++) {
                const [c, i] = want[l];
                assert(JSON.stringify(got[l]) === JSON.stringify(c === i ? [c] : [c, i]), `layer ${l}: ${JSON.stringify(got[l])} for ${JSON.stringify(want[l])}`);
              }
            }
          });
        }
        await test(suiteName, `the header is never covered, ${state}`, page, async () => {
          const found = await page.evaluate(headerCovered, 'header');
          assert(found.length === 0, found.slice(0, 6).join('; '));
        });
      }
    } finally {
      await close();
    }
  }

  // The embed at its snippet's size, 700x460: clean, with an intervention, and before a model is loaded.
  const { context, close } = await launch('readable-embed', { width: 700, height: 460 });
  const page = await context.newPage();
  const suiteName = 'readable in the 700x460 embed';
  try {
    let spec = null;
    for (const state of ['clean', 'intervened']) {
      await test(suiteName, `${state}`, page, async () => {
        const q = new URLSearchParams({ m: 'bundled', p: LONG_PROMPT, embed: '1', tk: '1660,7850' });
        if (spec) q.append('iv', spec);
        await page.goto(`${siteUrl}?${q}`);
        await waitTraced(page);
        if (state === 'clean') {
          const ch = await findChangingIntervention(page);
          spec = ch ? ch.spec : 'L1D1:set=10';
        } else {
          assert((await page.locator('#prediction .pred-col').count()) === 2, 'clean beside intervened');
        }
        await expectReadable(page, '700x460', `embed, ${state}`, '.embed', { run: state });
        const h = await page.evaluate(() => document.documentElement.scrollHeight);
        assert(h <= 460 + 4, `fits the 460 px iframe (${h} px)`);
      });
    }
    await test(suiteName, 'before a model is loaded', page, async () => {
      await page.goto(`${siteUrl}?${new URLSearchParams({ m: `hub:${FIXTURE}`, hub: '/_hub', embed: '1', p: 'The river' })}`);
      await page.locator('#welcome button.primary').waitFor({ timeout: 20_000 });
      await expectReadable(page, '700x460', 'embed, model choice', '.embed');
    });
  } finally {
    await close();
  }
}

async function main() {
  if (!existsSync(path.join(distDir, 'index.html'))) {
    console.log('demo/dist is missing: run `npm run build:demo` first');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  ensureArtifacts();
  const { hub, site, staticDir } = await startServers();
  const siteUrl = site.url;
  const contexts = [];
  try {
    if (only === null || only === 'saved') await savedViewsSuite({ test, assert, siteUrl, hub, staticDir });
    if (only === 'readable' || (only === null && bundledAvailable())) await readabilitySuite(siteUrl);
    // ---- the fixture model from the mock Hub
    let hubRun = null;
    let hubCtx = null;
    if (only === null || only === 'hub') {
      const { context, close } = await launch('hub');
      contexts.push(close);
      hubCtx = context;
      // Counts the page's requests for persistent storage.
      await context.addInitScript(() => {
        if (typeof StorageManager === 'undefined') return; // (also run in workers)
        const persist = StorageManager.prototype.persist;
        StorageManager.prototype.persist = function () {
          window.__persistCalls = (window.__persistCalls ?? 0) + 1;
          return persist.call(this);
        };
      });
      hubRun = await suite('hub fixture', { context, siteUrl, model: `hub:${FIXTURE}`, hub: true, prompt: 'The river bank was', keyword: 'river' });

      await test('hub fixture', 'busy state with cancel', hubRun.page, async () => {
        const p = await context.newPage();
        try {
          await p.goto(`${siteUrl}?m=hub:${STALL}&hub=%2F_hub&p=x`);
          await p.locator('#welcome button.primary').click();
          await p.locator('#busy.on').waitFor({ timeout: 10_000 });
          assert(/Loading/.test(await p.locator('#busy-label').textContent()), 'says what it is doing');
          assert(await p.locator('#busy-cancel').isEnabled(), 'Cancel is offered');
          await p.locator('#busy-cancel').click();
          await p.waitForFunction(() => !document.querySelector('#busy.on'), null, { timeout: 10_000 });
          assert(await p.locator('#welcome').isVisible(), 'back to the model choice');
          assert(!(await p.locator('#toast.error').isVisible()), 'a cancel is not an error');
        } finally {
          await p.close();
        }
      });

      await test('hub fixture', 'a dropped connection is resumed with Range requests', hubRun.page, async () => {
        const p = await context.newPage();
        try {
          await p.goto(`${siteUrl}?m=hub:${FLAKY}&hub=%2F_hub&p=The+river`);
          await p.locator('#welcome button.primary').click();
          await waitTraced(p);
          const reqs = hub.requests((q) => q.path === `/cdn/${FLAKY}/resolve/main/model.safetensors`);
          assert(reqs.length === 3 && reqs[0].range === null && reqs.slice(1).every((q) => q.status === 206 && /^bytes=[1-9]\d*-$/.test(q.range)), `requests: ${JSON.stringify(reqs)}`);
          // The same weights as the fixture: the same prediction.
          const pred = (pg) => pg.evaluate(async () => (await window.lmdbgApp.dbg.trace('The river')).positions[0].prediction);
          assert(JSON.stringify(await pred(p)) === JSON.stringify(await pred(hubRun.page)), 'the same model');
          assert(!(await p.locator('#model-note.field-error').count()), 'no error');
        } finally {
          await p.close();
        }
      });

      await test('hub fixture', 'a download stopped midway resumes from where it stopped', hubRun.page, async () => {
        const p = await context.newPage();
        try {
          await p.goto(`${siteUrl}?m=hub:${BIG}&hub=%2F_hub&p=The+river`);
          await p.locator('#welcome button.primary').click();
          await p.waitForFunction(() => Number(document.querySelector('#busy-progress')?.getAttribute('value')) > 0.45, null, { timeout: 30_000 });
          await p.locator('#busy-cancel').click();
          await p.waitForFunction(() => /^Resume the download of/.test(document.querySelector('#welcome button.primary')?.textContent ?? ''), null, { timeout: 15_000 });
          const label = await p.locator('#welcome button.primary').textContent();
          assert(/\((\d+(\.\d)?) MB already here\)$/.test(label) && Number(/([\d.]+) MB/.exec(label)[1]) >= 5, `says how much is here: ${label}`);
          await p.evaluate(() => {
            window.__details = [];
            new MutationObserver(() => window.__details.push(document.querySelector('#busy-detail').textContent)).observe(document.querySelector('#busy'), { subtree: true, childList: true, characterData: true });
          });
          await p.locator('#welcome button.primary').click();
          await waitTraced(p);
          const reqs = hub.requests((q) => q.path === `/cdn/${BIG}/resolve/main/model.safetensors`);
          const from = Number(/^bytes=(\d+)-$/.exec(reqs.at(-1).range ?? '')?.[1]);
          assert(reqs.length === 2 && reqs.at(-1).status === 206 && from >= 5 * 2 ** 20, `resumed with a Range request from what was kept: ${JSON.stringify(reqs)}`);
          assert((await p.evaluate(() => window.__details)).some((t) => /kept from an earlier download/.test(t)), 'the progress says so');
        } finally {
          await p.close();
        }
      });

      await test('hub fixture', 'when the browser refuses to cache (quota), the model loads and the page says so', hubRun.page, async () => {
        const p = await context.newPage();
        const cdp = await context.newCDPSession(p);
        try {
          await p.goto(`${siteUrl}?m=hub:${QUOTA}&hub=%2F_hub&p=The+river`);
          await p.locator('#welcome button.primary').waitFor();
          // Room for the small files, not for the 1 MB model.safetensors.
          const usage = await p.evaluate(async () => (await navigator.storage.estimate()).usage);
          await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(siteUrl).origin, quotaSize: usage + 200_000 });
          const calls = await p.evaluate(() => window.__persistCalls ?? 0);
          await p.locator('#welcome button.primary').click();
          await waitTraced(p);
          const note = await p.locator('#model-note').textContent();
          assert(/^Not kept for offline use: the browser refused to keep model\.safetensors in Cache Storage \(its storage quota for this site is full\), so it will be downloaded again next time\.$/.test(note), `note: ${note}`);
          assert(!/offline$/.test(await p.locator('#model-select option:checked').textContent()), 'not offered as offline');
          assert((await p.evaluate(() => window.__persistCalls ?? 0)) === calls, 'no persistent storage asked for what was not kept');
        } finally {
          await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(siteUrl).origin }).catch(() => {});
          await p.close();
        }
      });

      await test('hub fixture', "the user's own files, by drag and drop", hubRun.page, async () => {
        const p = await context.newPage();
        try {
          await p.goto(`${siteUrl}?m=files&p=The+river`);
          await p.locator('#model-drop').waitFor();
          // The welcome card is filled once the page knows its models (after an async start).
          await p.waitForFunction(() => /Drop the four files/.test(document.querySelector('#welcome')?.textContent ?? ''), null, { timeout: 15_000 })
            .catch(() => {});
          assert(/Drop the four files/.test(await p.locator('#welcome').textContent()), 'asks for the files');
          // A real drop event carrying File objects (their bytes fetched from the mock Hub).
          const dt = await p.evaluateHandle(async (repo) => {
            const dt = new DataTransfer();
            for (const name of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'notes.txt']) {
              const bytes = name === 'notes.txt' ? new Uint8Array([104, 105]) : await (await fetch(`_hub/${repo}/resolve/main/${name}`)).arrayBuffer();
              dt.items.add(new File([bytes], name));
            }
            return dt;
          }, FIXTURE);
          await p.dispatchEvent('#model-drop', 'dragover', { dataTransfer: dt });
          await p.dispatchEvent('#model-drop', 'drop', { dataTransfer: dt });
          await waitTraced(p);
          const list = await p.locator('#model-drop-list').textContent();
          assert(/✓ model\.safetensors/.test(list) && /ignored: notes\.txt/.test(list), `file list: ${list}`);
          assert(/your model/.test(await p.locator('#model-status').textContent()), 'loaded from the files');
          assert((await p.locator('#layers .layer-table:not(.skeleton) tbody tr').count()) === 4, 'traced');
          // The file input (keyboard users) works too: a partial set reports what is missing.
          await p.setInputFiles('#model-files', []);
          // Kept in this browser: a reload (or a ?m=files link) loads them with no new drop.
          await p.waitForFunction(() => /Kept in this browser for next time/.test(document.querySelector('#files-kept')?.textContent ?? ''), null, { timeout: 20_000 });
          await p.goto(`${siteUrl}?m=files&p=The+river`);
          await waitTraced(p);
          assert(/your model/.test(await p.locator('#model-status').textContent()), 'loaded from the kept files');
          assert(/from an earlier visit/.test(await p.locator('#files-kept').textContent()), 'says where they come from');
          assert(/· offline$/.test(await p.locator('#model-select option[value="files"]').textContent()), 'offered as available offline');
          await p.locator('#files-forget').click();
          await p.goto(`${siteUrl}?m=files&p=The+river`);
          await p.waitForFunction(() => /Drop the four files/.test(document.querySelector('#welcome')?.textContent ?? ''), null, { timeout: 15_000 });
        } finally {
          await p.close();
        }
      });

      await test('hub fixture', 'a cached Hub model is shown as available offline', hubRun.page, async () => {
        const p = await context.newPage();
        try {
          await p.goto(`${siteUrl}?m=hub:${FIXTURE}&hub=%2F_hub&p=The`);
          await waitTraced(p);
          const opt = await p.locator('#model-select option:checked').textContent();
          assert(/· offline$/.test(opt), `option: ${opt}`);
        } finally {
          await p.close();
        }
      });
      await test('hub fixture', 'no console errors', null, async () => {
        assert(hubRun.errors.length === 0, hubRun.errors.join('\n'));
      });
    }

    // ---- the bundled model
    let bundledRun = null;
    let bundledCtx = null;
    if (only === null || only === 'bundled') {
      if (!bundledAvailable()) {
        await test('bundled', 'the bundled model exists (demo/public/models/lmdbg-mini)', null, async () => assert(false, 'missing'));
      } else {
        const { context, close } = await launch('bundled');
        contexts.push(close);
        bundledCtx = context;
        bundledRun = await suite('bundled', { context, siteUrl, model: 'bundled', hub: false, prompt: 'The river bank was', keyword: 'river' });
        await test('bundled', 'the model card is shown as text with headings, not raw markdown', bundledRun.page, async () => {
          const p = bundledRun.page;
          assert(/Layers/.test(await p.locator('#model-card').textContent()), 'the config');
          await p.waitForFunction(() => document.querySelector('#model-card .readme h3'), null, { timeout: 20_000 });
          const r = await p.evaluate(() => {
            const c = document.querySelector('#model-card .readme');
            return { headings: c.querySelectorAll('h3, h4, h5').length, raw: [...c.querySelectorAll('p, li')].map((e) => e.textContent).filter((t) => /^#{1,6} |^\|.*\|$/.test(t)) };
          });
          assert(r.headings >= 2 && r.raw.length === 0, `headings ${r.headings}, raw markdown left: ${JSON.stringify(r.raw.slice(0, 3))}`);
        });
        await test('bundled', 'markup in a model card stays text', null, async () => {
          // Its own profile without the service worker, so that the card can be replaced on the wire.
          const { context: c2, close: close2 } = await launch('card', undefined, { serviceWorkers: 'block' });
          try {
            const p = await c2.newPage();
            const dialogs = [];
            p.on('dialog', (d) => {
              dialogs.push(d.message());
              d.dismiss().catch(() => {});
            });
            await p.route('**/models/lmdbg-mini/README.md', (r) => r.fulfill({
              status: 200,
              contentType: 'text/markdown',
              body: '# Card <img src=x onerror=alert(1)>\n\nSome *text* with <script>alert(2)</script>, [a link](javascript:alert(3)) and\n[a real one](https://example.org).\n\n## Shape\n\n| a | b |\n|---|---|\n| <b>x</b> | `2` |\n',
            }));
            await p.goto(`${siteUrl}?m=bundled&p=The`);
            await p.waitForFunction(() => document.querySelector('#model-card .readme h3'), null, { timeout: 30_000 });
            const r = await p.evaluate(() => {
              const c = document.querySelector('#model-card .readme');
              return {
                elements: c.querySelectorAll('img, script, b').length,
                h3: c.querySelector('h3').textContent,
                h4: c.querySelector('h4').textContent,
                p: c.querySelector('p').textContent,
                links: [...c.querySelectorAll('a')].map((a) => a.getAttribute('href')),
                cells: [...c.querySelectorAll('td')].map((t) => t.innerHTML),
              };
            });
            const want = { elements: 0, h3: 'Card <img src=x onerror=alert(1)>', h4: 'Shape', p: 'Some text with <script>alert(2)</script>, a link and a real one.', links: ['https://example.org'], cells: ['&lt;b&gt;x&lt;/b&gt;', '<code>2</code>'] };
            assert(JSON.stringify(r) === JSON.stringify(want) && dialogs.length === 0, `${JSON.stringify(r)} ${dialogs}`);
          } finally {
            await close2();
          }
        });
        await test('bundled', 'a first visit offers GPT-2 from the Hub (default) or the bundled model', bundledRun.page, async () => {
          const p = await context.newPage();
          const hubRequests = [];
          p.on('request', (r) => /huggingface\.co|hf\.co/.test(r.url()) && hubRequests.push(r.url()));
          try {
            await p.goto(siteUrl);
            await p.locator('#welcome').waitFor();
            assert((await p.inputValue('#model-select')) === 'hub:openai-community/gpt2', 'GPT-2 small is the default choice');
            assert(/Download and load openai-community\/gpt2/.test(await p.locator('#welcome').textContent()), 'asks before a large download');
            assert(hubRequests.length === 0, 'nothing downloaded without asking');
            await p.locator('#welcome button', { hasText: 'lmdbg-mini' }).click();
            await waitTraced(p);
            assert((await p.inputValue('#prompt')) === 'The capital of France is', 'a default prompt');
            assert(new URL(p.url()).searchParams.get('m') === 'bundled', 'the URL records the model');
          } finally {
            await p.close();
          }
        });
        await test('bundled', 'no console errors', null, async () => {
          assert(bundledRun.errors.length === 0, bundledRun.errors.join('\n'));
        });
      }
    }

    // ---- offline: stop every server, then use the page again
    for (const [name, run] of [['bundled', bundledRun], ['hub fixture', hubRun]]) {
      if (!run) continue;
      await test(name, 'a service worker keeps the app shell and the bundled model', run.page, async () => {
        const info = await run.page.evaluate(async () => {
          const reg = await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(() => r(null), 30_000))]); // active = installed (precache done)
          if (!reg) return { error: `no active service worker after 30 s (${(await navigator.serviceWorker.getRegistrations()).length} registrations)` };
          const keys = await caches.keys();
          const shell = keys.find((k) => k.startsWith('lmdbg-shell-'));
          const urls = shell ? (await (await caches.open(shell)).keys()).map((r) => new URL(r.url).pathname) : [];
          return { scope: reg.scope, controlled: !!navigator.serviceWorker.controller, urls };
        });
        assert(!info.error, info.error);
        assert(info.controlled, 'the page is controlled');
        assert(info.urls.some((u) => u.endsWith('.wasm')) && info.urls.some((u) => /\/assets\/worker-.*\.js$/.test(u)), `shell cached: ${info.urls.join(' ')}`);
        assert(info.urls.some((u) => u.endsWith('/models/lmdbg-mini/model.safetensors')), 'bundled model cached');
      });
    }
    await site.close();
    await hub.close();
    if (bundledCtx && bundledRun) {
      await bundledCtx.setOffline(true);
      const page = bundledRun.page;
      // Failed requests are expected with the network off; anything else is an error.
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|Failed to fetch/.test(m.text())) errors.push(m.text());
      });
      await test('bundled offline', 'the page and the bundled model load with the network off', page, async () => {
        await page.goto(bundledRun.shareUrl);
        await waitTraced(page);
        assert((await page.locator('#prediction .pred-col').last().locator('.pred-row').count()) === 10, 'traced');
        assert((await page.locator('#prediction .banner.changed').count()) === 1, 'with the shared intervention');
      });
      await test('bundled offline', 'intervenes offline', page, async () => {
        await page.locator('#interventions button', { hasText: 'Clear all' }).click();
        await page.waitForTimeout(400);
        await waitIdle(page);
        const ch = await findChangingIntervention(page);
        assert(ch, 'found one');
        const n = await traces(page);
        await page.fill('#iv-spec', ch.spec);
        await page.press('#iv-spec', 'Enter');
        await waitNextTrace(page, n);
        assert((await page.locator('#prediction .banner.changed').count()) === 1, 'changed');
      });
      await test('bundled offline', 'searches offline', page, async () => {
        await page.fill('#search-q', 'water');
        await page.locator('#search .hit').first().waitFor({ timeout: 30_000 });
      });
      await test('bundled offline', 'with no model in the link it offers what is available offline, not a 524 MB download', page, async () => {
        await page.goto(siteUrl);
        await page.locator('#welcome button.primary').waitFor({ timeout: 20_000 });
        const text = await page.locator('#welcome').textContent();
        assert(/You are offline/.test(text) && /needs a connection to download/.test(text), `says why: ${text}`);
        const primary = await page.locator('#welcome button.primary').textContent();
        assert(/^Load lmdbg-mini/.test(primary), `offers the bundled model first: ${primary}`);
        await page.locator('#welcome button.primary').click();
        await waitTraced(page);
        assert((await page.locator('#prediction .pred-row').count()) > 0, 'traced');
      });
      await test('bundled offline', 'generates offline', page, async () => {
        await page.fill('#gen-n', '5');
        await page.locator('#gen-go').click();
        await page.waitForFunction(() => !document.querySelector('#gen-go').disabled && document.querySelectorAll('#gen-out .gen-tok').length > 0, null, { timeout: 60_000 });
        assert(errors.length === 0, errors.join('\n'));
      });
    }
    if (hubCtx && hubRun) {
      await hubCtx.setOffline(true);
      await test('hub offline', 'a Hub model cached by the package loads with the network off', hubRun.page, async () => {
        const page = hubRun.page;
        await page.goto(`${siteUrl}?m=hub:${FIXTURE}&hub=%2F_hub&p=The+river`);
        await waitTraced(page);
        assert((await page.locator('#prediction .pred-col').last().locator('.pred-row').count()) === 10, 'traced');
      });
    }
  } finally {
    for (const close of contexts) await close();
    await site.close().catch(() => {});
    await hub.close().catch(() => {});
    rmSync(staticDir, { recursive: true, force: true });
  }
  if (failures.length) console.log(`\nFailed:\n  ${failures.join('\n  ')}`);
  console.log(`Artifacts: ${path.relative(process.cwd(), artifacts)}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
