#pragma once
// Numerically stable softmax kernels shared by the softmax ops and the fused losses.

#include "engine/shape.hpp"

namespace tapegrad::detail {

/// log softmax of X along `axis` (shifted by the maximum: no overflow, no log of 0).
template <class T> Array<T> log_softmax_along(const Array<T>& X, std::size_t axis);

} // namespace tapegrad::detail
