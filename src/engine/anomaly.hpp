#pragma once
// Anomaly detection: the checks behind DetectAnomaly (tapegrad/grad_mode.hpp).

#include "tapegrad/function.hpp"

namespace tapegrad::detail {

/// Throws NonFiniteError if `node`'s backward left a NaN or an infinity in an input's adjoint.
template <class T> void check_input_gradients(const Node<T>& node);

} // namespace tapegrad::detail
