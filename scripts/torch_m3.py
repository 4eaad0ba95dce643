"""bge-m3 in plain PyTorch: XLMRobertaModel (the encoder of shared/bench/torch_xlmr.py, HF eager
semantics) and FlagEmbedding's BGEM3FlagModel heads, for scripts/torch_inspect.py and
scripts/export_onnx.py. Import it after putting shared/bench on sys.path.

Reads the published layout (config.json with XLMRobertaModel; model.safetensors, its shards or
pytorch_model.bin, keys with or without the roberta. prefix; sparse_linear and colbert_linear as
.safetensors or .pt beside it). The heads, from the last hidden state h (B,T,H)
(shared/golden/README.md, "m3-tiny"):
    dense    h[:, 0] / ‖h[:, 0]‖
    sparse   relu(h·Wsᵀ + bs)  per token (B,T), before the max per token id
    colbert  (h[:, 1:]·Wcᵀ + bc), each row / its norm  (B,T-1,H)
"""
import json, os

import torch
import torch.nn.functional as F
from torch_xlmr import XLMR, load, read_safetensors


def is_embedder(cfg):
    """The kind config.json's architectures name, as xlmr.Config.Kind reads it."""
    return any(a == "XLMRobertaModel" for a in cfg.get("architectures") or [])


def _state(path_base):
    """PATH.safetensors, else PATH.pt (a torch.save state dict), else None; float32."""
    if os.path.exists(path_base + ".safetensors"):
        return {k: v.float() for k, v in read_safetensors(path_base + ".safetensors").items()}
    if os.path.exists(path_base + ".pt"):
        return {k: v.float() for k, v in torch.load(path_base + ".pt", map_location="cpu").items()}
    return None


def load_m3(model_dir):
    """config, encoder weights (keys with the roberta. prefix that XLMR reads), sparse and colbert
    state dicts (None when the side file is absent)."""
    if os.path.exists(os.path.join(model_dir, "model.safetensors")) or os.path.exists(
            os.path.join(model_dir, "model.safetensors.index.json")):
        cfg, w = load(model_dir)
    else:
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        w = {k: v.float() for k, v in torch.load(os.path.join(model_dir, "pytorch_model.bin"), map_location="cpu").items()}
    w = {(k if k.startswith("roberta.") else "roberta." + k): v for k, v in w.items()}
    return cfg, w, _state(os.path.join(model_dir, "sparse_linear")), _state(os.path.join(model_dir, "colbert_linear"))


class M3(XLMR):
    """XLMR without the classifier: forward returns the last hidden state h (B,T,H)."""

    def lin(self, x, p):
        if p.startswith("classifier."):  # XLMR.forward ends in the classifier; an embedder has none
            return x
        return super().lin(x, p)

    def forward(self, ids, mask, hidden=None):
        hs = [] if hidden is None else hidden
        super().forward(ids, mask, hs)  # its classifier result (tanh of token 0) is dropped
        return hs[-1]


def dense(h):
    return F.normalize(h[:, 0], dim=-1)


def sparse(h, s):
    return torch.relu(F.linear(h, s["weight"], s["bias"]))[..., 0]


def colbert(h, c):
    return F.normalize(F.linear(h[:, 1:], c["weight"], c["bias"]), dim=-1)
