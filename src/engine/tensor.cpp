// The tensor handle: construction, access, gradients kept for users, hooks, in-place
// arithmetic and printing.

#include "tapegrad/function.hpp"

#include <fmt/format.h>
#include <xtensor/xoperation.hpp>

#include <algorithm>
#include <cmath>
#include <ostream>

namespace tapegrad {

using detail::Value;

template <class T>
Tensor<T>::Tensor(ValuePtr value, NodeRef node, MetaRef meta)
    : value_(std::move(value)), node_(std::move(node)), meta_(std::move(meta)) {}

template <class T> Tensor<T>::Tensor() : Tensor(detail::make_pooled<Value<T>>(Array<T>(T(0)))) {}

template <class T> Tensor<T>::Tensor(Shape shape, std::vector<T> values, bool requires_grad) {
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    if (count != values.size()) {
        throw ShapeError(fmt::format("Tensor: shape {} holds {} elements, but {} values were given",
                                     detail::format_shape(shape), count, values.size()));
    }
    Array<T> array = Array<T>::from_shape(shape);
    std::copy(values.begin(), values.end(), array.begin());
    value_ = detail::make_pooled<Value<T>>(std::move(array));
    set_requires_grad(requires_grad);
}

template <class T> Tensor<T> Tensor<T>::full(const Shape& shape, T fill, bool requires_grad) {
    Array<T> array = Array<T>::from_shape(shape);
    array.fill(fill);
    return from_xtensor(std::move(array), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::zeros(const Shape& shape, bool requires_grad) {
    return full(shape, T(0), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::ones(const Shape& shape, bool requires_grad) {
    return full(shape, T(1), requires_grad);
}

template <class T> Tensor<T> Tensor<T>::scalar(T fill, bool requires_grad) {
    return full({}, fill, requires_grad);
}

template <class T> Shape Tensor<T>::shape() const {
    return Shape(value_->shape().begin(), value_->shape().end());
}

template <class T> std::size_t Tensor<T>::rank() const {
    return value_->dimension();
}

template <class T> std::size_t Tensor<T>::size() const {
    return value_->size();
}

template <class T> const T* Tensor<T>::data() const {
    return value_->data();
}

template <class T> T* Tensor<T>::mutable_data() {
    ++value_->version;
    return value_->data();
}

template <class T> std::uint64_t Tensor<T>::version() const {
    return value_->version;
}

template <class T> std::vector<T> Tensor<T>::to_vector() const {
    return std::vector<T>(value_->begin(), value_->end());
}

template <class T> T Tensor<T>::item() const {
    if (size() != 1) {
        throw ValueError(fmt::format("item: the tensor has shape {} ({} elements), not one element",
                                     detail::format_shape(value_->shape()), size()));
    }
    return *data();
}

template <class T> T Tensor<T>::at(const Shape& index) const {
    const auto& extents = value_->shape();
    bool inside = index.size() == extents.size();
    std::size_t flat = 0;
    for (std::size_t k = 0; inside && k < index.size(); ++k) {
        inside = index[k] < extents[k];
        flat = flat * extents[k] + index[k];
    }
    if (!inside) {
        throw IndexError(fmt::format("at: index ({}) is outside a tensor of shape {}",
                                     fmt::join(index, ", "), detail::format_shape(extents)));
    }
    return value_->data()[flat];
}

template <class T> bool Tensor<T>::requires_grad() const {
    return static_cast<bool>(node_);
}

template <class T> bool Tensor<T>::is_leaf() const {
    return !node_ || node_->is_leaf();
}

template <class T> Tensor<T>& Tensor<T>::set_requires_grad(bool requires) {
    if (!is_leaf()) {
        throw GraphError(fmt::format(
            "set_requires_grad: the tensor of shape {} was made by '{}'; only leaves can change "
            "whether they require a gradient (use detach() for a constant copy)",
            detail::format_shape(value_->shape()), node_->op));
    }
    if (!requires) {
        meta_.reset();
        node_.reset();
    } else if (!node_) {
        node_ = NodeRef(detail::Pooled<detail::LeafNode<T>>::make(value_->shape()));
        meta_ = MetaRef(detail::Pooled<detail::TensorMeta<T>>::make(*node_));
        meta_->value = value_;
    }
    return *this;
}

template <class T> bool Tensor<T>::has_grad() const {
    return meta_ && meta_->has_grad;
}

template <class T> Tensor<T> Tensor<T>::grad() const {
    if (!meta_ || !(node_->is_leaf() || meta_->retains_grad)) {
        throw GraphError(fmt::format(
            "grad: gradients are kept for leaves that require them and for tensors after "
            "retain_grad(); this tensor of shape {} {}",
            detail::format_shape(value_->shape()),
            node_ ? fmt::format("was made by '{}'", node_->op) : "does not require a gradient"));
    }
    if (!meta_->has_grad) return zeros(shape());
    return meta_->grad;
}

template <class T> Tensor<T>& Tensor<T>::set_grad(const Tensor& gradient) {
    grad(); // the same checks: a leaf that requires a gradient, or a retain_grad() tensor
    if (gradient.shape() != shape()) {
        throw ShapeError(fmt::format("set_grad: a gradient of shape {} for a tensor of shape {}",
                                     detail::format_shape(gradient.shape()),
                                     detail::format_shape(shape())));
    }
    meta_->grad = gradient;
    meta_->has_grad = true;
    return *this;
}

template <class T> void Tensor<T>::zero_grad() {
    if (!meta_) return;
    meta_->grad = Tensor();
    meta_->has_grad = false;
}

template <class T> Tensor<T>& Tensor<T>::retain_grad() {
    if (!node_) {
        throw GraphError(
            fmt::format("retain_grad: the tensor of shape {} does not require a gradient",
                        detail::format_shape(value_->shape())));
    }
    if (!meta_) {
        meta_ = MetaRef(detail::Pooled<detail::TensorMeta<T>>::make(*node_));
        meta_->value = value_;
    }
    meta_->retains_grad = true;
    return *this;
}

template <class T> bool Tensor<T>::retains_grad() const {
    return meta_ && (meta_->retains_grad || node_->is_leaf());
}

template <class T> Tensor<T> Tensor<T>::detach() const {
    return Tensor(value_);
}

template <class T> HookHandle Tensor<T>::add_hook(std::function<Tensor(const Tensor&)> hook) {
    if (!node_) {
        throw GraphError(fmt::format("register_hook: the tensor of shape {} does not require a "
                                     "gradient, so no gradient will reach a hook",
                                     detail::format_shape(value_->shape())));
    }
    detail::NodeExtras<T>& extras = node_->extras();
    if (!extras.hooks) extras.hooks = std::make_shared<detail::Hooks<T>>();
    const std::uint64_t id = extras.hooks->next_id++;
    extras.hooks->on_gradient.emplace_back(id, std::move(hook));
    std::weak_ptr<detail::Hooks<T>> hooks = extras.hooks;
    return HookHandle([hooks, id] {
        if (auto list = hooks.lock()) {
            auto& entries = list->on_gradient;
            entries.erase(std::remove_if(entries.begin(), entries.end(),
                                         [id](const auto& entry) { return entry.first == id; }),
                          entries.end());
        }
    });
}

template <class T>
HookHandle Tensor<T>::register_post_accumulate_grad_hook(std::function<void(Tensor&)> hook) {
    if (!node_ || !node_->is_leaf()) {
        throw GraphError(fmt::format(
            "register_post_accumulate_grad_hook: only leaves that require a gradient accumulate "
            "one; this tensor of shape {} {}",
            detail::format_shape(value_->shape()),
            node_ ? fmt::format("was made by '{}'", node_->op) : "does not require a gradient"));
    }
    detail::NodeExtras<T>& extras = node_->extras();
    if (!extras.hooks) extras.hooks = std::make_shared<detail::Hooks<T>>();
    const std::uint64_t id = extras.hooks->next_id++;
    extras.hooks->after_accumulation.emplace_back(id, std::move(hook));
    std::weak_ptr<detail::Hooks<T>> hooks = extras.hooks;
    return HookHandle([hooks, id] {
        if (auto list = hooks.lock()) {
            auto& entries = list->after_accumulation;
            entries.erase(std::remove_if(entries.begin(), entries.end(),
                                         [id](const auto& entry) { return entry.first == id; }),
                          entries.end());
        }
    });
}

// In place: the result is written into this tensor's value, which every handle sharing it
// sees. While recording, the op is recorded as its out-of-place form and this handle takes
// over the new node; values an earlier op saved see the write through their version.
template <class T>
template <class Apply>
Tensor<T>& Tensor<T>::update_in_place(const char* op, const Tensor& other, Apply apply) {
    const auto& shape = value_->shape();
    if (!detail::same_shape<T>(detail::broadcast_shapes(op, shape, other.value_ptr()->shape()),
                               shape)) {
        throw ShapeError(fmt::format("{}: the result of shapes {} and {} does not fit the tensor "
                                     "written to in place",
                                     op, detail::format_shape(shape),
                                     detail::format_shape(other.value_ptr()->shape())));
    }
    const bool recording = grad_enabled() && (requires_grad() || other.requires_grad());
    if (recording && node_ && node_->is_leaf()) {
        throw GraphError(fmt::format("{}: a leaf that requires a gradient (shape {}) cannot be "
                                     "written in place while recording; do it under NoGrad",
                                     op, detail::format_shape(shape)));
    }
    if (recording) {
        // The op sees the old value in a copy of its own, which it may save for backward.
        const Tensor old(detail::make_pooled<Value<T>>(static_cast<const Array<T>&>(*value_)),
                         node_);
        const Tensor result = apply(old, other);
        xt::noalias(static_cast<Array<T>&>(*value_)) = as_xtensor(result);
        ++value_->version;
        node_ = result.node_ptr();
        meta_.reset();
    } else {
        NoGrad plain;
        const Tensor result = apply(*this, other);
        xt::noalias(static_cast<Array<T>&>(*value_)) = as_xtensor(result);
        ++value_->version;
    }
    return *this;
}

template <class T> Tensor<T>& Tensor<T>::operator+=(const Tensor& other) {
    return update_in_place("add_", other, [](const Tensor& a, const Tensor& b) { return a + b; });
}
template <class T> Tensor<T>& Tensor<T>::operator-=(const Tensor& other) {
    return update_in_place("sub_", other, [](const Tensor& a, const Tensor& b) { return a - b; });
}
template <class T> Tensor<T>& Tensor<T>::operator*=(const Tensor& other) {
    return update_in_place("mul_", other, [](const Tensor& a, const Tensor& b) { return a * b; });
}
template <class T> Tensor<T>& Tensor<T>::operator/=(const Tensor& other) {
    return update_in_place("div_", other, [](const Tensor& a, const Tensor& b) { return a / b; });
}
template <class T> Tensor<T>& Tensor<T>::operator+=(T s) {
    return *this += scalar(s);
}
template <class T> Tensor<T>& Tensor<T>::operator-=(T s) {
    return *this -= scalar(s);
}
template <class T> Tensor<T>& Tensor<T>::operator*=(T s) {
    return *this *= scalar(s);
}
template <class T> Tensor<T>& Tensor<T>::operator/=(T s) {
    return *this /= scalar(s);
}

namespace {

constexpr std::size_t print_threshold = 1000; // more elements than this are summarised
constexpr std::size_t print_edge = 3;         // entries shown at each end of a long axis

/// Whether to show entry e of an axis of `extent` entries, and whether a "..." comes before it.
bool shown(std::size_t e, std::size_t extent, bool summarise) {
    return !summarise || extent <= 2 * print_edge || e < print_edge || e >= extent - print_edge;
}

template <class T> struct Printer {
    const Array<T>& values;
    bool summarise;
    bool scientific;
    int width = 0;

    std::string number(T v) const {
        return scientific ? fmt::format("{:.4e}", v) : fmt::format("{:.4f}", v);
    }

    void print(std::string& out, std::size_t axis, std::size_t offset, std::size_t stride,
               std::size_t indent) const {
        const auto& shape = values.shape();
        if (axis == shape.size()) {
            out += fmt::format("{:>{}}", number(values.data()[offset]), width);
            return;
        }
        const std::size_t extent = shape[axis], inner = stride / std::max<std::size_t>(extent, 1);
        out += '[';
        bool first = true;
        for (std::size_t e = 0; e < extent; ++e) {
            if (!shown(e, extent, summarise)) {
                if (e == print_edge)
                    out += axis + 1 == shape.size() ? ", ..."
                                                    : ",\n" + std::string(indent + 1, ' ') + "...";
                continue;
            }
            if (!first)
                out += axis + 1 == shape.size() ? ", "
                                                : "," + std::string(shape.size() - axis - 1, '\n') +
                                                      std::string(indent + 1, ' ');
            first = false;
            print(out, axis + 1, offset + e * inner, inner, indent + 1);
        }
        out += ']';
    }
};

} // namespace

template <class T> std::string to_string(const Tensor<T>& tensor) {
    const Array<T>& values = *tensor.value_ptr();
    const bool summarise = values.size() > print_threshold;
    T largest = 0, smallest_nonzero = 0;
    for (T v : values) {
        if (!std::isfinite(v)) continue;
        const T a = std::abs(v);
        largest = std::max(largest, a);
        if (a != 0 && (smallest_nonzero == 0 || a < smallest_nonzero)) smallest_nonzero = a;
    }
    Printer<T> printer{values, summarise,
                       largest >= T(1e5) || (smallest_nonzero != 0 && smallest_nonzero < T(1e-4))};
    for (T v : values) printer.width = std::max(printer.width, int(printer.number(v).size()));
    std::string text = "tensor(";
    const std::size_t indent = text.size();
    printer.print(text, 0, 0, values.size(), indent);
    if (tensor.requires_grad()) {
        text += tensor.is_leaf() ? ", requires_grad"
                                 : fmt::format(", grad_fn={}", tensor.node_ptr()->op);
    }
    return text + ")";
}

template <class T> std::ostream& operator<<(std::ostream& out, const Tensor<T>& tensor) {
    return out << to_string(tensor);
}

template class Tensor<float>;
template class Tensor<double>;
template std::string to_string(const Tensor<float>&);
template std::string to_string(const Tensor<double>&);
template std::ostream& operator<<(std::ostream&, const Tensor<float>&);
template std::ostream& operator<<(std::ostream&, const Tensor<double>&);

} // namespace tapegrad
