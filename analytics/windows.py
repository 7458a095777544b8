"""Windowed values of every point of a batch, each as of that point, in one vectorised pass.

A point is evaluated at its *evaluation time*: its own time, or the newest time its series
had already reached when it is late (out of order). A mean over ``hours`` clock hours is,
as QCVN defines it, of complete hours: the ``hours`` hours before the evaluation hour (so it
is judged once its last hour has ended, at the series' next value). With ``open_hour`` (and
always for the largest value) the window ends with the evaluation hour instead, which counts
with the values received up to the point itself. Earlier hours count with everything the
store and the batch hold for them. So a late value changes the current window it falls
into, and late values of one batch count together.

Per series the batch and the store are laid out on a grid of hours (one cell per hour from
the first window start to the last evaluation hour); prefix sums over the grid give every
window in O(points + cells).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analytics.series import HOUR_MS, BoolArray, FloatArray, HourlyStore, IntArray, Points


def evaluation_time(store: HourlyStore, points: Points) -> tuple[IntArray, BoolArray]:
    """(evaluation time, out of order) of each point, before the batch enters the store."""
    newest = store.newest_of(points.series)
    return np.maximum(points.ts, newest), points.ts < newest


def window_values(
    store: HourlyStore,
    points: Points,
    t_eval: IntArray,
    hours: int,
    aggregate: Literal["mean", "max"],
    open_hour: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """(value, coverage 0..1) of each point: the mean of the hourly means over the ``hours``
    complete clock hours before its evaluation hour (``open_hour``: the ``hours`` hours ending
    with it, the one in progress as far as received), or the largest value over the ``hours``
    clock hours ending with its evaluation hour. NaN without data."""
    n = len(points)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    series, x = points.series, points.value
    own_hour, eval_hour = points.ts // HOUR_MS, t_eval // HOUR_MS
    first = np.ones(n, dtype=bool)
    first[1:] = series[1:] != series[:-1]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    low = np.minimum.reduceat(own_hour, starts) - hours
    span = np.maximum.reduceat(eval_hour, starts) - low + 1
    base = np.cumsum(span) - span
    cells = int(span.sum())
    cell_group = np.repeat(np.arange(len(starts)), span)
    cell_hour = np.arange(cells) - base[cell_group] + low[cell_group]
    s_sum, s_count, s_max = store.gather(series[starts][cell_group], cell_hour)

    own_cell = base[group] + own_hour - low[group]
    eval_cell = base[group] + eval_hour - low[group]
    counts = s_count + np.bincount(own_cell, minlength=cells)
    present = counts > 0
    if aggregate == "mean" and not open_hour:
        sums = s_sum + np.bincount(own_cell, x, minlength=cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell_mean = np.where(present, sums / counts, 0.0)
        n_present = _window_sum(present.astype(np.float64), eval_cell, hours + 1)
        total = _window_sum(cell_mean, eval_cell, hours + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(n_present > 0, total / n_present, np.nan)
        return value, n_present / hours
    # The evaluation hour as of each point: what the store held plus the batch so far.
    in_eval_hour = own_hour == eval_hour
    segment = np.ones(n, dtype=bool)
    segment[1:] = eval_cell[1:] != eval_cell[:-1]
    segment_start = np.maximum.accumulate(np.where(segment, np.arange(n), 0))
    p_count = s_count[eval_cell] + _segment_cumsum(in_eval_hour.astype(np.float64), segment_start)
    has_partial = p_count > 0
    # The hours before it in the window are complete: [eval - hours + 1, eval).
    c_present = _window_sum(present.astype(np.float64), eval_cell, hours)
    coverage = (c_present + has_partial) / hours

    if aggregate == "mean":
        sums = s_sum + np.bincount(own_cell, x, minlength=cells)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell_mean = np.where(present, sums / counts, 0.0)
            p_sum = s_sum[eval_cell] + _segment_cumsum(
                np.where(in_eval_hour, x, 0.0), segment_start
            )
            p_mean = np.where(has_partial, p_sum / p_count, 0.0)
            c_sum = _window_sum(cell_mean, eval_cell, hours)
            value = (c_sum + p_mean) / (c_present + has_partial)
        return np.where(c_present + has_partial > 0, value, np.nan), coverage

    cell_max = s_max.copy()
    np.maximum.at(cell_max, own_cell, x)
    p_max = np.maximum(
        s_max[eval_cell], _segment_cummax(np.where(in_eval_hour, x, -np.inf), segment)
    )
    if hours > 1:
        padded = np.concatenate([np.full(hours - 2, -np.inf), cell_max])
        trailing = sliding_window_view(padded, hours - 1).max(axis=-1)  # cells c-hours+2 .. c
        p_max = np.maximum(p_max, trailing[eval_cell - 1])
    return np.where(np.isfinite(p_max), p_max, np.nan), coverage


def _window_sum(per_cell: FloatArray, eval_cell: IntArray, hours: int) -> FloatArray:
    """Sum of ``per_cell`` over the ``hours - 1`` cells before each evaluation cell."""
    prefix = np.concatenate([[0.0], np.cumsum(per_cell)])
    return np.asarray(prefix[eval_cell] - prefix[eval_cell - hours + 1], dtype=np.float64)


def _segment_cumsum(values: FloatArray, start: IntArray) -> FloatArray:
    """Cumulative sum within segments; ``start[i]`` is the index where i's segment starts."""
    total = np.cumsum(values)
    return np.asarray(total - total[start] + values[start], dtype=np.float64)


def _segment_cummax(values: FloatArray, segment_start: BoolArray) -> FloatArray:
    """Cumulative maximum restarting at every ``segment_start`` (through ranks, exact)."""
    n = len(values)
    order = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    offset = (np.cumsum(segment_start) - 1) * n
    best = np.maximum.accumulate(offset + rank) - offset
    return np.asarray(values[order[best]], dtype=np.float64)
