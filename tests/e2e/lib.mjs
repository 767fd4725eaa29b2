// Shared by the end-to-end runner and the README screenshot: Debian's Chromium through playwright-core,
// the demo's own static server, and the package's mock Hugging Face Hub (tests/js/helpers.js).
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../demo/serve.mjs';
import { startHub, tinyGpt2 } from '../js/helpers.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const distDir = process.env.LMDBG_DEMO_DIST ? path.resolve(process.env.LMDBG_DEMO_DIST) : path.join(root, 'demo/dist');
export const artifacts = path.join(root, 'tests/artifacts/e2e');
export const FIXTURE = 'lmdbg-test/l4-f32';
export const STALL = 'lmdbg-test/stall';
/** The connection drops twice while model.safetensors downloads. */
export const FLAKY = 'lmdbg-test/flaky';
/** A 13 MB model (13 cache parts of 1 MiB): long enough at 2 MB/s to stop midway and resume. */
export const BIG = 'lmdbg-test/big';
/** The fixture again, for a load whose caching the browser refuses (quota). */
export const QUOTA = 'lmdbg-test/quota';

// Required on this machine (docs: /work/shared/ENV.md).
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function bundledAvailable() {
  return existsSync(path.join(root, 'demo/public/models/lmdbg-mini/model.safetensors')) || existsSync(path.join(distDir, 'models/lmdbg-mini/model.safetensors'));
}

/** `staticDir`: files the mock Hub serves as they are (saved views and plain pages, tests/e2e/saved.mjs). */
export async function startServers() {
  const staticDir = mkdtempSync(path.join(os.tmpdir(), 'lmdbg-e2e-static-'));
  const fixtureDir = path.join(root, 'tests/fixtures/models/l4-f32');
  const big = tinyGpt2({ vocabSize: 507, nLayer: 4, d: 256, nHead: 4, nCtx: 32, seed: 7 });
  const hub = await startHub({
    staticRoot: staticDir,
    repos: {
      [FIXTURE]: fixtureDir,
      // Announces a large model.safetensors and stalls: for the busy state and Cancel.
      [STALL]: { dir: fixtureDir, stall: { 'model.safetensors': 50_000_000 } },
      [FLAKY]: { dir: fixtureDir, drop: { 'model.safetensors': { after: 300_000, times: 2 } } },
      [BIG]: {
        dir: fixtureDir,
        files: { 'config.json': big.config, 'model.safetensors': Buffer.from(big.weights), 'value_clusters.json': null },
      },
      [QUOTA]: fixtureDir,
    },
  });
  // The Hub mirror is paced at 2 MB/s so the progress bar has bytes and a speed to show.
  const site = await startServer({ root: distDir, port: 0, hubProxy: hub.url, hubRate: 2_000_000 });
  return { hub, site, staticDir };
}

/** A fresh profile (its own Cache Storage and service worker) per context. */
export async function launch(name, viewport = { width: 1280, height: 900 }, options = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `lmdbg-e2e-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
    ...options,
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return { context, close };
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true });
  return artifacts;
}

/** Waits until the page is idle with a rendered trace (and its logit lens). */
export async function waitTraced(target, timeout = 60_000) {
  await target.waitForFunction(
    () => {
      const app = window.lmdbgApp;
      return !!app && !!app.trace && !!app.trace.lens && !document.querySelector('#busy.on') && document.querySelectorAll('#prediction .pred-row').length > 0;
    },
    null,
    { timeout },
  );
}

export async function waitIdle(target, timeout = 60_000) {
  await target.waitForFunction(() => !!window.lmdbgApp && !document.querySelector('#busy.on'), null, { timeout });
}
