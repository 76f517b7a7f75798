"""The Emotion Loss Attack (Liu, Xu and Zheng; paper 000): augmented-Lagrangian search for x'
with minimal perceptual distance D = b + a + s + r + p (+ e) subject to a classification
constraint.

The paper's D is b + a + s: relative changes of bone lengths, inner bone angles and joint
speeds. Those cannot see a limb swung on a cone about its parent bone, a change of a
joint's direction of motion at the same speed, or a steady shift of the whole body, and an
optimiser finds exactly those: on 16 training samples of MSR Action3D hcn the paper's D
turned bones by 5.7° on average (Bandai-2 hcn: 10.4°) while ΔB/B read 0.53 %. So by default
D adds r, the angle by which each bone turns from its clean direction, and p, the centre
joint's shift relative to the mean bone length (`DynamicDistance`: b, r and p together
price every displacement, since joints are the centre plus sums of bone vectors), and the
speed term measures the change of each joint's velocity vector (`velocity=True`).
`PAPER_D` (`--cfg turn_weight=0 shift_weight=0 velocity=False peak_weight=0 spread_weight=0
accel_weight=0 turn_peak_weight=0 still_weight=0`) is the paper's D.

L(x', λ) = D(x, x') + λ·C(x') + (γ/2)·C(x')², one λ per sample (λ₀ = 0). Each outer iteration
takes `inner_steps` Adam steps on x' minimising L, then λ ← λ + γ·C(x') (and, with
`gamma_growth` G > 1, γ ← G·γ for a sample that has not yet succeeded). Per sample the
successful x' (judged by the model's actual prediction) with the lowest D is kept.

Batched and early-stopping: a sample is finished once it has been successful and its best D
has not improved by the relative tolerance `rel_tol` for `patience` outer iterations; finished
samples leave the active batch and cost nothing more. A sample whose loss becomes non-finite
is stopped with a note, without touching the others. Per-sample state (best x', λ, counters)
lives in the active batch and is written out only when samples leave it, so a step makes a
single host-device synchronisation (how many samples go on; a few more on the rare steps
where samples leave); clean features and E(x) are computed once per call.

Defaults (`ELA.options()`; chosen on 16 TRAINING samples of each of the six model/dataset
pairs with `scripts/tune_ela.py` and `scripts/choose_defaults.py`, never on the test samples
docs/results.md reports): `turn_weight` = 1, `shift_weight` = 1, `velocity` = True,
`peak_weight` = 1 (k = 50), `spread_weight` = 1000, `accel_weight` = 10, `turn_peak_weight`
= 0.03 (`turn_peak_sharpness` = 150), `still_weight` = 1, γ = 0.1, growing by
`gamma_growth` = 1.1 until the first success, margin `conf` 0.5, Adam at lr 2e-3 (metres)
with β₂ 0.9, up to `steps` = 2000 steps in outer iterations of 10; once a sample has
succeeded its step decays by `lr_decay` = 0.93 per outer iteration, and it stops after
`settle_iters` = 40 outer iterations since its first success, or after `patience` = 20
outer iterations without a `rel_tol` = 0.1 % better best D. The emotion term is the KL
divergence between E's emotion posteriors on x and x' (`emotion_mode="kl"`, weight 1).

Why c, t, h and a growing γ (and q at 1000): `choose_defaults.py` ranks settings by their
shortfall against the better of C&W and SMART on every column of docs/results.md (the sum
over lost cells of ln(ELA / bar)); over the six pairs' training samples these defaults read
4.06 where the earlier ones (`spread_weight=100 accel_weight=0 turn_peak_weight=0
turn_peak_sharpness=50 still_weight=0 gamma_growth=1`) read 6.15, and 4.92 against 6.74 on
16 other training samples. c prices the jerk a per-frame change leaves (Δacc), t one bone
turned far, h still joints set moving by the heavier q, and the growing γ lets samples that
a heavy D holds at the boundary succeed within the budget.

Why j and q: with b + a + s + r + p alone, ELA's changes were the smallest on every
relative measure but the largest in metres (l2 about 2× C&W's, median l∞ 141 against
68 mm on those training samples): the means over bones and frames let one limb move far in
the few frames that decide the class. On the same 16 samples (E = the CNN of
docs/results.md; all at the short schedule, median 412 model evaluations, where the
previous schedule took 1 512): without j and q ΔB/B 2.19 %, l2 23.0 mm/frame, median l∞
84 mm; q alone (weight 10 / 30 / 100 with j 0.3) brings l2 to 19.0 / 17.3 / 15.4 at ΔB/B
1.87 / 1.79 / 2.05 %; j alone (weight 1) brings l∞ to 58 mm at ΔB/B 2.97 %; j 1 with q 100
(the earlier default) gives ΔB/B 2.27 %, Zheng et al.'s angle measure 19.1 %, mean bone
turn 1.75° (largest 22°), l2 15.5, median l∞ 64 mm, Δacc 9.1 mm/frame². C&W with the
public code's constant search: 2.69 %, 17.0 %, 2.06° (27°), 12.2, 79 mm, 13.9; SMART
(per-sample normalisation) 4.31 %, 30.8 %, 3.56° (21°), 19.6, 93 mm, 2.7, fooling 14 of 16.
The shorter schedule costs quality (the previous one reached ΔB/B 1.16 % without j and q)
for a third of the evaluations. The earlier defaults above with `peak_weight=0
spread_weight=0 settle_iters=150 lr_decay=0.98` are the default before j and q.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch
from torch import nn

from ela.attacks.base import ActiveBatch, Attack, AttackContext, AttackError, adam_update
from ela.attacks.distances import (
    MIN_ANGLE,
    MIN_LENGTH,
    MIN_SPEED,
    DynamicDistance,
    EmotionDistance,
    EmotionMode,
)
from ela.skeleton import Layout
from ela.skeleton.features import parent_distances, with_bone_lengths

# ELA's options that reduce its D to the paper's b + a + s (`ELA(model, **PAPER_D)`)
PAPER_D = {"turn_weight": 0.0, "shift_weight": 0.0, "velocity": False, "peak_weight": 0.0,
           "spread_weight": 0.0, "accel_weight": 0.0, "turn_peak_weight": 0.0,
           "still_weight": 0.0}
# the options whose defaults `scripts/choose_defaults.py`'s choice changed, at their values
# before it (`EARLIER_CFG` of `scripts/real_data.sh`): what older tables were measured with
EARLIER_DEFAULTS = {"spread_weight": 100.0, "accel_weight": 0.0, "turn_peak_weight": 0.0,
                    "turn_peak_sharpness": 50.0, "still_weight": 0.0, "gamma_growth": 1.0}


class ELA(Attack):
    """Emotion Loss Attack.

    Args:
        model: the attacked action recognizer (`SkeletonModel`).
        layout: data layout (default `model.layout`).
        emotion_model: emotion recognizer whose penultimate features give the emotion term e;
            None (or `emotion_weight=0`) switches the emotion loss off.
        gamma: augmented-Lagrangian penalty γ (the paper tries 0.1, 1, 10).
        gamma_growth: factor applied to a sample's γ after every outer iteration until its
            first success (default 1.1; 1: a fixed γ). The classic augmented-Lagrangian
            remedy for a constraint that stays violated: λ grows by γ·C per outer
            iteration whatever D's scale, so a heavier D (a large `spread_weight`) can hold
            a hard sample at the boundary until the step budget ends; a growing γ reaches
            the constraint's scale there, while a sample that succeeds early keeps a γ near
            the one set.
        conf: logit margin of the constraint C.
        lr: Adam step size on x' (metres).
        lr_decay: factor applied to a sample's step size after every outer iteration once
            the sample has succeeded. Adam moves every coordinate by about `lr` per step, so
            a constant step leaves a jitter of that size, which shows in the joint speeds;
            decaying it lets x' settle, and keeping the full step until the first success
            lets hard samples get there.
        beta2: Adam's second-moment decay. 0.9, not the usual 0.999: with a long memory the
            large constraint gradients of the first steps keep scaling down the small distance
            gradients that follow, and x' keeps a dense jitter (on 12 hard MSR samples
            against an HCN: ΔS/S 95 % with 0.999, 2.5 % with 0.9 at the same budget).
        steps: budget of Adam steps per sample; the dual variable is updated every
            `inner_steps` of them (so `steps // inner_steps` outer iterations).
        inner_steps: Adam steps per dual update.
        weights, tolerances: (b, a, s) weights and tolerances ε of the dynamic distance.
        velocity: the speed term measures the change of each joint's velocity vector
            (direction included), not only of its speed (see `DynamicDistance`).
        turn_weight: weight of the bone-turn term r, the angle by which each bone turns
            from its clean direction (radians, mean over bones and frames;
            `DynamicDistance`). b and a cannot see a limb swung on a cone about its parent
            bone; r can.
        shift_weight: weight of the centre-shift term p, the centre joint's displacement
            relative to the mean bone length (`DynamicDistance`): a steady whole-body
            translation changes no bone, angle or speed; p sees it.
        peak_weight, peak_sharpness: weight and sharpness k of the soft maximum j over
            joint-frames of the joint displacement relative to the mean bone length
            (`DynamicDistance`): the means b, a, s, r, p let one limb move far in the few
            frames that decide the class; j prices that peak.
        spread_weight: weight of q, the mean squared relative joint displacement: a
            concentrated change costs more than the same total spread thinly.
        accel_weight: weight of c, the change of each joint's acceleration relative to the
            mean bone length (`DynamicDistance`; see docs/attacks.md for its trade-off on
            training samples).
        turn_peak_weight, turn_peak_sharpness: weight and sharpness k (per radian) of t, the
            soft maximum of the bone turns r averages (`DynamicDistance`; see
            docs/attacks.md for its trade-off on training samples): r's mean lets one short
            bone turn far.
        still_weight: weight of h, the speed given to joints that stand still in x, in units
            of `min_speed` and averaged over those joint-frames alone (`DynamicDistance`):
            s averages them with the moving joints, and where few joints stand
            a heavy q can set them moving at little cost in s.
        emotion_weight: weight of e.
        emotion_mode: how e measures the change of E (`EmotionDistance`): "kl" between the
            emotion posteriors (default: it keeps exactly what the emotion consistency
            measures, and cost ΔB/B 1.10× that of no emotion term on Bandai-2 hcn training
            samples against 1.20× for "relative"), the "relative" feature change (a
            fraction like b, a, s), or the paper's raw "feature" distance.
        patience, rel_tol: early stop of successful samples (outer iterations without a
            relative improvement of the best D by `rel_tol`).
        settle_iters: a successful sample also stops after this many outer iterations
            since its first success (None: no such limit), when its decayed step has made
            further gains small.
        min_length, min_angle, min_speed: guards of the dynamic distance (m, rad, m/frame).
        frequencies: K, the change δ built from the K lowest frequencies of an orthonormal
            DCT-II along time, one coefficient per frequency, coordinate, joint and body
            (`dct_basis`; Adam steps on the coefficients). None (default): δ free in every
            frame. A low K makes the change smooth by construction: the joints' speed and
            acceleration change slowly, where a per-frame δ may jerk (Δacc).
        rigid: hold every bone at its clean length in every frame: x' is x + δ rebuilt from
            the root outwards with each bone's direction kept and its clean length restored
            (`ela.skeleton.features.with_bone_lengths`), so ΔB/B is 0 by construction and
            the attack moves limbs only by turning them. A person's bones do not stretch;
            an attack that stretches them is found by a squeezer that restores their
            lengths (`ela.models.squeeze`, ``rigid``).
        bounds: optional (lo, hi) clamp of x'.
        compile_model: run the attacked model through `torch.compile` (dynamic shapes, as
            the active batch shrinks); the first call compiles (about a minute on a CPU), so
            it pays off on long attacks only (`bench/attack_overhead.py --compile`).

    `result.info` holds per sample "lambda" (final multiplier) and "distance" (best D of a
    successful x'; inf when none was found, NaN when the sample was not attacked).
    """

    name = "ela"

    def __init__(
        self,
        model: nn.Module,
        layout: str | Layout | None = None,
        emotion_model: nn.Module | None = None,
        gamma: float = 0.1,
        gamma_growth: float = 1.1,
        conf: float = 0.5,
        lr: float = 2e-3,
        lr_decay: float = 0.93,
        beta2: float = 0.9,
        steps: int = 2000,
        inner_steps: int = 10,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        tolerances: tuple[float, float, float] = (0.0, 0.0, 0.0),
        velocity: bool = True,
        turn_weight: float = 1.0,
        shift_weight: float = 1.0,
        peak_weight: float = 1.0,
        peak_sharpness: float = 50.0,
        spread_weight: float = 1000.0,
        accel_weight: float = 10.0,
        turn_peak_weight: float = 0.03,
        turn_peak_sharpness: float = 150.0,
        still_weight: float = 1.0,
        emotion_weight: float = 1.0,
        emotion_mode: EmotionMode = "kl",
        patience: int = 20,
        rel_tol: float = 1e-3,
        settle_iters: int | None = 40,
        min_length: float = MIN_LENGTH,
        min_angle: float = MIN_ANGLE,
        min_speed: float = MIN_SPEED,
        frequencies: int | None = None,
        rigid: bool = False,
        bounds=None,
        compile_model: bool = False,
    ):
        super().__init__(model, layout, bounds)
        if inner_steps < 1 or steps < inner_steps or patience < 1:
            raise AttackError("ELA: inner_steps and patience must be ≥ 1 and steps ≥ "
                              f"inner_steps, got steps={steps}, inner_steps={inner_steps}, "
                              f"patience={patience}")
        if gamma <= 0 or lr <= 0 or conf < 0 or not 0 < lr_decay <= 1:
            raise AttackError("ELA: gamma and lr must be > 0, conf ≥ 0, 0 < lr_decay ≤ 1")
        if gamma_growth < 1:
            raise AttackError(f"ELA: gamma_growth must be ≥ 1 (γ only grows), got {gamma_growth}")
        if frequencies is not None and frequencies < 1:
            raise AttackError(f"ELA: frequencies must be ≥ 1 or None, got {frequencies}")
        self.gamma, self.conf, self.lr = float(gamma), float(conf), float(lr)
        self.gamma_growth = float(gamma_growth)
        self.lr_decay = float(lr_decay)
        self.beta2 = float(beta2)
        self.steps, self.inner_steps = int(steps), int(inner_steps)
        self.patience, self.rel_tol = int(patience), float(rel_tol)
        self.settle_iters = None if settle_iters is None else int(settle_iters)
        self.distance = DynamicDistance(self.layout, weights, tolerances,
                                        min_length, min_angle, min_speed, velocity=velocity,
                                        turn_weight=turn_weight, shift_weight=shift_weight,
                                        peak_weight=peak_weight, peak_sharpness=peak_sharpness,
                                        spread_weight=spread_weight,
                                        accel_weight=accel_weight,
                                        turn_peak_weight=turn_peak_weight,
                                        turn_peak_sharpness=turn_peak_sharpness,
                                        still_weight=still_weight)
        self.frequencies = None if frequencies is None else int(frequencies)
        self.rigid = bool(rigid)
        self.emotion_weight = float(emotion_weight)
        self.emotion = (EmotionDistance(emotion_model, self.layout, emotion_mode)
                        if emotion_model is not None and self.emotion_weight > 0 else None)
        self._forward = torch.compile(model, dynamic=True) if compile_model else model

    def logits(self, ctx: AttackContext, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        ctx.evaluations[idx] += 1
        return self._forward(x)

    def _modules(self) -> list[nn.Module]:
        return [self.model] + ([self.emotion.model] if self.emotion is not None else [])

    def _distance(self, x_adv: torch.Tensor, s: ActiveBatch) -> torch.Tensor:
        d = self.distance(x_adv, s["dyn"])
        if self.emotion is not None:
            d = d + self.emotion_weight * self.emotion(x_adv, s["emo"])
        return d

    def _place(self, s: ActiveBatch, delta: torch.Tensor,
               basis: torch.Tensor | None) -> torch.Tensor:
        """x + δ where coordinates may change, its bones at their clean lengths if rigid;
        with a (T, K) `basis`, `delta` holds the (N, C, K, V, M) coefficients of δ."""
        if basis is not None:
            delta = torch.einsum("nckvm,tk->nctvm", delta, basis)
        x_adv = s["x"] + s["movable"] * delta
        if s["lengths"] is None:
            return x_adv
        return with_bone_lengths(x_adv, self.layout, s["lengths"])

    def _run(self, ctx: AttackContext, todo: torch.Tensor) -> None:
        x = ctx.x[todo]
        n = len(todo)
        full_inf = torch.full((n,), float("inf"), device=x.device)
        basis = (None if self.frequencies is None
                 else dct_basis(x.shape[2], self.frequencies).to(x))
        delta0 = x.new_zeros(x.shape if basis is None
                             else (n, x.shape[1], basis.shape[1], *x.shape[3:]))
        s = ActiveBatch(
            todo, x=x, adv=x, movable=ctx.movable[todo], delta=delta0,
            m=torch.zeros_like(delta0), v=torch.zeros_like(delta0),
            lam=torch.zeros(n, device=x.device),
            gamma=torch.full((n,), self.gamma, device=x.device),
            best=full_inf.clone(), mark=full_inf.clone(),
            stall=torch.zeros(n, dtype=torch.long, device=x.device),
            since=torch.zeros(n, dtype=torch.long, device=x.device),
            lr=torch.full((n,), self.lr, device=x.device),
            ok=torch.zeros(n, dtype=torch.bool, device=x.device),
            dyn=self.distance.reference(x, ctx.sub_lengths(todo)),
            emo=self.emotion.reference(x) if self.emotion is not None else None,
            lengths=parent_distances(x, self.layout) if self.rigid else None,
        )
        ctx.info["lambda"] = torch.zeros(ctx.x.shape[0], device=x.device)
        ctx.info["distance"] = torch.full((ctx.x.shape[0],), float("nan"), device=x.device)
        total = self.steps // self.inner_steps * self.inner_steps
        for it in range(total + 1):
            last = it == total
            delta = s["delta"].detach().requires_grad_(not last)
            with torch.set_grad_enabled(not last):
                x_adv = self.project(ctx, self._place(s, delta, basis), s.idx)
                logits = self.logits(ctx, x_adv, s.idx)
                c = self.margin(ctx, logits, s.idx, self.conf)
                boundary = it > 0 and it % self.inner_steps == 0
                if boundary:  # dual step at x'(i+1), the point just reached
                    s["lam"] = s["lam"] + s["gamma"] * c.detach()
                    s["gamma"] = torch.where(s["ok"], s["gamma"],
                                             s["gamma"] * self.gamma_growth)
                dist = self._distance(x_adv, s)
                loss = dist + s["lam"] * c + 0.5 * s["gamma"] * c * c
            finite = torch.isfinite(loss.detach())
            self._record(ctx, s, x_adv.detach(), dist.detach(), logits, finite)
            if last:
                break
            keep = finite & ~self._finished(s) if boundary else finite
            kept = int(keep.sum())  # the one host-device sync of a step
            if boundary:
                self.report(ctx, it, total, kept)
            if kept < len(s):
                self._retire(ctx, s, it, finite)
                if kept == 0:
                    return
            grad = torch.autograd.grad(torch.where(finite, loss, 0.0).sum(), delta)[0]
            delta = delta.detach()
            if kept < len(s):
                s.keep(keep)
                delta, grad = delta[keep], grad[keep]
            lr = s["lr"].view(-1, *[1] * (delta.dim() - 1))
            s["delta"], s["m"], s["v"] = adam_update(delta, grad, s["m"], s["v"], it + 1, lr,
                                                     betas=(0.9, self.beta2))
        self._retire(ctx, s, total, finite)

    def _retire(self, ctx: AttackContext, s: ActiveBatch, steps: int,
                finite: torch.Tensor) -> None:
        """Write the active rows' state to `ctx` (all took `steps` Adam steps so far) and note
        the non-finite ones. Called whenever rows are about to leave the active batch."""
        ctx.adversarial[s.idx] = s["adv"]
        ctx.info["lambda"][s.idx] = s["lam"]
        ctx.info["distance"][s.idx] = s["best"]
        ctx.iterations[s.idx] = steps
        ctx.gradients[s.idx] = steps
        for i in s.idx[~finite].tolist():
            ctx.notes.append(f"sample {i}: non-finite loss; stopped after {steps} steps")

    def _record(self, ctx: AttackContext, s: ActiveBatch, x_adv: torch.Tensor,
                dist: torch.Tensor, logits: torch.Tensor, finite: torch.Tensor) -> None:
        """Keep the lowest-D successful point; failed samples carry their latest iterate."""
        ok = self.succeeded(ctx, logits, s.idx) & finite
        better = ok & (dist < s["best"])
        s["best"] = torch.where(better, dist, s["best"])
        s["ok"] = s["ok"] | ok
        write = better | (~s["ok"] & finite)
        s["adv"] = torch.where(write.view(-1, *[1] * (x_adv.dim() - 1)), x_adv, s["adv"])

    def _finished(self, s: ActiveBatch) -> torch.Tensor:
        """At an outer boundary: update the stall counters, decay the step of the samples
        that have succeeded; (n,) True for finished samples."""
        improved = s["best"] < s["mark"] * (1 - self.rel_tol)
        s["mark"] = torch.where(improved, s["best"], s["mark"])
        s["stall"] = torch.where(improved, torch.zeros_like(s["stall"]), s["stall"] + 1)
        s["since"] = s["since"] + s["ok"].long()
        s["lr"] = torch.where(s["ok"], s["lr"] * self.lr_decay, s["lr"])
        done = s["stall"] >= self.patience
        if self.settle_iters is not None:
            done = done | (s["since"] >= self.settle_iters)
        return s["ok"] & done


def dct_basis(frames: int, frequencies: int) -> torch.Tensor:
    """(T, K) the K = min(`frequencies`, T) lowest-frequency vectors of the orthonormal
    DCT-II on T = `frames` frames (SciPy's ``norm="ortho"``): column k ∝ cos(π (t + ½) k / T)."""
    transform = scipy.fft.dct(np.eye(frames), norm="ortho", axis=0)  # row k: frequency k
    return torch.from_numpy(transform[:frequencies].T.copy()).float()
