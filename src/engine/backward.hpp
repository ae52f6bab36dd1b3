#pragma once

#include "engine/node.hpp"

namespace tapegrad::detail {

/// Adds `seed` into root's adjoint and propagates adjoints to every leaf root depends on.
/// Interior adjoints are dropped as soon as they are used; saved values too unless
/// `retain_graph`. The seed is only read (an interior root borrows it without a copy).
template <class T>
void run_backward(Node<T>& root, const std::shared_ptr<Value<T>>& seed, bool retain_graph);

} // namespace tapegrad::detail
