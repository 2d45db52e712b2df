#!/usr/bin/env python3
# lavr tokenize against SentencePiece's own ids: trains a small unigram model with the nmt_nfkc charsmap,
# writes it as spiece.model and as a tokenizer.json, and checks every prompt through both files; a second
# model with byte fallback checks the prompts that hold unknown characters, a third one user-defined pieces.
# Usage: sp_compare.py LAVR TMPDIR   (exit 77 when python3-sentencepiece is missing)
import base64
import html
import json
import os
import random
import re
import subprocess
import sys
import unicodedata

try:
    import sentencepiece as spm
except ImportError:
    print("python3 sentencepiece is missing (apt-get install python3-sentencepiece): skipped")
    sys.exit(77)


def corpus(rng):
    """A few hundred lines of varied text: English, accented Latin, Chinese, kana, full-width forms."""
    english = ("a person is talking to the camera with a calm face and natural light the woman smiles while "
               "she speaks about her day in the city and the man listens closely near a window in the evening "
               "it's fine they're here don't stop we'll see").split()
    accents = "café naïve résumé über straße façade élan crème brûlée señor jalapeño Zürich Ångström".split()
    chinese = "一个人在说话阳光明媚的下午她微笑着看着镜头背景是城市的街道我们今天很高兴"
    kana = "こんにちはカタカナひらがなテスト"
    fullwidth = "ＡＢＣａｂｃ１２３！？"
    lines = []
    for i in range(400):
        words = [rng.choice(english) for _ in range(rng.randint(4, 12))]
        if i % 3 == 0:
            words.insert(rng.randint(0, len(words)), rng.choice(accents))
        if i % 4 == 0:
            k = rng.randint(0, len(chinese) - 6)
            words.append(chinese[k:k + rng.randint(2, 6)])
        if i % 7 == 0:
            words.append(kana[rng.randint(0, 5):][:4])
        if i % 9 == 0:
            words.append(fullwidth[rng.randint(0, 6):][:3])
        line = " ".join(words)
        if i % 5 == 0:
            line = line.capitalize() + rng.choice([".", ",", "!", "?", " 2024.", " (42)"])
        lines.append(line)
    return lines


def train(dirname, name, byte_fallback, user_defined=()):
    path = os.path.join(dirname, "corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(corpus(random.Random(0))) + "\n")
    prefix = os.path.join(dirname, name)
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=prefix, vocab_size=400 + 256 * byte_fallback, model_type="unigram",
        character_coverage=1.0, normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        num_threads=1, hard_vocab_limit=False, byte_fallback=byte_fallback, minloglevel=2,
        user_defined_symbols=list(user_defined))
    return prefix + ".model"


def pb_fields(data):
    """(field, wire, value) of a protobuf message; value is bytes for length-delimited fields."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            n, i = varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wire)
        yield field, wire, value


def varint(data, i):
    v, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def write_tokenizer_json(sp, model_path, path, byte_fallback):
    """The Hugging Face form of the model: Unigram vocab with scores and the Precompiled charsmap."""
    charsmap = b""
    with open(model_path, "rb") as f:
        for field, wire, value in pb_fields(f.read()):
            if field == 3 and wire == 2:  # normalizer_spec
                for f2, w2, v2 in pb_fields(value):
                    if f2 == 2 and w2 == 2:
                        charsmap = v2
    assert charsmap, "the trained model has no precompiled charsmap"
    vocab = [[sp.id_to_piece(i), sp.get_score(i)] for i in range(sp.get_piece_size())]
    special = [{"id": i, "content": sp.id_to_piece(i), "special": True} for i in (0, 1, 2)]
    doc = {"version": "1.0", "added_tokens": special,
           "normalizer": {"type": "Sequence", "normalizers": [
               {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode("ascii")},
               {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
           "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"},
           "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": byte_fallback}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return len(charsmap)


# ---- Wan's cleaning as the original runs it: ftfy.fix_text (its deterministic fixers), html.unescape
# twice, whitespace collapsed. ftfy itself is not packaged for Debian; this follows ftfy 6's sources.
LIGATURES = {"Ĳ": "IJ", "ĳ": "ij", "ŉ": "ʼn", "Ǳ": "DZ", "ǲ": "Dz", "ǳ": "dz", "Ǆ": "DŽ", "ǅ": "Dž", "ǆ": "dž",
             "Ǉ": "LJ", "ǈ": "Lj", "ǉ": "lj", "Ǌ": "NJ", "ǋ": "Nj", "ǌ": "nj", "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl",
             "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "ſt", "ﬆ": "st"}
WIDTH = {0x3000: " "}
WIDTH.update({i: unicodedata.normalize("NFKC", chr(i)) for i in range(0xFF01, 0xFFF0)
              if unicodedata.normalize("NFKC", chr(i)) != chr(i)})
CONTROLS = {i: None for r in (range(0, 9), [0x0B], range(0x0E, 0x20), [0x7F], range(0x206A, 0x2070), [0xFEFF],
                              range(0xFFF9, 0xFFFD)) for i in r}
ENTITIES = {}
for _name, _char in html.entities.html5.items():
    if _name.endswith(";"):
        ENTITIES["&" + _name] = _char
        if _name == _name.lower() and html.unescape("&" + _name.upper()) == "&" + _name.upper():
            ENTITIES["&" + _name.upper()] = _char.upper()


def ftfy_unescape(text):
    def fix(m):
        t = m.group(0)
        if t in ENTITIES:
            return ENTITIES[t]
        if t.startswith("&#"):
            u = html.unescape(t)
            return t if ";" in u else u
        return t
    return re.sub(r"&#?[0-9A-Za-z]{1,24};", fix, text)


def ftfy_c1(text):
    return re.sub("[\x80-\x9f]", lambda m: m.group(0).encode("latin-1").decode("cp1252", errors="strict")
                  if m.group(0) not in "\x81\x8d\x8f\x90\x9d" else m.group(0), text)


def ftfy_segment(text, unescape):
    while True:
        orig = text
        if unescape:
            text = ftfy_unescape(text)
        text = ftfy_c1(text)
        text = "".join(LIGATURES.get(c, c) for c in text)
        text = text.translate(WIDTH)
        text = re.sub("[\u201c-\u201f]", '"', text)
        text = re.sub("[\u02bc\u2018-\u201b]", "'", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n") \
                   .replace("\x85", "\n")
        text = re.sub("\033\\[((?:\\d|;)*)([a-zA-Z])", "", text)
        text = text.translate(CONTROLS)
        text = unicodedata.normalize("NFC", text)
        if text == orig:
            return text


def ftfy_fix_text(text):
    out, pos, unescape = [], 0, True
    while pos < len(text):
        brk = text.find("\n", pos) + 1 or len(text)
        seg = text[pos:brk]
        unescape = unescape and "<" not in seg
        out.append(ftfy_segment(seg, unescape))
        pos = brk
    return "".join(out)


def wan_clean(text):
    text = html.unescape(html.unescape(ftfy_fix_text(text))).strip()
    return re.sub(r"\s+", " ", text).strip()


PROMPTS = [
    "A person is talking to the camera.",
    "Ｈｅｌｌｏ　ｗｏｒｌｄ　１２３！ ＡＢＣ",
    "ﬁne ﬂowers, an oﬃce and a waﬄe",
    "一个人在说话，阳光明媚的下午。她微笑着。",
    "café naïve résumé über Ångström",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m",
    "“Hello,” she said. ‘It’s fine.’ „quoted‟ ‚single‛",
    "Tom &amp; Jerry &#39;quoted&#39; &lt;tag&gt; &quot;x&quot; &eacute;t&eacute; &#x4E00;",
    "emoji 😀 🎉 👍🏽 and ❤️ hearts",
    "tab\tseparated\ttext\t\there",
    "line one\nline two\r\nline three\rline four",
    "many     spaces   here    and\u00a0nbsp\u2003em\u3000ideographic",
    "x² ½ ① ㎏ ｶﾀｶﾅ ﾊﾟ ™ …",
    "Ǆemal ĳs ŉ ǅ",
    "a\x01b\x7fc\u200bd\ufeffe\u2060f",
    "&amp;amp;amp; nested &amp;lt; twice",
    "<b>bold</b> &amp;amp; more &EACUTE; &NTILDE;",
    "&EACUTE;t&Eacute; &NTILDE; &SZLIG; &#59; &#x3b; &#65;BC",
    "\x1b[31mred\x1b[0m text",
    "C1 \u0080 \u0093quoted\u0094 \u0085 end",
    "안녕하세요 Привет мир مرحبا שלום",
    "  leading and trailing  ",
    "",
    "   \t\n ",
    "it's they're don't we'll",
]


# pieces of random prompts: the cases above mixed, with combining marks in both orders (NFC reorders them)
POOL = list("abcdefghij ABC xyz 0123") + [
    "  ", "\t", "\n", "\r\n", "\u00a0", "\u200b", "\u2028", "\u3000", "&amp;", "&#39;", "&lt;", "<", "\u201c", "\u201d",
    "\u2018", "\u2019", "\ufb01", "\u01c5", "\u00bd", "\u2460", "\u338f", "\uff76", "\uff9f", "\uff21", "\uff5a", "\u0301",
    "\u0323", "\u0308", "\u00e9", "e\u0301", "\u4e00", "\u4eba", "\u8bf4", "\U0001f600", "\U0001f44d\U0001f3fd", "\u0085",
    "\u0093", "\x01", "\x1b[3m", "\u00df", "\u0130", "\u03a9", "\u30a2", "\uff71", "\ud55c", "\u1100", "\u1161", "x\u00b2",
    "\u2122", "\u2026", "\ufeff", "\u2060", "\u00ad", "\ufb00", "\u0132", "&EACUTE;", "&#x4e00;", "&nbsp;", "&#160;"]
RANDOM_PROMPTS = 40  # through spiece.model only: each lavr start costs ~0.1 s


def run(cmd):
    p = subprocess.run(cmd, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main():
    lavr, tmp = sys.argv[1], sys.argv[2]
    os.makedirs(tmp, exist_ok=True)
    model = train(tmp, "spiece", False)
    sp = spm.SentencePieceProcessor(model_file=model)
    tok_json = os.path.join(tmp, "tokenizer.json")
    size = write_tokenizer_json(sp, model, tok_json, False)
    print("trained a %d-piece unigram model, nmt_nfkc charsmap of %d bytes" % (sp.get_piece_size(), size))
    model_b = train(tmp, "spiece_bytes", True)
    sp_b = spm.SentencePieceProcessor(model_file=model_b)
    json_b = os.path.join(tmp, "tokenizer_bytes.json")
    write_tokenizer_json(sp_b, model_b, json_b, True)
    eos = sp.eos_id()
    failures = 0
    unknown = 0
    rng = random.Random(7)
    mixes = ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 25))) for _ in range(RANDOM_PROMPTS)]
    for prompt in PROMPTS + mixes:
        want = sp.encode(wan_clean(prompt)) + [eos]
        unknown += want.count(sp.unk_id())
        for tokenizer in (model, tok_json) if prompt in PROMPTS else (model,):
            rc, out, err = run([lavr, "tokenize", "--tokenizer", tokenizer, "--prompt", prompt])
            got = [int(x) for x in out.split()] if rc == 0 else None
            if got != want:
                failures += 1
                print("MISMATCH %s %r\n  cleaned %r\n  want %s %s\n  got  %s (rc %d) %s" % (
                    os.path.basename(tokenizer), prompt, wan_clean(prompt), want,
                    [sp.id_to_piece(i) for i in want], got, rc, err.strip()))
    # byte fallback: unknown characters become their UTF-8 bytes' pieces
    with_unknowns = [p for p in PROMPTS if sp.unk_id() in sp.encode(wan_clean(p))]
    byte_pieces = 0
    for prompt in with_unknowns:
        want = sp_b.encode(wan_clean(prompt)) + [eos]
        byte_pieces += sum(sp_b.is_byte(i) for i in want)
        for tokenizer in (model_b, json_b):
            rc, out, err = run([lavr, "tokenize", "--tokenizer", tokenizer, "--prompt", prompt])
            got = [int(x) for x in out.split()] if rc == 0 else None
            if got != want:
                failures += 1
                print("MISMATCH byte fallback %s %r\n  want %s %s\n  got  %s (rc %d) %s" % (
                    os.path.basename(tokenizer), prompt, want, [sp_b.id_to_piece(i) for i in want], got, rc,
                    err.strip()))
    print("byte fallback: %d prompts x 2 tokenizer files, %d byte pieces in the expectation" % (
        len(with_unknowns), byte_pieces))
    # user-defined pieces: kept out of the charsmap (① stays ①) and preferred by their score
    model_u = train(tmp, "spiece_user", False, ["<sep>", "smiles", "\u2460", "ab", "day in"])
    sp_u = spm.SentencePieceProcessor(model_file=model_u)
    user_prompts = ["she smiles <sep> \u2460 ab abc", "absmiles \u2460\u2460 x<sep>y", "the woman smiles",
                    "about her day in the city", "\uff41\uff42 \u2460\u2461 ab\u0301"]
    for prompt in user_prompts:
        want = sp_u.encode(wan_clean(prompt)) + [eos]
        rc, out, err = run([lavr, "tokenize", "--tokenizer", model_u, "--prompt", prompt])
        got = [int(x) for x in out.split()] if rc == 0 else None
        if got != want:
            failures += 1
            print("MISMATCH user-defined %r\n  want %s %s\n  got  %s (rc %d) %s" % (
                prompt, want, [sp_u.id_to_piece(i) for i in want], got, rc, err.strip()))
    print("user-defined pieces: %d prompts" % len(user_prompts))
    # truncation: the first text_len - 1 pieces, then EOS, and one warning naming the dropped count
    long_prompt = " ".join(["the woman smiles while she speaks"] * 20)
    full = sp.encode(wan_clean(long_prompt))
    rc, out, err = run([lavr, "tokenize", "--tokenizer", model, "--text-len", "16", "--prompt", long_prompt])
    want = full[:15] + [eos]
    if rc != 0 or [int(x) for x in out.split()] != want or ("%d dropped" % (len(full) + 1 - 16)) not in err:
        failures += 1
        print("MISMATCH truncation: want %s, got %r rc %d, stderr %r" % (want, out, rc, err))
    print("%d prompts x 2 tokenizer files and %d random mixes, %d unknown pieces in the expectation, %d mismatches"
          % (len(PROMPTS), len(mixes), unknown, failures))
    return 1 if failures else 0


sys.exit(main())
