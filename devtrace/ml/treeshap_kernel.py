"""The compiled loop of the table engine (numba; imported only when the engine runs).

Compiled once per machine and cached on disk (numba's cache=True); nogil so that threads
can each take a share of the rows. Rows are processed in blocks, one tree at a time over
the block: the loops over rows are straight-line (no data-dependent branch, so the CPU
never mispredicts one and the compiler vectorises them), on column-major inputs. Each
output cell still receives the trees' values in tree order, as in XGBoost.
"""

import numba
import numpy as np

BLOCK = 512


@numba.njit(nogil=True, cache=True)
def accumulate(columns, out, start, stop, tree_ptr, feature, stride, missing_bin, threshold_ptr, thresholds,
               table_ptr, values):
    """Add every tree's table row to `out` (features + 1, rows) for rows start:stop of
    `columns` (features, rows), trees in order."""
    pattern = np.zeros(BLOCK, dtype=np.int32)  # per row of the block: its cell in the tree's table
    for block in range(start, stop, BLOCK):
        n = min(BLOCK, stop - block)
        for tree in range(tree_ptr.size - 1):
            first, last = tree_ptr[tree], tree_ptr[tree + 1]
            width = last - first  # cells per pattern: one per feature the tree uses
            pattern[:n] = 0
            for entry in range(first, last):
                column = columns[feature[entry]]
                step = np.int32(stride[entry] * width)
                for t in range(threshold_ptr[entry], threshold_ptr[entry + 1]):
                    threshold = thresholds[t]
                    for r in range(n):  # NaN >= threshold is false: a missing value stays in bin 0
                        pattern[r] += np.int32(column[block + r] >= threshold) * step
                missing = np.int32(missing_bin[entry]) * step
                if missing:
                    for r in range(n):
                        pattern[r] += np.int32(column[block + r] != column[block + r]) * missing
            for entry in range(first, last):
                target = out[feature[entry]]
                cells = values[table_ptr[tree] + entry - first :]
                for r in range(n):
                    target[block + r] += cells[pattern[r]]
