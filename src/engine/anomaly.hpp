#pragma once
// Anomaly detection: the checks behind DetectAnomaly (tapegrad/grad_mode.hpp).

#include "engine/node.hpp"

namespace tapegrad::detail {

/// Throws NonFiniteError if the value that `node` recorded holds a NaN or an infinity.
template <class T> void check_output(const Node<T>& node, const Array<T>& value);

/// Throws NonFiniteError if `node`'s backward left a NaN or an infinity in an input's adjoint.
template <class T> void check_input_gradients(const Node<T>& node);

/// "(3, 4) and (4,)" for messages.
template <class T> std::string describe_shapes(const std::vector<const Array<T>*>& values);

} // namespace tapegrad::detail
