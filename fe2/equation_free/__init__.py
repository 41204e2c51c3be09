"""Equation-free multiscale computation: patch dynamics (the gap-tooth scheme with buffers) and coarse
projective integration, on fe2's P1 finite-element fine solver.

    problem = Diffusion(a)                                   # u_t = div(a(x) grad u) + f
    patches = Patches(1.0, 16, core=0.01, buffer=0.01, dx=0.001)
    scheme = PatchDynamics(problem, patches, order=4, dt=1e-5, steps=4)
    trajectory = scheme.run(scheme.initial(u0), time=0.05, step=5e-4, method="rk2")

See docs/equation_free.md for the method, its conventions and the measured accuracy and speed.
"""

from . import checks, fine, lifting, output, patches, projective
from .checks import HealingWarning, ScaleWarning
from .fine import Diffusion, Discretization, FineSimulation, PatchSolver
from .lifting import consistency, lift, minimal_lifting, restrict, restriction_weights
from .patches import Coupling, Patches, lagrange_weights, trigonometric_weights
from .projective import Burst, PatchDynamics, Trajectory
