#!/usr/bin/env python3
"""
High-precision reference values for two periodic kernels on the flat torus
T^d = R^d / Z^d (d = 1, 2, 3), computed with mpmath, each by two or more
independent methods.

Fourier convention: f^(k) = int e^{-2 pi i k.x} f(x) dx,
                    G(x)  = sum_{k in Z^d} G^(k) e^{2 pi i k.x}.

1. Gaussian:  G(x)  = sum_n exp(-|x-n|^2 / (2 sigma^2)),
              G^(k) = (2 pi sigma^2)^{d/2} exp(-2 pi^2 sigma^2 |k|^2).
   Methods: (a) image sum, factorised per coordinate (reference),
            (b) Fourier sum, factorised per coordinate (working precision
                raised by the number of digits lost to cancellation),
            (c) d >= 2: brute-force d-dimensional image sum (no factorisation).

2. Bessel potential (periodic Matern): G^(k) = (lambda^2 + 4 pi^2 |k|^2)^{-s}.
   Methods: (a) Ewald split at t = ALPHA1, short-range integral h(r) by a
                convergent series of incomplete gamma functions (reference),
            (b) Ewald split at t = ALPHA2, h(r) by mpmath.quad,
            (c) d = 1: direct Fourier sum, k <= K0 explicitly, the tail
                k > K0 exactly through a binomial expansion in
                lambda^2/(4 pi^2 k^2) and Clausen functions (mpmath.clcos/clsin),
            (d) d = 1, s = 1: closed form cosh(lambda(|x|-1/2))/(2 lambda sinh(lambda/2));
                d = 1, s = 2: its derivative -dG_1/d(lambda^2),
            (e) where affordable: image sum of the free-space kernel
                g(r) = 2 C (r/(2 lambda))^nu K_nu(lambda r)  (Poisson dual).

All inputs (x, sigma, lambda, s) are taken as the *exact* IEEE-754 doubles
nearest to the listed decimals (mpf(float)), so the references are what an
exact evaluation of a double-precision API would give.

Run:  python3 make_refs.py          (writes refs.json, checks.json, checks.md)
"""
import json
import math
import os
import sys
import time
from multiprocessing import Pool

import mpmath
from mpmath import mp, mpf

HERE = os.path.dirname(os.path.abspath(__file__))

DPS = 50            # base working precision (decimal digits); >= 40 as required
TARGET = 45         # digits we want left after cancellation, else raise precision
OUT_DIGITS = 20     # significant digits written to refs.json
ALPHA1 = 0.006      # Ewald splitting parameter, method (a)
ALPHA2 = 0.015      # Ewald splitting parameter, method (b)
K0_CLAUSEN = 20     # explicit Fourier modes in method (c)
FS_DIGITS = 36      # truncation of the free-space image sum, method (e)
FS_BUDGET = 40.0    # estimated CPU seconds per evaluation allowed for method (e)

POINTS = {
    1: [[0.001], [0.49], [-0.2371], [0.3125]],
    2: [[0.0007, -0.0006], [0.49, -0.13], [-0.3172, 0.2248], [0.4011, -0.4875]],
    3: [[0.0006, -0.0005, 0.0007], [0.49, 0.11, -0.27],
        [-0.3172, 0.2248, 0.1414], [-0.4875, -0.49, 0.3333]],
}

BESSEL_CASES = [(1, 0.75, 3.0), (1, 1.0, 2.0), (1, 2.0, 5.0), (1, 2.5, 1.0),
                (2, 0.5, 2.0), (2, 1.0, 1.0), (2, 1.0, 10.0), (2, 1.7, 4.0),
                (3, 0.5, 2.0), (3, 1.0, 3.0), (3, 1.5, 1.0), (3, 2.5, 6.0)]
GAUSS_CASES = [(1, 0.01), (1, 0.1), (1, 0.5), (2, 0.05), (2, 0.3), (3, 0.1), (3, 1.0)]

LN10 = math.log(10.0)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def ex(v):
    """exact mpf of a Python float"""
    return mpf(float(v))


def digits_lost(res, nograd=False):
    """log10(sum|terms| / |result|), maximised over value and gradient"""
    loss = 0.0
    comps = [(res["val"], res["aval"])]
    if not nograd:
        comps += list(zip(res["grad"], res["agrad"]))
    for v, a in comps:
        if a == 0:
            continue
        if v == 0:
            return 1e9
        loss = max(loss, float(mpmath.log10(a / abs(v))))
    return loss


def adaptive(fn, p0=DPS, nograd=False):
    """evaluate fn(P) (P = working digits) raising P until >= TARGET digits
    survive the cancellation measured by sum|terms|/|result|"""
    p = max(p0, DPS)
    for _ in range(8):
        res = fn(p)
        loss = digits_lost(res, nograd)
        if p - loss >= TARGET:
            res["dps"] = p
            res["loss"] = loss
            return res
        p = int(math.ceil(loss + TARGET + 5))
    raise RuntimeError("precision did not settle")


def reldiff(a, b):
    a = mpf(a)
    b = mpf(b)
    if a == b:
        return mpf(0)
    return abs(a - b) / max(abs(a), abs(b))


def sstr(v):
    return mpmath.nstr(v, OUT_DIGITS, strip_zeros=False, min_fixed=-4, max_fixed=6)


def lattice_ball(x, R2):
    """integer vectors n with |x + n|^2 <= R2 (float bounds with a safety
    margin; callers re-check exactly in mpf)"""
    xf = [float(v) for v in x]
    R2f = float(R2) * (1 + 1e-9) + 1e-12
    out = []

    def rec(i, pref, rem):
        if i == len(xf):
            out.append(tuple(pref))
            return
        r = math.sqrt(max(rem, 0.0))
        lo = int(math.floor(-xf[i] - r)) - 1
        hi = int(math.ceil(-xf[i] + r)) + 1
        for n in range(lo, hi + 1):
            q = rem - (xf[i] + n) ** 2
            if q >= -1e-9:
                rec(i + 1, pref + [n], q)
    rec(0, [], R2f)
    return out


def lattice_box(B, d):
    rng = range(-B, B + 1)
    if d == 1:
        return [(i,) for i in rng]
    if d == 2:
        return [(i, j) for i in rng for j in rng]
    return [(i, j, k) for i in rng for j in rng for k in rng]


# --------------------------------------------------------------------------
# Gaussian
# --------------------------------------------------------------------------
def gauss1_image(x, sigma, p):
    """1-D periodic Gaussian g(x) and g'(x) by the image sum (terms > 0)"""
    with mp.workdps(p):
        L = (p + 10) * LN10
        dmin = abs(x - mpmath.nint(x))
        rmax2 = dmin ** 2 + 2 * sigma ** 2 * L
        nmax = int(math.ceil(math.sqrt(float(rmax2)))) + 2
        n0 = int(mpmath.nint(x))
        v = mpf(0); g = mpf(0); ag = mpf(0)
        for n in range(n0 - nmax, n0 + nmax + 1):
            y = x - n
            if y * y > rmax2:
                continue
            e = mpmath.exp(-y * y / (2 * sigma ** 2))
            v += e
            t = -y / sigma ** 2 * e
            g += t
            ag += abs(t)
        return v, g, v, ag


def gauss1_fourier(x, sigma, p):
    """1-D periodic Gaussian g(x), g'(x) by the Fourier sum (theta series)"""
    with mp.workdps(p):
        L = (p + 10) * LN10
        a = 2 * mpmath.pi ** 2 * sigma ** 2
        K = int(math.ceil(math.sqrt(float((L + 10) / a)))) + 2
        pref = mpmath.sqrt(2 * mpmath.pi * sigma ** 2)
        v = mpf(1); av = mpf(1); g = mpf(0); ag = mpf(0)
        tpx = 2 * mpmath.pi * x
        for k in range(1, K + 1):
            q = mpmath.exp(-a * k * k)
            c, s_ = mpmath.cos(k * tpx), mpmath.sin(k * tpx)
            v += 2 * q * c
            av += 2 * q
            t = -2 * (2 * mpmath.pi * k) * q * s_
            g += t
            ag += abs(t)
        return pref * v, pref * g, pref * av, pref * ag


def gauss_product(x, sigma, one_d, p):
    """d-dim value/gradient from 1-D factors; abs-sums for the loss estimate"""
    vals, ders, avals, aders = [], [], [], []
    for xi in x:
        v, g, av, ag = one_d(xi, sigma, p)
        vals.append(v); ders.append(g); avals.append(av); aders.append(ag)
    with mp.workdps(p):
        val = mpmath.fprod(vals)
        aval = mpmath.fprod(avals)
        grad, agrad = [], []
        for i in range(len(x)):
            grad.append(ders[i] * mpmath.fprod(vals[j] for j in range(len(x)) if j != i))
            agrad.append(aders[i] * mpmath.fprod(avals[j] for j in range(len(x)) if j != i))
    return {"val": val, "grad": grad, "aval": aval, "agrad": agrad}


def gauss_brute(x, sigma, p):
    """d-dim image sum without factorisation"""
    d = len(x)
    with mp.workdps(p):
        L = (p + 10) * LN10
        n0 = [int(mpmath.nint(xi)) for xi in x]
        dmin2 = sum((xi - ni) ** 2 for xi, ni in zip(x, n0))
        rmax2 = dmin2 + 2 * sigma ** 2 * L
        B = int(math.ceil(math.sqrt(float(rmax2)))) + 1
        val = mpf(0); grad = [mpf(0)] * d; agrad = [mpf(0)] * d
        for n in lattice_box(B, d):
            y = [xi - ni - mi for xi, ni, mi in zip(x, n, n0)]
            r2 = sum(yi * yi for yi in y)
            if r2 > rmax2:
                continue
            e = mpmath.exp(-r2 / (2 * sigma ** 2))
            val += e
            for i in range(d):
                t = -y[i] / sigma ** 2 * e
                grad[i] += t
                agrad[i] += abs(t)
        return {"val": val, "grad": grad, "aval": val, "agrad": agrad}


def gaussian_case(args):
    d, sigma_f = args
    t0 = time.time()
    sigma = ex(sigma_f)
    recs, diag = [], []
    pts = [[0.0] * d] + POINTS[d]         # first entry: value at zero
    for ip, xf in enumerate(pts):
        x = [ex(v) for v in xf]
        A = adaptive(lambda p: gauss_product(x, sigma, gauss1_image, p), nograd=(ip == 0))
        # precision hint for the Fourier sum: digits lost to cancellation
        with mp.workdps(DPS):
            scale = mpmath.sqrt(2 * mpmath.pi * sigma ** 2) ** d * (1 + 1 / sigma) ** d
            hint = DPS + max(0, int(float(mpmath.log10(scale / min(
                [abs(A["val"])] + [abs(g) for g in A["grad"] if g != 0]))))) + 10
        F = adaptive(lambda p: gauss_product(x, sigma, gauss1_fourier, p), hint, nograd=(ip == 0))
        entry = {"x": xf, "dps_image": A["dps"], "dps_fourier": F["dps"],
                 "loss_fourier": round(F["loss"], 1),
                 "fourier_vs_image": float(max(reldiff(A["val"], F["val"]),
                                               *[reldiff(a, b) for a, b in zip(A["grad"], F["grad"])] if ip else [0]))}
        if d >= 2:
            Bf = adaptive(lambda p: gauss_brute(x, sigma, p), nograd=(ip == 0))
            entry["brute_vs_image"] = float(max(reldiff(A["val"], Bf["val"]),
                                                *[reldiff(a, b) for a, b in zip(A["grad"], Bf["grad"])] if ip else [0]))
        diag.append(entry)
        if ip == 0:
            g0 = A["val"]
            continue
        recs.append({"kernel": "gaussian", "dim": d, "s": None, "lambda": None, "sigma": sigma_f,
                     "x": xf, "value": sstr(A["val"]), "gradient": [sstr(g) for g in A["grad"]],
                     "value_at_zero": sstr(g0)})
    return {"kind": "gaussian", "case": [d, sigma_f], "records": recs, "diag": diag,
            "seconds": time.time() - t0}


# --------------------------------------------------------------------------
# Bessel potential
# --------------------------------------------------------------------------
def I_series(mu, r, alpha, lam):
    """I(mu, r) = int_0^alpha t^{mu-1} exp(-t lam^2 - r^2/(4t)) dt, series in lam^2:
       sum_m (-lam^2)^m/m! c^{mu+m} Gamma(-mu-m, c/alpha), c = r^2/4 (r > 0);
       r = 0: lam^{-2 mu} gamma_lower(mu, alpha lam^2) (needs mu > 0)."""
    lam2 = lam * lam
    if r == 0:
        return lam ** (-2 * mu) * mpmath.gammainc(mu, 0, alpha * lam2)
    c = r * r / 4
    z = c / alpha
    tot = mpf(0); fac = mpf(1); m = 0
    eps = mpf(10) ** (-mp.prec * 0.30103 - 5)
    while True:
        term = fac * c ** (mu + m) * mpmath.gammainc(-mu - m, z)
        tot += term
        if m > alpha * lam2 and abs(term) <= eps * abs(tot):
            return tot
        m += 1
        fac *= -lam2 / m


def I_quad(mu, r, alpha, lam):
    """same integral by mpmath.quad (tanh-sinh) with breakpoints near the peak"""
    lam2 = lam * lam
    if r == 0:
        la = mpmath.log(alpha)
        f = lambda v: mpmath.exp(mu * v - lam2 * mpmath.exp(v))
        return mpmath.quad(f, [-mpmath.inf, la - 40 / mu, la - 10 / mu, la - 2, la])
    r2 = r * r
    f = lambda t: t ** (mu - 1) * mpmath.exp(-t * lam2 - r2 / (4 * t))
    ts = r2 / 4 / max(1 - mu, mpf(0.5))
    pts = [mpf(0)]
    t = ts / 16
    while t < alpha:
        pts.append(t)
        t *= 4
    pts.append(alpha)
    return mpmath.quad(f, pts)


def bessel_consts(d, s, lam):
    C = 1 / (mpmath.gamma(s) * (4 * mpmath.pi) ** (mpf(d) / 2))
    nu = s - mpf(d) / 2
    return C, nu


def bessel_ewald(x, d, s, lam, alpha, method, p, at_zero=False):
    """G(x), grad G(x) by the Ewald split at t = alpha.
       at_zero: G(0) (x ignored), the n = 0 image contributes h(0)."""
    Ifun = I_series if method == "series" else I_quad
    with mp.workdps(p):
        C, nu = bessel_consts(d, s, lam)
        if at_zero:
            x = [mpf(0)] * d
        L = (p + 10) * LN10
        # ---- real space
        R2 = 4 * alpha * L
        val = mpf(0); aval = mpf(0)
        grad = [mpf(0)] * d; agrad = [mpf(0)] * d
        for n in lattice_ball(x, R2):
            y = [xi + ni for xi, ni in zip(x, n)]
            r2 = sum(yi * yi for yi in y)
            if r2 > R2:
                continue
            r = mpmath.sqrt(r2)
            h = C * Ifun(nu, r, alpha, lam)
            val += h; aval += abs(h)
            if r2 == 0:          # only for G(0): gradient contribution vanishes
                continue
            hpr = -C / 2 * Ifun(nu - 1, r, alpha, lam)      # h'(r)/r
            for i in range(d):
                t = y[i] * hpr
                grad[i] += t; agrad[i] += abs(t)
        # ---- Fourier space (nonnegative octant, weights 2^{#nonzero})
        fp2 = 4 * mpmath.pi ** 2
        K = int(math.ceil(math.sqrt(float((L + 10) / (fp2 * alpha))))) + 1
        tp = 2 * mpmath.pi
        cs = [[mpmath.cos(tp * k * xi) for k in range(K + 1)] for xi in x]
        sn = [[mpmath.sin(tp * k * xi) for k in range(K + 1)] for xi in x]
        cache = {}
        lam2 = lam * lam
        for k in lattice_box(K, d):
            if min(k) < 0:
                continue
            k2 = sum(ki * ki for ki in k)
            if k2 > K * K:
                continue
            if k2 not in cache:
                a = lam2 + fp2 * k2
                cache[k2] = a ** (-s) * mpmath.gammainc(s, alpha * a, regularized=True)
            Lk = cache[k2] * (2 ** sum(1 for ki in k if ki))
            cp = [cs[i][k[i]] for i in range(d)]
            t = Lk * mpmath.fprod(cp)
            val += t; aval += abs(Lk)
            for j in range(d):
                if k[j] == 0:
                    continue
                t = -tp * k[j] * Lk * sn[j][k[j]] * mpmath.fprod(cp[i] for i in range(d) if i != j)
                grad[j] += t; agrad[j] += abs(t)
        return {"val": val, "grad": grad, "aval": aval, "agrad": agrad}


def bessel_fourier_1d(x, s, lam, p, at_zero=False):
    """d = 1, G(x) = lam^{-2s} + 2 sum_{k>=1} (lam^2+4pi^2k^2)^{-s} cos(2 pi k x):
       k <= K0 explicitly; k > K0 via (lam^2+4pi^2k^2)^{-s}
       = sum_j binom(-s,j) lam^{2j} (2 pi k)^{-2s-2j} and Clausen functions."""
    K0 = K0_CLAUSEN
    with mp.workdps(p + 25):
        if at_zero:
            x = mpf(0)
        tp = 2 * mpmath.pi
        z = tp * x
        lam2 = lam * lam
        val = lam ** (-2 * s); aval = abs(val); der = mpf(0); ader = mpf(0)
        ck = [mpmath.cos(k * z) for k in range(K0 + 1)]
        sk = [mpmath.sin(k * z) for k in range(K0 + 1)]
        for k in range(1, K0 + 1):
            f = (lam2 + tp ** 2 * k * k) ** (-s)
            val += 2 * f * ck[k]; aval += 2 * f
            t = -2 * tp * k * f * sk[k]
            der += t; ader += abs(t)
        eps = mpf(10) ** (-(p + 10))
        j = 0
        while True:
            b = mpmath.binomial(-s, j) * lam2 ** j * tp ** (-2 * s - 2 * j)
            pexp = 2 * s + 2 * j
            if at_zero:
                full_c = mpmath.zeta(pexp)
            else:
                full_c = mpmath.clcos(pexp, z)
            tail_c = full_c - mpmath.fsum(mpmath.power(k, -pexp) * ck[k] for k in range(1, K0 + 1))
            tv = 2 * b * tail_c
            val += tv; aval += abs(tv)
            if not at_zero:
                full_s = mpmath.clsin(pexp - 1, z)
                tail_s = full_s - mpmath.fsum(mpmath.power(k, 1 - pexp) * sk[k] for k in range(1, K0 + 1))
                tg = -2 * tp * b * tail_s
                der += tg; ader += abs(tg)
            else:
                tg = mpf(0)
            # bound of the next term: |b_{j+1}| (K0+1)^{-2s-2j-2} * (K0+1) * 2 pi
            nb = abs(mpmath.binomial(-s, j + 1)) * lam2 ** (j + 1) * tp ** (-2 * s - 2 * j - 2) \
                * mpf(K0 + 1) ** (-2 * s - 2 * j - 1) * tp * 4
            if j >= 2 and nb < eps * abs(val) and (at_zero or nb < eps * abs(der)):
                break
            j += 1
        return {"val": +val, "grad": [+der], "aval": aval, "agrad": [ader]}


def bessel_closed_1d(x, s, lam, p, at_zero=False):
    """d = 1 closed forms: s = 1 -> cosh(lam(|x|-1/2))/(2 lam sinh(lam/2));
       s = 2 -> -(d/d lam^2) of the s = 1 kernel (numerical differentiation)."""
    with mp.workdps(p):
        if at_zero:
            x = mpf(0)
        a = abs(x) - mpf(1) / 2
        sg = 1 if x > 0 else (-1 if x < 0 else 0)
        G1 = lambda l: mpmath.cosh(l * a) / (2 * l * mpmath.sinh(l / 2))
        D1 = lambda l: sg * mpmath.sinh(l * a) / (2 * mpmath.sinh(l / 2))
        if s == 1:
            v, g = G1(lam), D1(lam)
        elif s == 2:
            v = -mpmath.diff(G1, lam) / (2 * lam)
            g = -mpmath.diff(D1, lam) / (2 * lam)
        else:
            raise ValueError
        return {"val": v, "grad": [g], "aval": abs(v), "agrad": [abs(g)]}


def besselK(nu, z):
    """K_nu(z); elementary finite sum for half-integer order
    K_{n+1/2}(z) = sqrt(pi/(2z)) e^{-z} sum_{k<=n} (n+k)!/(k!(n-k)!) (2z)^{-k},
    mpmath.besselk otherwise"""
    a = abs(nu)
    if 2 * a == int(2 * a) and a != int(a):
        n = int(a - mpf(1) / 2)
        tot = mpf(0)
        for k in range(n + 1):
            tot += mpmath.factorial(n + k) / (mpmath.factorial(k) * mpmath.factorial(n - k)) / (2 * z) ** k
        return mpmath.sqrt(mpmath.pi / (2 * z)) * mpmath.exp(-z) * tot
    return mpmath.besselk(nu, z)


BESSELK_COST = {"int": 0.07, "half": 0.0001, "gen": 0.004}


def fs_cost(d, s, lam):
    nu = s - d / 2.0
    kind = "int" if nu == int(nu) else ("half" if 2 * nu == int(2 * nu) else "gen")
    R = 0.9 + (FS_DIGITS * LN10 + 10 + max(0.0, nu) * 5) / lam
    vol = {1: 2 * R, 2: math.pi * R * R, 3: 4 / 3 * math.pi * R ** 3}[d]
    return vol * 2 * BESSELK_COST[kind], R


def bessel_freespace(x, d, s, lam, p, at_zero=False):
    """sum over images of the free-space kernel g(r) = 2C (r/(2lam))^nu K_nu(lam r)"""
    with mp.workdps(p):
        C, nu = bessel_consts(d, s, lam)
        if at_zero:
            x = [mpf(0)] * d
        _, R = fs_cost(d, float(s), float(lam))
        val = mpf(0); aval = mpf(0)
        grad = [mpf(0)] * d; agrad = [mpf(0)] * d
        pre = 2 * C * (2 * lam) ** (-nu)
        for n in lattice_ball(x, R * R):
            y = [xi + ni for xi, ni in zip(x, n)]
            r2 = sum(yi * yi for yi in y)
            if r2 > R * R:
                continue
            if r2 == 0:
                g0 = C * mpmath.gamma(nu) * lam ** (-2 * nu)
                val += g0; aval += g0
                continue
            r = mpmath.sqrt(r2)
            g = pre * r ** nu * besselK(nu, lam * r)
            val += g; aval += abs(g)
            gpr = -pre * lam * r ** (nu - 1) * besselK(nu - 1, lam * r)   # g'(r)/r
            for i in range(d):
                t = y[i] * gpr
                grad[i] += t; agrad[i] += abs(t)
        return {"val": val, "grad": grad, "aval": aval, "agrad": agrad}


def cmp(A, B, with_grad=True):
    r = reldiff(A["val"], B["val"])
    if with_grad:
        for a, b in zip(A["grad"], B["grad"]):
            r = max(r, reldiff(a, b))
    return float(r)


def bessel_case(args):
    d, s_f, lam_f = args
    t0 = time.time()
    s, lam = ex(s_f), ex(lam_f)
    a1, a2 = ex(ALPHA1), ex(ALPHA2)
    finite0 = 2 * s_f > d
    fs_est, _ = fs_cost(d, s_f, lam_f)
    use_fs = fs_est <= FS_BUDGET
    recs, diag = [], []
    evals = ([None] if finite0 else []) + POINTS[d]
    g0 = None
    for xf in evals:
        z = xf is None
        x = [mpf(0)] * d if z else [ex(v) for v in xf]
        wg = not z
        A = adaptive(lambda p: bessel_ewald(x, d, s, lam, a1, "series", p, z), nograd=z)
        Bq = adaptive(lambda p: bessel_ewald(x, d, s, lam, a2, "quad", p, z), nograd=z)
        entry = {"x": "zero" if z else xf, "dps": A["dps"], "loss": round(A["loss"], 1),
                 "ewald_a1series_vs_a2quad": cmp(A, Bq, wg)}
        if d == 1:
            F = adaptive(lambda p: bessel_fourier_1d(x[0], s, lam, p, z), nograd=z)
            entry["fourier_clausen_vs_ewald"] = cmp(A, F, wg)
            if s_f in (1.0, 2.0):
                Cl = bessel_closed_1d(x[0], s, lam, DPS, z)
                entry["closed_form_vs_ewald"] = cmp(A, Cl, wg)
        if use_fs:
            Fs = bessel_freespace(x, d, s, lam, DPS, z)
            entry["freespace_images_vs_ewald"] = cmp(A, Fs, wg)
        diag.append(entry)
        if z:
            g0 = A["val"]
            continue
        recs.append({"kernel": "bessel", "dim": d, "s": s_f, "lambda": lam_f, "sigma": None,
                     "x": xf, "value": sstr(A["val"]), "gradient": [sstr(g) for g in A["grad"]],
                     "value_at_zero": sstr(g0) if finite0 else None})
    return {"kind": "bessel", "case": [d, s_f, lam_f], "records": recs, "diag": diag,
            "freespace_check": use_fs, "seconds": time.time() - t0}


def run_task(t):
    mp.dps = DPS
    return bessel_case(t[1]) if t[0] == "bessel" else gaussian_case(t[1])


def main():
    t0 = time.time()
    mp.dps = DPS
    tasks = [("bessel", c) for c in BESSEL_CASES] + [("gaussian", c) for c in GAUSS_CASES]
    # heaviest first (3-D Bessel), for the process pool
    tasks.sort(key=lambda t: -(t[1][0] * 10 + (5 if t[0] == "bessel" else 0)))
    nproc = min(len(tasks), max(1, os.cpu_count() or 1))
    if len(sys.argv) > 1 and sys.argv[1] == "--serial":
        results = [run_task(t) for t in tasks]
    else:
        with Pool(nproc) as pool:
            results = pool.map(run_task, tasks, chunksize=1)
    order = {("bessel", tuple(c)): i for i, c in enumerate(BESSEL_CASES)}
    order.update({("gaussian", tuple(c)): 100 + i for i, c in enumerate(GAUSS_CASES)})
    results.sort(key=lambda r: order[(r["kind"], tuple(r["case"]))])
    recs = [rec for r in results for rec in r["records"]]
    with open(os.path.join(HERE, "refs.json"), "w") as f:
        json.dump(recs, f, indent=1)
    wall = time.time() - t0
    checks = {"wall_seconds": wall, "mpmath": mpmath.__version__, "dps": DPS,
              "alpha1": ALPHA1, "alpha2": ALPHA2, "cases": results}
    for r in checks["cases"]:
        r.pop("records")
    with open(os.path.join(HERE, "checks.json"), "w") as f:
        json.dump(checks, f, indent=1)
    # markdown summary: max relative difference per case and check
    lines = ["| kernel | case | check | max rel. diff | seconds |", "|---|---|---|---|---|"]
    for r in results:
        keys = [k for k in r["diag"][0] if k.endswith("_vs_image") or "_vs_" in k]
        for k in keys:
            m = max(e.get(k, 0.0) for e in r["diag"])
            lines.append("| %s | %s | %s | %.1e | %.0f |" % (r["kind"], r["case"], k, m, r["seconds"]))
    lines.append("")
    lines.append("total wall time: %.0f s on %d processes" % (wall, nproc))
    with open(os.path.join(HERE, "checks.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
