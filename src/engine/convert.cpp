// Tensor::to<U>(): a copy in another element type, recorded so that the gradient flows back
// converted to the source's type. Graphs of float and of double are separate; the node of
// the copy belongs to U's graph and hands its gradient to the source's graph in a sweep of
// that graph's own, which runs once the current sweep has finished.

#include "engine/backward.hpp"

#include <xtensor/xoperation.hpp>

namespace tapegrad {

namespace detail {

namespace {

template <class U, class T> class ConversionNode : public Node<U> {
public:
    ConversionNode(const ArrayShape& value_shape, NodePtr<T> source)
        : Node<U>("to", value_shape), source_(std::move(source)) {}

    void backward(ArrayGradients<U>&) override {
        send(Tensor<T>(make_pooled<Value<T>>(
            xt::cast<T>(static_cast<const Array<U>&>(*this->adjoint.value)))));
    }
    void backward(TensorGradients<U>&) override { send(this->adjoint.tensor().template to<T>()); }
    void release() override { source_.reset(); }
    bool released() const override { return !source_; }

private:
    void send(const Tensor<T>& gradient) {
        if (!source_) throw_released(*this);
        const SweepSettings& settings = current_sweep();
        if (!settings.accumulate) {
            throw GraphError(fmt::format(
                "grad: the graph converts between float and double ('to', shape {}); grad() "
                "follows one element type's graph only, use backward() across conversions",
                format_shape(this->shape.unpacked())));
        }
        defer_sweep([source = source_, seed = Adjoint<T>{gradient.value_ptr(), gradient.node_ptr()},
                     settings] {
            run_backward<T>({{source.get(), seed}}, settings, {});
        });
    }

    NodePtr<T> source_;
};

} // namespace

} // namespace detail

template <class T> template <class U> Tensor<U> Tensor<T>::to() const {
    Tensor<U> copy = from_xtensor<U>(xt::cast<U>(as_xtensor(*this)));
    if constexpr (std::is_same_v<T, U>) {
        return record("to", {*this}, copy, [](auto& d, const auto& dY) { d.add(0, dY); });
    } else {
        if (!grad_enabled() || !requires_grad()) return copy;
        detail::NodePtr<U> node(
            detail::Pooled<detail::ConversionNode<U, T>>::make(value_->shape(), node_));
        return Tensor<U>(copy.value_ptr(), std::move(node));
    }
}

template Tensor<float> Tensor<float>::to<float>() const;
template Tensor<double> Tensor<float>::to<double>() const;
template Tensor<float> Tensor<double>::to<float>() const;
template Tensor<double> Tensor<double>::to<double>() const;

} // namespace tapegrad
