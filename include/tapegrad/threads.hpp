#pragma once

namespace tapegrad {

/// Sets how many threads the matrix kernels (OpenBLAS) use; at least 1.
void set_num_threads(int threads);

} // namespace tapegrad
