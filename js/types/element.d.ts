/**
 * lmdbg/element: the `<lm-debugger>` custom element, a live figure for a blog post or course notes.
 * Importing the module defines the element:
 *
 *   <script type="module" src="https://cdn.example/lmdbg/dist/element.js"></script>
 *   <lm-debugger snapshot="views/capital.json"></lm-debugger>
 *
 * Attributes: `snapshot` (a saved view: drawn with no model), `model` (where "Make it live" loads it
 * from: hub:ID or a folder URL), `prompt`, `interventions` ("L9D1234:off !L3D5:on"), `view`
 * (prediction, layers, lens, rank, attention, compare), `layer`, `live` (load the model when shown),
 * `hub` (a Hub mirror). Figures on one page share one Worker and one model per source, start when
 * scrolled near the viewport, and keep their style in their shadow root. It fires `lmdbg-ready` once
 * it has drawn what it was given.
 */
export declare class LmDebugger extends HTMLElement {}

declare global {
  interface HTMLElementTagNameMap {
    'lm-debugger': LmDebugger;
  }
}
