"""The local-problem engine shared by MsFEM and LOD: fine element data computed once per fine element.

Both methods solve local problems on patches of coarse elements, and neighbouring patches overlap:
an oversampled MsFEM patch (factor 2) holds each fine element about four times, an LOD patch of k
layers (2k + 1)^2 times on a structured grid. The element data of the fine elements of a coarse
element K (stiffness matrices, the integrals of the fine hat functions, the coarse nodal functions
at its fine nodes, and for LOD the element L2 projection onto the coarse functions) are computed
here once, in batches of coarse elements, and handed to every task whose patches contain K.

``blocks(compute, needs, sizes)`` walks the tasks in order: before a task it computes the coarse
elements it needs that are not yet held (with the next ones in order of first use, up to ``BATCH``
fine elements, so the batch is vectorized), and after it drops those no later task needs. In a
sweep order of the coarse elements only a band of patches' data is held at once, so memory stays
bounded by the band, not the mesh. The tasks themselves carry plain arrays: a worker builds no
scikit-fem object, and only the batches need a collection of the
scikit-fem objects' reference cycles.
"""

import gc

import numpy as np

from ..cell.body import Body
from .partition import shape_functions

BATCH = 12_000  # fine elements whose element data are computed together (bounds the transient memory of one batch)


def blocks(compute, needs, sizes, batch=BATCH):
    """For each task (the coarse elements ``needs[i]`` it needs), a dict K -> ``compute``'d data of K.

    ``compute(list of K)`` returns {K: data}; ``sizes[K]`` is K's number of fine elements. Each K
    is computed once, and released after the last task that needs it."""
    needs = [np.asarray(need, dtype=int) for need in needs]
    last, order = {}, []
    for i, need in enumerate(needs):
        for K in need.tolist():
            if K not in last:
                order.append(K)
            last[K] = i
    held, position = {}, 0
    for i, need in enumerate(needs):
        missing = [K for K in need.tolist() if K not in held]
        if missing:
            group, size = list(missing), int(np.sum(sizes[missing]))
            chosen = set(group)
            while position < len(order) and size < batch:
                K = order[position]
                position += 1
                if K not in held and K not in chosen:
                    group.append(K)
                    chosen.add(K)
                    size += int(sizes[K])
            held.update(compute(group))
        yield {K: held[K] for K in need.tolist()}
        for K in need.tolist():
            if last[K] == i:
                del held[K]


def submesh(mesh_type, p, t, phase, phases, materials):
    """A scikit-fem mesh of some fine elements with their phases, and the laws of those phases."""
    present = np.unique(phase)
    subdomains = {phases[i]: np.flatnonzero(phase == i) for i in present}
    mesh = mesh_type(np.ascontiguousarray(p), np.ascontiguousarray(t), _subdomains=subdomains)
    return mesh, {phases[i]: materials[phases[i]] for i in present}


def element_data(space, group, projection=False):
    """The data of the fine elements of the coarse elements ``group`` of ``space`` (an MsFEM or LOD
    space: fine mesh, phases, laws, partition), computed in one Body: {K: dict} with

    * ``t`` (nv_f, n_K): the fine elements' nodes (fine-mesh numbering), ``phase`` (n_K,);
    * ``matrices`` (n_K, nloc, nloc): element stiffness matrices (DOFs node * ncomp + component);
    * ``volumes`` (n_K, nv_f): the integrals of the fine hat functions over each element;
    * ``nodes``: K's fine nodes (sorted), ``N`` (nv, n_nodes): K's coarse nodal functions at them;
    * with ``projection``: ``projection`` (nv, n_nodes), the element L2 projection onto K's coarse
      functions, Pi_K v = M_K^-1 B_K v with B_K[i, a] = int_K N_i phi_a and M_K = B_K N^T (so that it
      reproduces the fine interpolants of the coarse functions exactly)."""
    fine, partition = space.fine, space.partition
    members = [partition.members(K) for K in group]
    elements = np.concatenate(members)
    nodes, local = np.unique(fine.t[:, elements], return_inverse=True)
    mesh, materials = submesh(type(fine), fine.p[:, nodes], local.reshape(fine.t.shape[0], -1), space.phase[elements],
                              space.phases, space.materials)
    body = Body(mesh, materials)
    matrices = body.linearize().element_matrices
    values = np.stack([np.asarray(b) for (b,) in body.basis.basis])                       # (nv_f, nel, nqp)
    volumes = np.einsum("aeq,eq->ea", values, body.dx)
    if projection:
        x = body.basis.mapping.F(body.basis.X)                                           # (2, nel, nqp)
    data, start = {}, 0
    for K, own in zip(group, members):
        rows = slice(start, start + own.size)
        start += own.size
        t = fine.t[:, own]
        K_nodes, K_local = np.unique(t, return_inverse=True)
        V = partition.vertices[K]
        block = dict(t=t, phase=space.phase[own], matrices=matrices[rows], volumes=volumes[rows], nodes=K_nodes,
                     N=shape_functions(V, fine.p[:, K_nodes]))
        if projection:
            nq = x.shape[2]
            N_q = shape_functions(V, x[:, rows].reshape(2, -1)).reshape(len(V), own.size, nq)
            b = np.einsum("ieq,aeq,eq->iea", N_q, values[:, rows], body.dx[rows])        # (nv, n_K, nv_f)
            B = np.zeros((len(V), K_nodes.size))
            np.add.at(B, (slice(None), K_local.reshape(t.shape).T), b)
            block["projection"] = np.linalg.solve(B @ block["N"].T, B)
        data[K] = block
    del body, mesh
    # scikit-fem meshes and bases hold reference cycles: free this batch's now. They are young, so a
    # collection of the two young generations finds them (about 1 ms; a full one scans the whole heap, 40 ms)
    gc.collect(1)
    return data


def boundary_facets(t):
    """The facets of the 2D elements t (nv, n) that belong to one element only: (2, nf) node pairs
    and the element of each."""
    a, b = t, np.roll(t, -1, axis=0)
    lo, hi = np.minimum(a, b).ravel(), np.maximum(a, b).ravel()
    key = lo.astype(np.int64) * (int(t.max()) + 1) + hi
    _, first, count = np.unique(key, return_index=True, return_counts=True)
    once = first[count == 1]
    return np.vstack([lo[once], hi[once]]), once % t.shape[1]


def assemble(element_matrices, dofs, n, dense=False):
    """The matrix assembled from element matrices (nel, nloc, nloc) on the DOFs (nel, nloc)."""
    import scipy.sparse as sp

    nloc = dofs.shape[1]
    if dense:
        index = (dofs[:, :, None] * n + dofs[:, None, :]).ravel()
        return np.bincount(index, weights=element_matrices.ravel(), minlength=n * n).reshape(n, n)
    rows = np.repeat(dofs, nloc, axis=1).ravel()
    cols = np.tile(dofs, (1, nloc)).ravel()
    return sp.csr_matrix((element_matrices.ravel(), (rows, cols)), shape=(n, n))


def interleave(nodes, ncomp):
    """The DOFs node * ncomp + component of nodes (n,) -> (n * ncomp,), or of rows of nodes (m, n) ->
    (m, n * ncomp)."""
    nodes = np.asarray(nodes)
    dofs = nodes[..., None] * ncomp + np.arange(ncomp)
    return dofs.reshape(nodes.shape[:-1] + (-1,))


def stacked(held, keys):
    """The element arrays of the coarse elements ``keys`` (data of :func:`element_data`) one after the
    other, and the offset of each K's first element."""
    offsets = np.cumsum([0] + [held[K]["t"].shape[1] for K in keys])
    arrays = {name: np.concatenate([held[K][name] for K in keys], axis=-1 if name == "t" else 0)
              for name in ("t", "phase", "matrices", "volumes")}
    return arrays, offsets
