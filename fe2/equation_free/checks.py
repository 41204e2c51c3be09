"""The conditions patch dynamics rests on, checked from its inputs: each failure names its inequality
and by how much it fails.

* **Scale ordering** ℓ ≪ h ≪ H: the microscale ℓ (the period ε of the coefficient) fits in the core
  of width h, and the patch (core and buffers, width w = h + 2 L_b) is smaller than the patch
  spacing H; otherwise the patches cover the domain and save nothing, or the core average does not
  average the microstructure. Checked as ℓ ≤ h and w < H (:class:`ScaleWarning`).
* **Healing** √(D δt) < L_b: during a burst of length δt the artefacts of the lifting and of the
  patch boundary diffuse over √(D δt), D the largest diffusivity; they must stay in the buffer of
  width L_b or they reach the core and bias the coarse time derivative (:class:`HealingWarning`).
* **Micro relaxation** ε²/(4π² D_min) ≤ δt (heterogeneous media): the smooth lifting has no
  microscale corrector; it forms on the time constant of the slowest periodic cell mode, at most
  ε²/(4π² D_min) (the cell's first nonzero eigenvalue is at least D_min (2π/ε)²), which the burst
  must cover (:class:`HealingWarning`).

A failed condition is a warning, not an error, so that a deliberately unhealed run can show what
goes wrong; ``strict=True`` in :class:`fe2.equation_free.PatchDynamics` raises instead.
"""

import math
import warnings


class ScaleWarning(UserWarning):
    """The scale ordering ℓ ≪ h ≪ H of patch dynamics does not hold."""


class HealingWarning(UserWarning):
    """A burst is too long for its buffer (√(D δt) ≥ L_b) or too short for the microscale to heal."""


def scale_ordering(period, core, width, spacing):
    """The failed inequalities of ℓ ≤ h and w < H, one message each (empty: the ordering holds).
    ``period``: the microscale ℓ (None: a homogeneous medium, only w < H is checked); ``core``: h;
    ``width``: the patch width w = h + 2 L_b; ``spacing``: the patch spacing H (per direction)."""
    failures = []
    if period is not None and period > core * (1 + 1e-12):
        failures.append(f"scale ordering l << h fails: the microscale l = {period:.4g} exceeds the core h = {core:.4g} "
                        f"(l/h = {period / core:.3g}): the core average does not average the microstructure")
    elif period is not None and abs(core / period - round(core / period)) > 1e-6 * core / period:
        failures.append(f"scale ordering l << h: the core h = {core:.4g} holds {core / period:.4g} periods l = "
                        f"{period:.4g}, not a whole number: the core average keeps an O(l/h) part of the microscale "
                        f"oscillation; make h a multiple of l ({round(core / period) or 1} x l = "
                        f"{(round(core / period) or 1) * period:.4g})")
    for axis, H in enumerate(spacing):
        if width >= H * (1 - 1e-12):
            failures.append(f"scale ordering h << H fails{f' along axis {axis}' if len(spacing) > 1 else ''}: the patch "
                            f"width w = h + 2 L_b = {width:.4g} is not below the patch spacing H = {H:.4g} (w/H = "
                            f"{width / H:.3g}): the patches overlap and patch dynamics saves nothing over the full simulation")
    return failures


def healing(diffusivity, burst, buffer, period=None, smallest=None):
    """The failed healing inequalities, one message each: √(D δt) < L_b with D = ``diffusivity``
    (largest), δt = ``burst`` and L_b = ``buffer``; with a ``period`` ε and the smallest diffusivity
    ``smallest``, also ε²/D_min ≤ δt."""
    failures = []
    reach = math.sqrt(diffusivity * burst)
    influence = math.erfc(buffer / (2 * reach))
    if reach >= buffer:
        failures.append(f"healing condition sqrt(D dt) < L_b fails: sqrt({diffusivity:.4g} x {burst:.4g}) = {reach:.4g} "
                        f">= buffer L_b = {buffer:.4g} (by a factor {reach / buffer:.3g}): the patch boundary reaches the "
                        f"core within the burst (its influence at the core edge, erfc(L_b / (2 sqrt(D dt))) = "
                        f"{influence:.2g}); shorten the burst below {buffer**2 / diffusivity:.4g} or widen the buffer")
    if period is not None and smallest is not None:
        relax = period**2 / (4 * math.pi**2 * smallest)
        if burst < relax:
            failures.append(f"micro relaxation eps^2/(4 pi^2 D_min) <= dt fails: {period:.4g}^2 / (4 pi^2 x {smallest:.4g}) "
                            f"= {relax:.4g} > burst dt = {burst:.4g} (by a factor {relax / burst:.3g}): the microscale "
                            "corrector the smooth lifting lacks has no time to form")
    return failures


def boundary_influence(diffusivity, burst, buffer):
    """erfc(L_b / (2 √(D δt))): the fraction of a jump held at the patch boundary that diffusion
    carries to the core edge within a burst (the heat kernel's tail). The healing condition
    √(D δt) < L_b keeps it below erfc(1/2) = 0.48; an accurate coarse derivative wants it far
    smaller (L_b ≈ 5 √(D δt) gives 4e-4)."""
    return math.erfc(buffer / (2 * math.sqrt(diffusivity * burst)))


def report(failures, category, strict=False, stacklevel=3):
    """Warn (``category``) once per failed condition, or raise ValueError with all of them if ``strict``."""
    if failures and strict:
        raise ValueError("; ".join(failures))
    for message in failures:
        warnings.warn(message, category, stacklevel=stacklevel)
    return failures
