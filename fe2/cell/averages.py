"""Volume averages of cell fields and the Hill-Mandel check.

Hill-Mandel: <sigma : eps> = <sigma> : <eps> for every admissible pair; the residual reported is
|<sigma:eps> - <sigma>:<eps>| / |<sigma>:<eps>| (0 for a field without strain energy).
"""

import numpy as np

from .linearization import Linearization


def linearized(cell):
    """A :class:`Linearization` as given, or the virgin one of a cell."""
    return cell if isinstance(cell, Linearization) else cell.linearize()


def hill_mandel(cell, u, stress=None):
    """Relative Hill-Mandel residual of the field u of ``cell`` (a cell: its virgin tangent, or a
    linearization: its tangent); ``stress`` the quadrature-point stress (nel, nqp, n) of a nonlinear
    law, by default the tangent times the strain."""
    u = np.asarray(u)[:, None]
    return averages(linearized(cell), u, None if stress is None else np.asarray(stress)[..., None])[2][0]


def averages(linearization, fields, stress=None):
    """<eps>, <sigma> (m, n) and the Hill-Mandel residuals (m,) of the DOF vectors fields (ndofs, m);
    <eps> of a porous cell by the average-strain theorem (:meth:`fe2.Cell.mean_strain`)."""
    cell = linearization.body
    eps = cell.B @ fields[cell.dofs][:, None]                         # (nel, nqp, n, m)
    sig = linearization.tangent @ eps if stress is None else stress
    porous = getattr(cell, "outer_boundary", None) is not None
    return field_averages(cell, eps, sig, cell.mean_strain(fields).T if porous else None)


def field_averages(cell, eps, sig, mean_eps=None):
    """<eps>, <sigma> (m, n) and the Hill-Mandel residuals (m,) of m strain and stress fields at the
    quadrature points of ``cell``, (nel, nqp, n, m) each. Averages over the whole cell volume: the voids
    of a porous cell carry no stress; its <eps> (m, n) is ``mean_eps``, from the outer boundary (by
    default the volume average of eps, which is that of a solid cell)."""
    mean_eps = cell.average(eps).T if mean_eps is None else mean_eps
    mean_sig = cell.average(sig).T
    micro = cell.average(np.einsum("eqkm,eqkm->eqm", sig, eps))
    macro = np.einsum("mk,mk->m", mean_sig, mean_eps)
    residual = np.abs(micro - macro) / np.where(macro == 0, 1.0, np.abs(macro))
    return mean_eps, mean_sig, np.where((micro == 0) & (macro == 0), 0.0, residual)
