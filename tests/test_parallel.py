"""Executors: serial, local processes and Dask give the same answers, with progress; clear errors."""

import math

import numpy as np
import pytest

import fe2
from fe2 import parallel


@pytest.fixture(scope="module")
def reference():
    study = fe2.rve_size.size_study(fe2.rve_size.RandomDiscs(0.3, h=0.3), [2.0, 3.0], 2, CONDUCTORS, executor="serial", progress=False)
    return study


CONDUCTORS = {"matrix": fe2.Conductor(1.0), "inclusion": fe2.Conductor(10.0)}


@pytest.mark.parametrize("spec", ["processes", "dask"])
def test_executors_agree_with_serial(reference, spec, capsys):
    with parallel.executor(spec, workers=2) as ex:
        assert ex.workers == 2
        study = fe2.rve_size.size_study(fe2.rve_size.RandomDiscs(0.3, h=0.3), [2.0, 3.0], 2, CONDUCTORS, executor=ex)
    for bc in fe2.rve_size.CONDITIONS:
        np.testing.assert_allclose(study.tensors[bc], reference.tensors[bc], rtol=1e-12, atol=1e-14)
    assert "cells: 4/4 (100 %)" in capsys.readouterr().err


def test_map_keeps_the_order_of_the_items():
    with parallel.Processes(2) as ex:
        assert ex.map(math.sqrt, range(7), progress=False) == [math.sqrt(i) for i in range(7)]


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConnectionError, match=r"could not reach the Dask scheduler at 'tcp://127.0.0.1:9' within 2 s"):
        parallel.Dask("tcp://127.0.0.1:9", timeout=2)


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        parallel.executor("threads")
