#!/usr/bin/python3
"""ONNX export of the plain-PyTorch XLM-R cross-encoder or bge-m3 encoder, for the ONNX Runtime columns of
scripts/bench.sh and scripts/bench_embed.sh.

Builds the model of shared/bench/torch_xlmr.py (HF eager semantics; the same code the PyTorch column runs)
from a checkpoint directory and exports it with torch.onnx.export:

    inputs   input_ids, attention_mask   int64 [batch, seq]   (both axes dynamic)
    output   logits                      float32 [batch, 1]   a reranker
             dense                       float32 [batch, H]   an embedder (config.json: XLMRobertaModel):
                                         the last hidden state at token 0, L2-normalised in the graph
                                         (bge-m3's dense output; scripts/torch_m3.py)

Weights are float32 whatever the checkpoint dtype (F16/BF16 are widened exactly). The output directory
holds model.onnx (the graph), model.onnx.data (every weight, ONNX external-data format: a full-size model
is 2.27 GB, past protobuf's 2 GB limit for one file, so every size is written this way and the tiny check
exercises the same loading path as the full model) and a copy of config.json (ort_bench.mjs reads the
vocabulary size and special ids from it).
An embedder's export is checked the same way on its dense output (|Δ| against PyTorch float32 dense vectors).

    /usr/bin/python3 scripts/export_onnx.py --model DIR --out OUTDIR [--check]

--check proves the export faithful: it runs ONNX Runtime (scripts/ort/ort_bench.mjs --logits; needs
`ONNXRUNTIME_NODE_INSTALL=skip npm ci` in scripts/ort) on a random batch with padded rows and, when DIR holds goldens.safetensors
(testdata/tiny), on the golden padded batch; prints the max |Δlogit| against PyTorch float32 on the same
inputs (and against the float64 goldens) as one JSON line, and exits 1 when ORT and PyTorch float32 differ
by more than --tol relative to the largest logit (floor 0.01: random checkpoints have small logits).
Measured: tiny goldens 3.6e-7 (logits up to 1.5; PyTorch fp32 itself is 4.7e-7 from the float64 goldens),
random full-size checkpoint 7.9e-7 (logits up to 0.15).

Needs Debian's python3-torch and python3-onnx (`apt-get install -y python3-torch python3-onnx`); run with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp as torch_xlmr.py says.
"""
import argparse, gc, json, os, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--model", required=True, help="checkpoint directory (config.json + safetensors)")
ap.add_argument("--out", required=True, help="output directory (created; replaced if it holds a previous export)")
ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"), help="the shared kit (bench/torch_xlmr.py)")
ap.add_argument("--opset", type=int, default=17, help="ONNX opset (17: LayerNormalization is one op)")
ap.add_argument("--check", action="store_true", help="compare ONNX Runtime with PyTorch float32 after the export")
ap.add_argument("--check-only", action="store_true", help="skip the export; check an existing OUTDIR")
ap.add_argument("--tol", type=float, default=1e-4, help="--check: max |Δlogit| / max(0.01, max |logit|) allowed")
ap.add_argument("--node", default="node", help="node binary for --check")
args = ap.parse_args()

sys.path.insert(0, os.path.join(args.shared, "bench"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    from torch_xlmr import XLMR, load, read_safetensors  # noqa: E402
except ImportError as e:
    sys.exit(f"export_onnx.py: {e}: torch_xlmr.py not found under {args.shared}/bench (set --shared)")
sys.path.insert(0, here)
import torch_m3  # noqa: E402

OUR_FILES = {"model.onnx", "model.onnx.data", "config.json", "export.json"}


class TraceableXLMR(XLMR):
    """XLMR whose LayerNorm takes its normalised shape from the config: XLMR.ln passes x.shape[-1:], which
    the tracer records as a dynamic value, and LayerNormalization's export needs it constant."""

    def ln(self, x, p):
        return F.layer_norm(x, (self.c["hidden_size"],), self.w[p + ".weight"], self.w[p + ".bias"], self.eps)


class Exportable(torch.nn.Module):
    """TraceableXLMR with its weight dict registered as buffers.

    XLMR keeps its weights in a plain dict, which the tracer would bake into the graph as anonymous
    constants; as buffers (the same tensor objects) they become named initializers that the exporter can
    write as external data. Buffer names cannot hold '.', so the checkpoint key roberta.encoder.layer.0.…
    becomes roberta_encoder_layer_0_… in the ONNX file.
    """

    def __init__(self, m):
        super().__init__()
        self.m = m
        for k, v in m.w.items():
            self.register_buffer(k.replace(".", "_"), v)

    def forward(self, input_ids, attention_mask):
        out = self.m(input_ids, attention_mask)
        return torch_m3.dense(out) if isinstance(self.m, torch_m3.M3) else out


class TraceableM3(torch_m3.M3, TraceableXLMR):
    """bge-m3's encoder with TraceableXLMR's LayerNorm; Exportable turns its last hidden state into dense."""


def build(model_dir):
    """(config, PyTorch float32 model, ONNX output name, traceable model) of the checkpoint's kind."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    if torch_m3.is_embedder(cfg):
        cfg, w, _, _ = torch_m3.load_m3(model_dir)
        return cfg, lambda ids, mask: torch_m3.dense(torch_m3.M3(cfg, w).eval()(ids, mask)), "dense", TraceableM3(cfg, w)
    cfg, w = load(model_dir)
    return cfg, XLMR(cfg, w).eval(), "logits", TraceableXLMR(cfg, w)


def export(model_dir, out):
    cfg, _, name, traceable = build(model_dir)
    model = Exportable(traceable.eval()).eval()
    ids = torch.full((2, 8), cfg["pad_token_id"], dtype=torch.int64)  # sizes > 1: no axis specialised to 1
    ids[:, 0], ids[:, 1:7], ids[:, 7] = cfg["bos_token_id"], 5, cfg["eos_token_id"]
    mask = torch.ones_like(ids)
    raw = tempfile.mkdtemp(prefix="raw-", dir=os.path.dirname(out))  # torch writes one file per tensor past 2 GB
    try:
        with torch.no_grad():
            torch.onnx.export(model, (ids, mask), os.path.join(raw, "model.onnx"), opset_version=args.opset,
                              input_names=["input_ids", "attention_mask"], output_names=[name],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                            name: {0: "batch"}},
                              do_constant_folding=True)
        del model, traceable
        gc.collect()
        try:
            import onnx
        except ImportError:
            sys.exit("export_onnx.py: the onnx module is missing: apt-get install -y python3-onnx")
        m = onnx.load(os.path.join(raw, "model.onnx"))  # reads torch's external files, if it wrote any
        os.makedirs(out)
        onnx.save_model(m, os.path.join(out, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        del m
        onnx.checker.check_model(os.path.join(out, "model.onnx"))  # by path: works past 2 GB
    finally:
        shutil.rmtree(raw)
    shutil.copy(os.path.join(model_dir, "config.json"), os.path.join(out, "config.json"))
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in ("model.onnx", "model.onnx.data")}
    meta = {"source": os.path.abspath(model_dir), "output": name, "opset": args.opset, "torch": torch.__version__,
            "onnx": onnx.__version__, "bytes": sizes}
    with open(os.path.join(out, "export.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({"exported": out, **meta}))


def replace_dir(out):
    """Remove a previous export at out; refuse to remove anything else."""
    if not os.path.exists(out):
        return
    if not os.path.isdir(out) or not set(os.listdir(out)) <= OUR_FILES:
        sys.exit(f"export_onnx.py: {out} exists and is not a previous export; not replacing it")
    shutil.rmtree(out)


def random_batch(cfg, lengths, seq, seed):
    """<s> random ids </s> per row, padded with pad_token_id to seq; mask = ids != pad, as tokenizers give."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((len(lengths), seq), cfg["pad_token_id"], dtype=torch.int64)
    for r, n in enumerate(lengths):
        ids[r, :n] = torch.randint(5, cfg["vocab_size"], (n,), generator=g)
        ids[r, 0], ids[r, n - 1] = cfg["bos_token_id"], cfg["eos_token_id"]
    return ids, (ids != cfg["pad_token_id"]).long()


def ort_logits(out, cases):
    """Runs ort_bench.mjs --logits on {name: (ids, mask)}; returns {name: rows of the model's output}."""
    if not os.path.isdir(os.path.join(here, "ort", "node_modules", "onnxruntime-node")):
        sys.exit("export_onnx.py: --check needs onnxruntime-node: cd scripts/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({k: {"input_ids": ids.tolist(), "attention_mask": mask.tolist()} for k, (ids, mask) in cases.items()}, f)
    try:
        r = subprocess.run([args.node, os.path.join(here, "ort", "ort_bench.mjs"), "--model", out, "--logits", f.name],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"export_onnx.py: ort_bench.mjs --logits failed (exit {r.returncode}); see its message above")
    finally:
        os.unlink(f.name)
    return json.loads(r.stdout)


def check(model_dir, out):
    cfg, model, oname, _ = build(model_dir)
    # Rows of 16, 11 and 3 tokens in one batch of 16: padding and the mask are exercised.
    cases = {"random": random_batch(cfg, [16, 11, 3], 16, seed=7)}
    gpath = os.path.join(model_dir, "goldens.safetensors")
    golden = read_safetensors(gpath) if os.path.exists(gpath) else {}
    if "batch.input_ids" in golden and oname == "logits":
        cases["golden_batch"] = (golden["batch.input_ids"], golden["batch.attention_mask"])
    got = ort_logits(out, cases)
    report, worst_rel = {"check": out}, 0.0
    for name, (ids, mask) in cases.items():
        with torch.no_grad():
            ref = model(ids, mask)
        o = torch.tensor(got[name], dtype=torch.float32)
        if o.shape != ref.shape:
            sys.exit(f"export_onnx.py: ORT {oname} for {name} has shape {list(o.shape)}, PyTorch {list(ref.shape)}")
        d = (o - ref).abs().max().item()
        report["output"] = oname
        report[f"{name}_max_abs_diff_vs_torch_f32"] = d
        report[f"{name}_max_abs_{'logit' if oname == 'logits' else oname}"] = ref.abs().max().item()
        worst_rel = max(worst_rel, d / max(0.01, ref.abs().max().item()))
        if name == "golden_batch":
            report["golden_batch_max_abs_diff_vs_golden_f64"] = (o.double() - golden["batch.logits_f64"]).abs().max().item()
            report["torch_f32_max_abs_diff_vs_golden_f64"] = (ref.double() - golden["batch.logits_f64"]).abs().max().item()
    report["ok"] = worst_rel <= args.tol
    print(json.dumps(report))
    return report["ok"]


def main():
    out = os.path.abspath(args.out)
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        sys.exit(f"export_onnx.py: {args.model}/config.json not found (--model is a checkpoint directory)")
    if not args.check_only:
        replace_dir(out)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        export(args.model, out)
    if args.check or args.check_only:
        sys.exit(0 if check(args.model, out) else 1)


if __name__ == "__main__":
    main()
