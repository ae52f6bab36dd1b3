#pragma once
// General matrix multiply on row-major buffers: float on oneDNN, or OpenBLAS for products
// too small to pay oneDNN's fixed cost; double on OpenBLAS (src/engine/gemm.cpp).

#include <cstddef>

namespace tapegrad::detail {

enum class Transpose { no, yes };

/// C = alpha op(A) op(B) + beta C, row-major, op(A) (m, k), op(B) (k, n), C (m, n).
/// With beta = 0, C's initial contents are ignored (may be uninitialised).
template <class T>
void gemm(Transpose trans_a, Transpose trans_b, std::size_t m, std::size_t n, std::size_t k,
          T alpha, const T* a, const T* b, T beta, T* c);

} // namespace tapegrad::detail
