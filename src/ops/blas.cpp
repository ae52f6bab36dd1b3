#include "ops/blas.hpp"
#include "tapegrad/threads.hpp"

#include <cblas.h>

#include <algorithm>
#include <type_traits>

namespace tapegrad {

void set_num_threads(int threads) {
    openblas_set_num_threads(std::max(threads, 1));
}

namespace detail {

template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          T alpha, const T* a, const T* b, T beta, T* c) {
    if (m == 0 || n == 0) return;
    const auto ta = trans_a == Transpose::yes ? CblasTrans : CblasNoTrans;
    const auto tb = trans_b == Transpose::yes ? CblasTrans : CblasNoTrans;
    // Leading dimensions of the stored (not transposed) row-major matrices; BLAS wants >= 1.
    const auto lda =
        static_cast<blasint>(std::max<std::size_t>(trans_a == Transpose::yes ? m : k, 1));
    const auto ldb =
        static_cast<blasint>(std::max<std::size_t>(trans_b == Transpose::yes ? k : n, 1));
    const auto M = static_cast<blasint>(m), N = static_cast<blasint>(n),
               K = static_cast<blasint>(k);
    if constexpr (std::is_same_v<T, float>) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N);
    } else {
        cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, N);
    }
}

template <class T> void axpby(std::size_t n, T alpha, const T* x, T beta, T* y) {
    const auto count = static_cast<blasint>(n);
    // OpenBLAS threads axpy (beta = 1) but not axpby.
    if constexpr (std::is_same_v<T, float>) {
        if (beta == 1)
            cblas_saxpy(count, alpha, x, 1, y, 1);
        else
            cblas_saxpby(count, alpha, x, 1, beta, y, 1);
    } else {
        if (beta == 1)
            cblas_daxpy(count, alpha, x, 1, y, 1);
        else
            cblas_daxpby(count, alpha, x, 1, beta, y, 1);
    }
}
template void axpby(std::size_t, float, const float*, float, float*);
template void axpby(std::size_t, double, const double*, double, double*);

template void gemm(Transpose, Transpose, std::size_t, std::size_t, std::size_t, float, const float*,
                   const float*, float, float*);
template void gemm(Transpose, Transpose, std::size_t, std::size_t, std::size_t, double,
                   const double*, const double*, double, double*);

} // namespace detail
} // namespace tapegrad
