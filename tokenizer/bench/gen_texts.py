#!/usr/bin/env python3
"""Writes texts.jsonl: random texts for the differential test against HF tokenizers.

usage: gen_texts.py CORPUS_JSON OUT_DIR [SEED]
Mixes substrings of the golden corpus, random corpus characters, tricky pieces (special
tokens, combining marks, ZWJ emoji, regional indicators, spaces of all kinds, controls,
Hangul jamo, Indic viramas) and random code points.
"""
import json, random, sys

corpus, out_dir = sys.argv[1], sys.argv[2]
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
c = json.load(open(corpus))
texts = c["singles"] + [x for p in c["pairs"] for x in p]
chars = "".join(texts)
tricky = [" ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u200d", "\u200b", "\ufeff", "\u0301",
          "\u0308", "<s>", "</s>", "<mask>", " <mask>", "<unk>", "<pad>", "\x00", "\x1b", "\ufffd",
          "ﬁ", "ｶﾞ", "ß", "İ", "Ⅻ", "①", "㍿", "👨‍👩‍👧", "🇺🇸", "1️⃣", "e\u0301\u0301", "\U0001F3FD",
          "한국어", "\u0e33", "\u0bcd", "\u094d", "\ue000"]
pools = [
    [chr(c) for c in range(0x1100, 0x1200)] + [chr(c) for c in range(0xAC00, 0xAC40)],
    [chr(c) for c in range(0x0900, 0x0A00)],
    [chr(c) for c in range(0x0300, 0x0370)] + list("aeiouAEIOU "),
    [chr(c) for c in range(0x1F1E6, 0x1F200)] + ["\U0001F3FB", "\u200d", "\ufe0f", "\u20e3", "#", "1", "\U0001F468"],
    ["\r", "\n", "\r\n", " ", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u3000", "a"],
    [chr(c) for c in range(0xFF00, 0xFFF0)] + [chr(c) for c in range(0x3300, 0x3400)],
    [chr(c) for c in range(0x0E00, 0x0E80)] + [chr(c) for c in range(0x0600, 0x0700)],
]
out = []
for _ in range(10000):
    k = random.random()
    if k < 0.2:
        t = random.choice(texts)
        a = random.randrange(len(t) + 1)
        s = t[a:random.randrange(a, min(len(t), a + 200) + 1)]
    elif k < 0.4:
        s = "".join(random.choice(chars) for _ in range(random.randrange(40)))
    elif k < 0.6:
        s = "".join(random.choice(tricky) if random.random() < 0.5 else random.choice(chars) for _ in range(random.randrange(25)))
    elif k < 0.9:
        pool = sum(random.sample(pools, random.randrange(1, 3)), [])
        s = "".join(random.choice(pool) for _ in range(random.randrange(30)))
    else:
        s = "".join(chr(random.randrange(0x20, 0x2FFFF)) for _ in range(random.randrange(30)))
    out.append(s.encode("utf-8", "replace").decode("utf-8"))
with open(out_dir + "/texts.jsonl", "w") as f:
    for s in out:
        f.write(json.dumps({"text": s}) + "\n")
print(len(out), "texts")
