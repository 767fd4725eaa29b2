// The predicted token's rank and probability through the layers as one SVG chart: drawn by the rank view
// (views/lens.ts) and by its exported figure (figures.ts), so it sits below both.
import type { PositionTrace } from 'lmdbg';
import { pct, s } from './dom';

export interface RankPoint {
  label: string;
  layer: number;
  rank: number;
  prob: number;
  /** The followed tokens' (TraceOptions.track), in their order. */
  tracked: { rank: number; prob: number }[];
}

/** Colour classes of the followed tokens, in their order (style.css). */
export const TRACK_CLASSES = ['t0', 't1', 't2', 't3', 't4', 't5'];

/**
 * The predicted token's rank (log scale, left axis) and probability (right axis) before and after each
 * layer's FFN, drawn at `width` px: the view and its exported figure (figures.ts) are this one chart.
 */
export function rankChart(pos: PositionTrace, width: number, selected: number | null): { svg: SVGSVGElement; pts: RankPoint[] } {
  const pts: RankPoint[] = [];
  for (const l of pos.layers)
    for (const side of ['before', 'after'] as const)
      pts.push({
        label: `${l.layer} ${side} FFN`,
        layer: l.layer,
        rank: l.predictedRank[side],
        prob: l.predictedProb[side],
        tracked: (l.tracked ?? []).map((x) => ({ rank: x.rank[side], prob: x.prob[side] })),
      });
  const followed = pos.layers[0].tracked ?? [];
  const W = Math.round(Math.min(760, Math.max(200, width)));
  const H = Math.round(Math.min(220, Math.max(150, W * 0.4)));
  const maxRank = Math.max(10, ...pts.map((p) => p.rank + 1), ...pts.flatMap((p) => p.tracked.map((x) => x.rank + 1)));
  // Room on the left for the longest rank label (a followed token can rank in the ten thousands).
  const ml = Math.max(34, 12 + 7.5 * String(10 ** Math.floor(Math.log10(maxRank))).length), mr = 38, mt = 12, mb = 34;
  const iw = W - ml - mr, ih = H - mt - mb;
  const logMax = Math.log10(maxRank);
  const x = (i: number) => ml + (pts.length === 1 ? iw / 2 : (i * iw) / (pts.length - 1));
  const yr = (r: number) => mt + (Math.log10(r + 1) / logMax) * ih; // rank 0 at the top
  const yp = (p: number) => mt + (1 - p) * ih;
  const pathOf = (ys: number[]) => ys.map((y, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y.toFixed(1)}`).join('');
  const rankPath = pathOf(pts.map((p) => yr(p.rank)));
  const probPath = pathOf(pts.map((p) => yp(p.prob)));
  const ticks: SVGElement[] = [];
  for (let r = 1; r <= maxRank; r *= 10) {
    ticks.push(s('line', { x1: ml, x2: W - mr, y1: yr(r - 1), y2: yr(r - 1), class: 'grid' }));
    ticks.push(s('text', { x: ml - 6, y: yr(r - 1) + 4, 'text-anchor': 'end', class: 'axis rank' }, String(r)));
  }
  for (const p of [0, 0.5, 1]) ticks.push(s('text', { x: W - mr + 6, y: yp(p) + 4, class: 'axis prob' }, `${p * 100}%`));
  // Layer numbers at least 24 px apart, so that they never run into each other.
  const every = Math.max(1, Math.ceil(24 / Math.max(1, x(2) - x(0))));
  for (const l of pos.layers) {
    const i = 2 * l.layer;
    if (l.layer % every === 0) ticks.push(s('text', { x: (x(i) + x(i + 1)) / 2, y: H - mb + 16, 'text-anchor': 'middle', class: 'axis' }, String(l.layer)));
    if (selected === l.layer) ticks.push(s('rect', { x: x(i) - 4, y: mt, width: x(i + 1) - x(i) + 8, height: ih, class: 'sel' }));
  }
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img', 'aria-label': `Rank and probability of the predicted token ${JSON.stringify(pos.predicted.text)}${followed.length ? ` and the rank of ${followed.map((f) => JSON.stringify(f.text)).join(', ')}` : ''} through the layers; the table below has the numbers` },
    ticks,
    s('text', { x: ml + iw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis' }, 'layer (before → after FFN)'),
    followed.map((_f, k) => s('path', { d: pathOf(pts.map((p) => yr(p.tracked[k].rank))), class: `line tracked ${TRACK_CLASSES[k]}` })),
    s('path', { d: rankPath, class: 'line rank' }),
    s('path', { d: probPath, class: 'line prob' }),
    followed.map((f, k) => pts.map((p, i) => s('circle', { cx: x(i), cy: yr(p.tracked[k].rank), r: 2.5, class: `dot tracked ${TRACK_CLASSES[k]}` }, s('title', null, `${JSON.stringify(f.text)}, layer ${p.label}: rank ${p.tracked[k].rank + 1}, p ${pct(p.tracked[k].prob)}`)))),
    pts.map((p, i) => s('circle', { cx: x(i), cy: yr(p.rank), r: 3, class: 'dot rank' }, s('title', null, `layer ${p.label}: rank ${p.rank + 1}`))),
    pts.map((p, i) => s('circle', { cx: x(i), cy: yp(p.prob), r: 3, class: 'dot prob' }, s('title', null, `layer ${p.label}: p ${pct(p.prob)}`))),
  );
  return { svg, pts };
}
