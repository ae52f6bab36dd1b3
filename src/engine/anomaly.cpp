#include "engine/anomaly.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tapegrad::detail {

namespace {

/// The flat index of the first NaN or infinity in `values`, or values.size().
template <class T> std::size_t first_non_finite(const Array<T>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values.data()[i])) return i;
    }
    return values.size();
}

std::string format_index(std::size_t flat, const ArrayShape& shape) {
    std::vector<std::size_t> index(shape.size());
    for (std::size_t k = shape.size(); k-- > 0;) {
        index[k] = flat % shape[k];
        flat /= shape[k];
    }
    return fmt::format("({})", fmt::join(index, ", "));
}

/// "nan", "inf" or "-inf" (a NaN's sign means nothing to the reader).
template <class T> std::string non_finite_name(T v) {
    return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

template <class T> std::string describe_op(const Node<T>& node) {
    // Nodes recorded before anomaly detection was turned on did not keep their input shapes.
    const NodeExtras<T>* extras = node.extras_if_any();
    const std::string inputs = extras && !extras->input_shapes.empty()
                                   ? "inputs " + extras->input_shapes
                                   : "recorded without anomaly detection";
    return fmt::format("'{}' (op #{} on this thread's tape, {})", node.op, node.sequence, inputs);
}

} // namespace

template <class T>
void check_recorded(Node<T>& node, const std::vector<const Array<T>*>& inputs,
                    OutputList<T> outputs) {
    std::vector<std::string> shapes;
    for (const Array<T>* v : inputs) shapes.push_back(format_shape(v->shape()));
    node.extras().input_shapes = fmt::format("{}", fmt::join(shapes, " and "));
    for (std::size_t k = 0; k < outputs.size(); ++k) {
        const Array<T>& value = *outputs[k].value_ptr();
        const std::size_t at = first_non_finite(value);
        if (at == value.size()) continue;
        throw NonFiniteError(fmt::format(
            "anomaly: {} produced {} in its output{} of shape {} at {}", describe_op(node),
            non_finite_name(value.data()[at]), outputs.size() > 1 ? fmt::format(" {}", k) : "",
            format_shape(value.shape()), format_index(at, value.shape())));
    }
}

template <class T> void check_input_gradients(const Node<T>& node) {
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        Node<T>* input = node.inputs[i].get();
        if (!input) continue;
        for (std::size_t k = 0; k < input->output_count(); ++k) {
            const Adjoint<T>& adjoint = input->output_adjoint(k);
            if (!adjoint) continue;
            const Array<T>& gradient = *adjoint.value;
            const std::size_t at = first_non_finite(gradient);
            if (at == gradient.size()) continue;
            throw NonFiniteError(fmt::format(
                "anomaly: the backward of {} produced {} in the gradient of its input {} ('{}' of "
                "shape {}) at {}",
                describe_op(node), non_finite_name(gradient.data()[at]), i, input->op,
                format_shape(input->output_shape(k).unpacked()),
                format_index(at, input->output_shape(k).unpacked())));
        }
    }
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template void check_recorded(Node<T>&, const std::vector<const Array<T>*>&, OutputList<T>);    \
    template void check_input_gradients(const Node<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad::detail
