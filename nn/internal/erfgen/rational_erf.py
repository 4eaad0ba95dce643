#!/usr/bin/python3
"""Fits the rational erf of the AVX2 GELU kernel (tensor/rows_amd64.s) and prints its constants.

    erf(u) ~= u * P(u^2) / Q(u^2),  u clamped to [-4, 4], P and Q of degree 5, Q(0) = 1

Linearised least squares (u*P - erf*Q = 0) on 8000 points of [0, 4], reweighted by 1/Q
and by Lawson's rule towards the minimax fit; the best of 60 iterations is kept. It then
evaluates the fit in float32 as the kernel does and reports the worst erf error (3.4e-7)
and GELU error (1.04e-6 absolute over |z| <= 20), and writes the 8-lane DATA blocks of every
constant the kernel uses (paste them at the end of tensor/rows_amd64.s).

Needs numpy: /usr/bin/python3 nn/internal/erfgen/rational_erf.py > /tmp/consts.s
"""
import math
import struct
import sys

import numpy as np

f32 = np.float32
X = 4.0


def fit(dp=5, dq=5, iters=60, n=4000):
    x = np.unique(np.concatenate([X * (1 - np.cos(np.linspace(0, np.pi / 2, n))), np.linspace(0, X, n)]))
    f = np.array([math.erf(v) for v in x])
    t = x * x
    w, q, best = np.ones_like(x), np.ones_like(x), None
    for _ in range(iters):
        A = np.array([x * t**i for i in range(dp + 1)] + [-f * t**j for j in range(1, dq + 1)]).T
        W = np.sqrt(w) / np.abs(q)
        sol, *_ = np.linalg.lstsq(A * W[:, None], f * W, rcond=None)
        p, qq = sol[: dp + 1], np.concatenate([[1], sol[dp + 1 :]])
        q = np.polyval(qq[::-1], t)
        err = x * np.polyval(p[::-1], t) / q - f
        m = np.max(np.abs(err))
        if best is None or m < best[0]:
            best = (m, p.copy(), qq.copy())
        w = w * np.abs(err) / np.mean(np.abs(err))
        w /= w.sum()
    return best[1], best[2]


def erf32(u, p, q):
    u = np.clip(u, f32(-X), f32(X)).astype(f32)
    t = (u * u).astype(f32)
    P = np.full_like(t, f32(p[-1]))
    for c in p[-2::-1]:
        P = (P * t + f32(c)).astype(f32)
    Q = np.full_like(t, f32(q[-1]))
    for c in q[-2::-1]:
        Q = (Q * t + f32(c)).astype(f32)
    return np.clip(((u * P).astype(f32) / Q).astype(f32), f32(-1), f32(1))


def main():
    p, q = fit()
    u = np.linspace(-5, 5, 200001).astype(f32)
    e_erf = np.max(np.abs(erf32(u, p, q) - np.array([math.erf(float(v)) for v in u])))
    z = np.linspace(-20, 20, 400001).astype(f32)
    hz = (f32(0.5) * z).astype(f32)
    g = (hz * erf32((z * f32(1 / math.sqrt(2))).astype(f32), p, q) + hz).astype(f32)
    ref = np.array([0.5 * float(v) * (1 + math.erf(float(v) / math.sqrt(2))) for v in z])
    print(f"// erf max abs error {e_erf:.3g}, GELU max abs error {np.max(np.abs(g - ref)):.3g} (float32 evaluation)", file=sys.stderr)

    consts = {f"erfP{i}": c for i, c in enumerate(p)}
    consts.update({f"erfQ{i}": c for i, c in enumerate(q)})
    consts.update(invSqrt2=1 / math.sqrt(2), four=4.0, minusFour=-4.0, half=0.5, one=1.0, minusOne=-1.0,
                  log2e=1.44269504088896341, ln2hi=0.693145751953125, ln2lo=1.42860682030941723212e-6,
                  expLo=-87.33654, expHi=88.3762)
    consts.update({f"expC{i}": c for i, c in enumerate([1.0, 1.0, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040])})
    for name, v in consts.items():
        bits = struct.unpack("<I", struct.pack("<f", float(f32(v))))[0]
        for k in range(8):
            print(f"DATA {name}<>+{4 * k}(SB)/4, $0x{bits:08x}")
        print(f"GLOBL {name}<>(SB), RODATA|NOPTR, $32  // {float(f32(v))!r}")


if __name__ == "__main__":
    main()
