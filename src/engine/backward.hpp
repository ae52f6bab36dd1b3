#pragma once

#include "tapegrad/function.hpp"

#include <functional>
#include <vector>

namespace tapegrad::detail {

/// Where a sweep starts: a node and the gradient seeded into its output.
template <class T> struct Root {
    Node<T>* node;
    Adjoint<T> seed;
};

struct SweepSettings {
    bool retain_graph; // keep the closures (and what they saved) for another backward
    bool create_graph; // run closures in recorded tensor ops
    bool accumulate;   // add gradients into the tensors that keep them (backward, not grad)
};

/// Propagates the seeds' gradients from the roots to everything they depend on and returns
/// the complete gradient of each of `targets` (empty where none reached it); with targets,
/// only closures on a path to one of them run.
template <class T>
std::vector<Adjoint<T>> run_backward(const std::vector<Root<T>>& roots,
                                     const SweepSettings& settings,
                                     const std::vector<Node<T>*>& targets);

/// The settings of the sweep running on this thread (the innermost one).
const SweepSettings& current_sweep();

/// Runs `sweep` once the outermost sweep running on this thread has finished: a gradient
/// that crosses from one element type's graph to the other's (Tensor::to) continues in a
/// sweep of that graph's own.
void defer_sweep(std::function<void()> sweep);

/// `value` itself when nothing else holds it, else a copy: for gradients handed to users.
template <class T>
std::shared_ptr<Value<T>> exclusive_value(const std::shared_ptr<Value<T>>& value);

} // namespace tapegrad::detail
