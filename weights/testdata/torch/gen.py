"""Writes the small PyTorch checkpoints that weights/torch_test.go reads.

Run from this folder with torch installed (they were made with Debian's python3-torch 1.13.1):

    python3 gen.py

Every file is written by torch.save itself; expected.json lists, for each file that loads,
every tensor's dtype, shape, the float64 sum of its values and, for small tensors, the values.
"""
import collections
import json

import torch

torch.manual_seed(17)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(4, 3)
        self.norm = torch.nn.LayerNorm(3)
        self.register_buffer("position_ids", torch.arange(5).expand((1, -1)).contiguous())


def save(name, obj, **kw):
    torch.save(obj, name, **kw)


expected = {}


def record(name, sd):
    expected[name] = {
        k: {
            "dtype": str(v.dtype).removeprefix("torch."),
            "shape": list(v.shape),
            "sum": float(v.double().sum()),
            "values": v.double().flatten().tolist() if v.numel() <= 24 else None,
        }
        for k, v in sd.items()
    }


# An nn.Module's state_dict: an OrderedDict whose _metadata attribute pickles as BUILD.
sd = Tiny().state_dict()
save("module.pt", sd)
record("module.pt", sd)

# Every storage type the reader maps, a 0-d tensor and an empty one.
dtypes = collections.OrderedDict(
    f32=torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.25,
    f16=(torch.arange(4, dtype=torch.float32) - 1.5).half(),
    bf16=(torch.arange(4, dtype=torch.float32) * 1.5).bfloat16(),
    f64=torch.tensor([[1e-300, 2.5], [-3.0, 1e300]], dtype=torch.float64),
    i64=torch.tensor([-(2**40), 7, 2**62], dtype=torch.int64),
    i32=torch.tensor([-5, 6], dtype=torch.int32),
    i16=torch.tensor([-300, 300], dtype=torch.int16),
    i8=torch.tensor([[-128, 127, 0]], dtype=torch.int8),
    u8=torch.tensor([0, 255], dtype=torch.uint8),
    bool=torch.tensor([True, False, True]),
    scalar=torch.tensor(3.5),
    empty=torch.zeros(0, 3),
)
save("dtypes.pt", dtypes)
record("dtypes.pt", dtypes)

# Views that share one storage, at offsets, all contiguous.
base = torch.arange(24, dtype=torch.float32)
views = {"base": base, "slice": base[4:10], "row": base.view(4, 6)[2], "cube": base[:24].view(2, 3, 4), "tail": base.view(2, 12)[1:]}
save("views.pt", views)
record("views.pt", views)

# Parameters (torch._utils._rebuild_parameter) and pickle protocol 4 (SHORT_BINUNICODE,
# MEMOIZE, FRAME, STACK_GLOBAL).
params = {"w": torch.nn.Parameter(torch.ones(2, 2)), "b": torch.nn.Parameter(torch.full((2,), -1.0), requires_grad=False)}
save("params.pt", params)
record("params.pt", params)
save("protocol4.pt", sd, pickle_protocol=4)
record("protocol4.pt", sd)

# Refused: a transposed (non-contiguous) tensor, a nested dict, the legacy format.
save("transposed.pt", {"t": torch.arange(6.0).reshape(2, 3).t()})
save("nested.pt", {"model": {"w": torch.ones(2)}, "epoch": 3})
save("legacy.pt", {"w": torch.ones(2)}, _use_new_zipfile_serialization=False)

with open("expected.json", "w") as f:
    json.dump(expected, f, indent=None, sort_keys=True)
    f.write("\n")
