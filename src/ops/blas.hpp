#pragma once
// General matrix multiply on row-major buffers through OpenBLAS. Kept apart from xtensor
// because <cblas.h> and xtensor-blas cannot share a translation unit.

#include <cstddef>

namespace tapegrad::detail {

enum class Transpose { no, yes };

/// C = alpha op(A) op(B) + beta C, row-major, op(A) (m, k), op(B) (k, n), C (m, n).
/// With beta = 0, C's initial contents are ignored (may be uninitialised).
template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          T alpha, const T* a, const T* b, T beta, T* c);

/// y = alpha x + beta y over n elements (threaded by OpenBLAS for large n when beta = 1).
template <class T> void axpby(std::size_t n, T alpha, const T* x, T beta, T* y);

} // namespace tapegrad::detail
