"""Surrogate laws trained on cell solves, with error control (docs/surrogates.md): offline sampling
(:func:`sample`, :class:`Samples`), the fitted surrogate with its exact tangent and error indicator
(:class:`Surrogate`), the online law that falls back to the full cell and refits
(:class:`SurrogateLaw`), and adaptive concurrent FE² for history-dependent cells (:class:`AdaptiveRVELaw`)."""

from .online import SurrogateLaw, Training
from .rbf import KERNELS, PotentialSurrogate, Surrogate, fit
from .samples import Samples, design, sample
from .adaptive import AdaptiveRVELaw, Sharing
