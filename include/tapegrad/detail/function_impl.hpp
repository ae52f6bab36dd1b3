#pragma once
// The parts of tapegrad/function.hpp that depend on an op's closure type; included there.

#include "tapegrad/grad_mode.hpp"

namespace tapegrad::detail {

/// How `tensor` (given to saving()) relates to the op: one of its inputs, one of its
/// outputs, or another tensor with a history of its own.
template <class T, class Inputs>
void make_saved(Saved<T>& saved, const Tensor<T>* tensor, const Inputs& inputs,
                OutputList<T> outputs) {
    if (!tensor) return;
    saved.value = tensor->value_ptr();
    saved.version = saved.value->version;
    std::uint32_t i = 0;
    for (const Tensor<T>& input : inputs) {
        if (input.value_ptr() == saved.value) {
            saved.role = Saved<T>::Role::input;
            saved.index = i;
            return;
        }
        ++i;
    }
    for (std::uint32_t k = 0; k < outputs.size(); ++k) {
        if (outputs[k].value_ptr() == saved.value) {
            saved.role = Saved<T>::Role::output;
            saved.index = k;
            return;
        }
    }
    saved.role = Saved<T>::Role::other;
    saved.history = tensor->node_ptr();
}

/// Anomaly mode: notes the inputs' shapes on `node` and checks the outputs for NaN and
/// infinity (src/engine/anomaly.cpp).
template <class T>
void check_recorded(Node<T>& node, const std::vector<const Array<T>*>& inputs,
                    OutputList<T> outputs);

template <class T, std::size_t SavedCount, bool SeveralOutputs, class Inputs, class Closure>
void attach(const char* op, const Inputs& inputs, OutputList<T> outputs,
            const SaveList<T, SavedCount>& saving, Closure&& closure) {
    using Recorded = OpNode<T, std::decay_t<Closure>, SavedCount, SeveralOutputs>;
    NodePtr<T> node(Pooled<Recorded>::make(op, outputs[0].value_ptr()->shape(),
                                           std::forward<Closure>(closure)));
    auto& recorded = static_cast<Recorded&>(*node);
    recorded.inputs.resize(inputs.size());
    std::size_t i = 0;
    for (const Tensor<T>& input : inputs) recorded.inputs[i++] = input.node_ptr();
    for (std::size_t k = 0; k < SavedCount; ++k)
        make_saved(recorded.saved[k], saving.tensors[k], inputs, outputs);

    if constexpr (SeveralOutputs) {
        NodeExtras<T>& extras = recorded.extras();
        for (std::size_t k = 0; k < outputs.size(); ++k)
            extras.output_shapes.push_back(outputs[k].value_ptr()->shape());
        extras.output_adjoints.resize(outputs.size());
        for (std::size_t k = 0; k < outputs.size(); ++k) {
            NodePtr<T> selector(Pooled<OutputNode<T>>::make(recorded, k));
            outputs[k] = Tensor<T>(outputs[k].value_ptr(), std::move(selector));
        }
    } else {
        outputs[0] = Tensor<T>(outputs[0].value_ptr(), std::move(node));
    }
    if (anomaly_detection_enabled()) {
        std::vector<const Array<T>*> input_values;
        for (const Tensor<T>& input : inputs) input_values.push_back(input.value_ptr().get());
        check_recorded(recorded, input_values, outputs);
    }
}

} // namespace tapegrad::detail
