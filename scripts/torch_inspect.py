#!/usr/bin/python3
"""PyTorch side of a layer-by-layer comparison with `rerank inspect`.

Reads the input_ids of a dump written by `rerank inspect --out OURS.safetensors`, runs the same
ids through the plain-PyTorch XLM-R forward of shared/bench/torch_xlmr.py (HF eager semantics) in
float32 or float64, and writes hidden_states F32 [L+1,T,H] and logits F32 [1,1] in the same
layout, so that `rerank inspect --diff OURS.safetensors TORCH.safetensors` compares them:

    rerank inspect --model DIR --query Q --document D --out /tmp/ours.safetensors
    /usr/bin/python3 scripts/torch_inspect.py --model DIR --ids /tmp/ours.safetensors --out /tmp/torch.safetensors
    rerank inspect --diff /tmp/ours.safetensors /tmp/torch.safetensors

An embedder (config.json's architectures: XLMRobertaModel, bge-m3) runs through scripts/torch_m3.py
instead: hidden_states as above, and in place of logits the bge-m3 outputs that the model has side
files for: dense F32 [1,H], sparse F32 [1,T] (relu(h·Wsᵀ+bs) per token) and colbert F32 [1,T-1,H],
as `rerank inspect --text` writes them.

Needs only Debian's python3-torch (see shared/bench/torch_xlmr.py for the environment).
"""
import argparse, json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "shared", "bench"))
import torch  # noqa: E402
from torch_xlmr import XLMR, load, read_safetensors  # noqa: E402

sys.path.insert(0, here)
import torch_m3  # noqa: E402


def write_safetensors(path, tensors):
    hdr, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        hdr[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="a rerank inspect dump (reads its input_ids)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--float64", action="store_true", help="compute in float64 (the reference)")
    a = ap.parse_args()
    ids = read_safetensors(a.ids)["input_ids"].long()
    wide = (lambda d: d and {k: v.double() for k, v in d.items()}) if a.float64 else (lambda d: d)
    hidden = []
    if torch_m3.is_embedder(json.load(open(os.path.join(a.model, "config.json")))):
        cfg, w, sp, cb = torch_m3.load_m3(a.model)
        w, sp, cb = wide(w), wide(sp), wide(cb)
        with torch.no_grad():
            h = torch_m3.M3(cfg, w).eval()(ids, torch.ones_like(ids), hidden)
            heads = {"dense": torch_m3.dense(h)}
            if sp is not None:
                heads["sparse"] = torch_m3.sparse(h, sp)
            if cb is not None:
                heads["colbert"] = torch_m3.colbert(h, cb)
    else:
        cfg, w = load(a.model)
        with torch.no_grad():
            heads = {"logits": XLMR(cfg, wide(w)).eval()(ids, torch.ones_like(ids), hidden)}
    write_safetensors(a.out, {"input_ids": ids, "hidden_states": torch.stack([h[0] for h in hidden]).float(),
                              **{k: v.float() for k, v in heads.items()}})


if __name__ == "__main__":
    main()
