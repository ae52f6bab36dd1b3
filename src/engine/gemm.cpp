// Matrix products and the backends behind them: oneDNN for float, OpenBLAS for double.
// The backends' C headers stay in this file; nothing else needs them.

#include "engine/gemm.hpp"

#include "tapegrad/backend.hpp"
#include "tapegrad/errors.hpp"

#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <type_traits>

namespace tapegrad {

namespace detail {

namespace {

// Below about 24 x 24 x 24 multiply-adds, OpenBLAS's call costs less than oneDNN's (0.2-1 us
// against 0.6-1.2 us on the development machine); above it oneDNN is as fast or faster.
constexpr std::size_t smallest_onednn_product = 16384;

blasint blas_size(std::size_t n) {
    return static_cast<blasint>(n);
}

} // namespace

template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          T alpha, const T* a, const T* b, T beta, T* c) {
    if (m == 0 || n == 0) return;
    const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
    // Leading dimensions of the stored (not transposed) row-major matrices; at least 1.
    const std::size_t lda = std::max<std::size_t>(ta ? m : k, 1),
                      ldb = std::max<std::size_t>(tb ? k : n, 1);
    if constexpr (std::is_same_v<T, float>) {
        if (m * n * k >= smallest_onednn_product) {
            const dnnl_status_t status = dnnl_sgemm(
                ta ? 'T' : 'N', tb ? 'T' : 'N', dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha,
                a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(n));
            if (status != dnnl_success) {
                throw Error(
                    fmt::format("matrix product: oneDNN's sgemm failed (status {}) on {} x {} x {}",
                                int(status), m, n, k));
            }
            return;
        }
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    blas_size(m), blas_size(n), blas_size(k), alpha, a, blas_size(lda), b,
                    blas_size(ldb), beta, c, blas_size(n));
    } else {
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    blas_size(m), blas_size(n), blas_size(k), alpha, a, blas_size(lda), b,
                    blas_size(ldb), beta, c, blas_size(n));
    }
}

template void gemm(Transpose, Transpose, std::size_t, std::size_t, std::size_t, float, const float*,
                   const float*, float, float*);
template void gemm(Transpose, Transpose, std::size_t, std::size_t, std::size_t, double,
                   const double*, const double*, double, double*);

} // namespace detail

void set_num_threads(int threads) {
    threads = std::max(threads, 1);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

namespace {

std::string isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41:
        return "sse41";
    case dnnl_cpu_isa_avx:
        return "avx";
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx512_mic:
        return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    default:
        return fmt::format("isa {:#x}", unsigned(isa));
    }
}

/// OpenBLAS's version from its configuration string ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...").
std::string openblas_version() {
    const std::string config = openblas_get_config();
    const std::size_t space = config.find(' ');
    if (config.rfind("OpenBLAS ", 0) != 0 || space == std::string::npos) return config;
    return config.substr(space + 1, config.find(' ', space + 1) - space - 1);
}

} // namespace

BackendInfo backend_info() {
    BackendInfo info;
    const dnnl_version_t* version = dnnl_version();
    info.onednn_version = fmt::format("{}.{}.{}", version->major, version->minor, version->patch);
    info.onednn_isa = isa_name(dnnl_get_effective_cpu_isa());
    info.openblas_version = openblas_version();
    info.openblas_core = openblas_get_corename();
    info.onednn_threads = omp_get_max_threads();
    info.openblas_threads = openblas_get_num_threads();
    const bool generic = info.openblas_core == "Prescott" || info.openblas_core == "Core2" ||
                         info.openblas_core == "Nehalem" || info.openblas_core == "Unknown";
    const bool wide_vectors = __builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx512f");
    if (generic && wide_vectors) {
        info.openblas_warning = fmt::format(
            "OpenBLAS does not know this CPU and runs its generic {} kernels, several times slower "
            "than the CPU allows; this affects double precision (float runs on oneDNN). Setting "
            "OPENBLAS_CORETYPE={} before starting the program selects its fast kernels.",
            info.openblas_core, __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
    }
    return info;
}

std::string BackendInfo::summary() const {
    return fmt::format("oneDNN {} ({}, {} thread{}), OpenBLAS {} ({}, {} thread{})", onednn_version,
                       onednn_isa, onednn_threads, onednn_threads == 1 ? "" : "s", openblas_version,
                       openblas_core, openblas_threads, openblas_threads == 1 ? "" : "s");
}

} // namespace tapegrad
