// Shared by the benchmark scripts (Node) and browser_page.mjs (served to the page): the prompts,
// command-line options, medians.

// 96 words that are one GPT-2 token each (with their leading space), in ggml's tokenizer too.
export const WORDS = (
  'the of and to in is was for on that with as by at from his it an were are which this be or has had not ' +
  'first one their its new after but who they have her she two been other when there all during into school ' +
  'time may years more most only over city some world would where later up such used many can state about ' +
  'national out known university united then made'
).split(' ');
/** n tokens of text: the words above in turn. */
export const promptText = (n) => Array.from({ length: n }, (_, i) => ' ' + WORDS[i % WORDS.length]).join('');

export const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** Options parser over argv (a copy is consumed): opt(name, default) takes `name value` out of it. */
export function options(argv) {
  const args = [...argv];
  const opt = (name, def) => {
    const i = args.indexOf(name);
    if (i < 0) return def;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  return { args, opt };
}
