#pragma once
// How an op records itself. An op computes its value, then, only when recording, attaches a
// node whose closure holds exactly what its backward needs:
//
//   Tensor<T> y = result<T>(xt::tanh(value(x)));
//   if (recording(x))
//       record("tanh", y, {x}, [Y = saved(y)](const Array<T>& dY, InputGrads<T>& d) {
//           d.add(0, dY * (1 - *Y * *Y));
//       });
//   return y;

#include "engine/anomaly.hpp"
#include "engine/node.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"

#include <initializer_list>
#include <memory>
#include <utility>

namespace tapegrad::detail {

/// A value kept alive by a backward closure.
template <class T> using Saved = std::shared_ptr<const Array<T>>;

template <class T> const Array<T>& value(const Tensor<T>& t) {
    return *t.value_ptr();
}

template <class T> Saved<T> saved(const Tensor<T>& t) {
    return t.value_ptr();
}

/// The value of `t` if `needed`, else nothing: a closure saves an input only when the
/// gradient that reads it is wanted.
template <class T> Saved<T> saved_if(bool needed, const Tensor<T>& t) {
    return needed ? saved(t) : nullptr;
}

/// A fresh tensor holding `array` (an array or an expression, evaluated here).
template <class T, class E> Tensor<T> result(E&& array) {
    return Tensor<T>(make_pooled<Value<T>>(std::forward<E>(array)));
}

template <class T, class... More> bool recording(const Tensor<T>& first, const More&... more) {
    return grad_enabled() && (first.requires_grad() || (more.requires_grad() || ...));
}

/// Attaches to `output` a node for `op` over `inputs` with `backward`.
template <class T, class Backward>
void record(const char* op, Tensor<T>& output,
            std::initializer_list<std::reference_wrapper<const Tensor<Scalar<T>>>> inputs,
            Backward&& backward) {
    auto node = make_pooled<OpNode<T, std::decay_t<Backward>>>(op, value(output).shape(),
                                                               std::forward<Backward>(backward));
    for (const Tensor<T>& input : inputs) node->inputs[node->input_count++] = input.node_ptr();
    if (anomaly_detection_enabled()) {
        std::vector<const Array<T>*> input_values;
        for (const Tensor<T>& input : inputs) input_values.push_back(&value(input));
        node->input_shapes = describe_shapes(input_values);
        check_output(*node, value(output));
    }
    output = Tensor<T>(output.value_ptr(), std::move(node));
}

} // namespace tapegrad::detail
