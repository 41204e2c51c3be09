"""Regenerate meshes/voxel_sample.npy: a small periodic two-phase voxel image for cases/voxel_image.py.

A smooth periodic random field, a seeded Fourier series with integer wave vectors (so it is periodic
on the unit cube), sampled at the centres of 24^3 voxels and thresholded at its 70 % quantile:
label 1 ("inclusion", 30 % of the voxels) where the field is high, label 0 ("matrix") elsewhere.
Axis order x, y, z (labels[i, j, k] is the voxel at x index i), as in fe2.voxel.

Run from anywhere:  python meshes/make_voxel_sample.py
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N, KMAX, WIDTH, FRACTION, SEED = 24, 3, 1.5, 0.3, 20240607


def sample(n=N, seed=SEED):
    rng = np.random.default_rng(seed)
    k = np.stack(np.meshgrid(*[np.arange(-KMAX, KMAX + 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    k = k[np.any(k != 0, axis=1)]
    amplitude = rng.standard_normal(len(k)) * np.exp(-np.sum(k**2, axis=1) / (2 * WIDTH**2))
    phase = rng.uniform(0, 2 * np.pi, len(k))
    x = (np.arange(n) + 0.5) / n
    X = np.stack(np.meshgrid(x, x, x, indexing="ij"), axis=-1).reshape(-1, 3)
    field = np.cos(2 * np.pi * X @ k.T + phase) @ amplitude
    labels = (field > np.quantile(field, 1 - FRACTION)).astype(np.uint8)
    return labels.reshape(n, n, n)


def main():
    labels = sample()
    path = os.path.join(HERE, "voxel_sample.npy")
    np.save(path, labels)
    print(f"{path}: shape {labels.shape}, dtype {labels.dtype}, inclusion fraction {labels.mean():.3f}, "
          f"{os.path.getsize(path) / 1024:.1f} kB")


if __name__ == "__main__":
    main()
