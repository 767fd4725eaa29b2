// lmdbg: LM-Debugger for GPT-2 in WebAssembly. The public API is declared by hand in
// js/types/index.d.ts (shipped as dist/index.d.ts); the types below check this implementation
// against it at compile time (they emit nothing).
import type * as Api from '../types/index.js';
import { LMDebugger } from './debugger.js';
import { getActName, headName, hookNames, interventionModes, parseIntervention, valueVectorName } from './names.js';
import { simdSupported } from './module.js';
import { readSnapshot, snapshotTrace, snapshotViews } from './snapshot.js';

export { LMDebugger, getActName, headName, hookNames, interventionModes, parseIntervention, valueVectorName, simdSupported, readSnapshot, snapshotTrace, snapshotViews };

type Conforms<Impl extends Decl, Decl> = Impl;
export type _ConformsToIndexDts = [
  Conforms<typeof LMDebugger.load, typeof Api.LMDebugger.load>,
  Conforms<LMDebugger, Api.Debugger>,
  Conforms<typeof getActName, typeof Api.getActName>,
  Conforms<typeof hookNames, typeof Api.hookNames>,
  Conforms<typeof parseIntervention, typeof Api.parseIntervention>,
  Conforms<typeof interventionModes, typeof Api.interventionModes>,
  Conforms<typeof valueVectorName, typeof Api.valueVectorName>,
  Conforms<typeof headName, typeof Api.headName>,
  Conforms<typeof simdSupported, typeof Api.simdSupported>,
  Conforms<typeof readSnapshot, typeof Api.readSnapshot>,
  Conforms<typeof snapshotTrace, typeof Api.snapshotTrace>,
  Conforms<typeof snapshotViews, typeof Api.snapshotViews>,
];
