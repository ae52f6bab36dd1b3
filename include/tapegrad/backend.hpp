#pragma once
// The libraries that do tapegrad's matrix work, and the one knob for their threads: float
// products run on oneDNN (its kernels follow the instruction set the CPU reports), double
// products on OpenBLAS (oneDNN has no double GEMM).

#include <string>

namespace tapegrad {

/// Sets how many threads the matrix kernels use, oneDNN's (OpenMP) and OpenBLAS's alike;
/// at least 1. Results are identical run to run for a given count.
void set_num_threads(int threads);

struct BackendInfo {
    std::string onednn_version; // "2.6.3"
    std::string onednn_isa;     // the instruction set oneDNN runs, e.g. "avx2", "avx512_core_amx"
    std::string openblas_version;
    std::string openblas_core; // the kernels OpenBLAS chose, e.g. "Zen", "SkylakeX", "Prescott"
    int onednn_threads = 1;
    int openblas_threads = 1;
    /// Non-empty when OpenBLAS runs generic kernels on a CPU with AVX2 or AVX-512 (it does
    /// not know the model): what that costs the double paths, and the remedy.
    std::string openblas_warning;

    /// "oneDNN 2.6.3 (avx2, 1 thread), OpenBLAS 0.3.21 (Zen, 1 thread)"
    std::string summary() const;
};

BackendInfo backend_info();

} // namespace tapegrad
