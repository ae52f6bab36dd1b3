#include "tapegrad/nn/module.hpp"

#include "tapegrad/errors.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tapegrad::nn {

namespace {

/// "2" for a square size, "1x2" otherwise.
std::string format_size(Size2d size) {
    return size.h == size.w ? fmt::format("{}", size.h) : fmt::format("{}x{}", size.h, size.w);
}

/// ", stride 2": an option in a layer's description, where it is not the default.
std::string option_text(const char* name, Size2d value, Size2d default_value) {
    if (value.h == default_value.h && value.w == default_value.w) return "";
    return fmt::format(", {} {}", name, format_size(value));
}

/// "MaxPool2d(3x3, stride 2, padding 1)"; a stride of 0 is the kernel's size.
std::string describe_pooling(const char* name, Size2d kernel, Size2d stride, Size2d padding) {
    if (stride.h == 0 && stride.w == 0) stride = kernel;
    return fmt::format("{}({}x{}{}{})", name, kernel.h, kernel.w,
                       option_text("stride", stride, kernel), option_text("padding", padding, 0));
}

} // namespace

template <class T> std::vector<Tensor<T>> Module<T>::parameters() {
    std::vector<Tensor<T>> tensors;
    for (auto& named : named_parameters()) tensors.push_back(*named.tensor);
    return tensors;
}

template <class T> std::vector<NamedParameter<T>> Module<T>::named_state() {
    std::vector<NamedParameter<T>> state = named_parameters();
    for (auto& buffer : named_buffers()) state.push_back(buffer);
    return state;
}

template <class T> std::size_t Module<T>::parameter_count() {
    std::size_t count = 0;
    for (const auto& named : named_parameters()) count += named.tensor->size();
    return count;
}

template <class T> void Module<T>::zero_grad() {
    for (auto& named : named_parameters()) named.tensor->zero_grad();
}

namespace {
template <class T> Tensor<T> uniform(const Shape& shape, double bound, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> distribution(-bound, bound);
    std::size_t count = 1;
    for (std::size_t extent : shape) count *= extent;
    std::vector<T> values(count);
    for (T& v : values) v = static_cast<T>(distribution(rng));
    return Tensor<T>(shape, std::move(values), true);
}
} // namespace

template <class T>
Linear<T>::Linear(std::size_t in_features, std::size_t out_features, std::mt19937_64& rng,
                  bool with_bias)
    : has_bias_(with_bias) {
    if (in_features == 0 || out_features == 0) {
        throw ValueError(fmt::format("Linear: sizes must be positive, got in {} and out {}",
                                     in_features, out_features));
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    weight = uniform<T>({out_features, in_features}, bound, rng);
    if (with_bias) bias = uniform<T>({out_features}, bound, rng);
}

template <class T> Tensor<T> Linear<T>::forward(const Tensor<T>& x) {
    return has_bias_ ? linear(x, weight, bias) : linear(x, weight);
}

template <class T> std::vector<NamedParameter<T>> Linear<T>::named_parameters() {
    if (!has_bias_) return {{"weight", &weight}};
    return {{"weight", &weight}, {"bias", &bias}};
}

template <class T> std::string Linear<T>::describe() const {
    return fmt::format("Linear({}, {}{})", weight.shape()[1], weight.shape()[0],
                       has_bias_ ? "" : ", no bias");
}

template <class T>
Conv2d<T>::Conv2d(std::size_t in_channels, std::size_t out_channels, Size2d kernel,
                  Conv2dOptions options, std::mt19937_64& rng, bool with_bias)
    : options_(options), has_bias_(with_bias) {
    if (in_channels == 0 || out_channels == 0 || kernel.h == 0 || kernel.w == 0) {
        throw ValueError(fmt::format(
            "Conv2d: channels and kernel must be positive, got in {}, out {}, kernel {}x{}",
            in_channels, out_channels, kernel.h, kernel.w));
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel.h * kernel.w));
    weight = uniform<T>({out_channels, in_channels, kernel.h, kernel.w}, bound, rng);
    if (with_bias) bias = uniform<T>({out_channels}, bound, rng);
}

template <class T> Tensor<T> Conv2d<T>::forward(const Tensor<T>& x) {
    return has_bias_ ? conv2d(x, weight, bias, options_) : conv2d(x, weight, options_);
}

template <class T> std::vector<NamedParameter<T>> Conv2d<T>::named_parameters() {
    if (!has_bias_) return {{"weight", &weight}};
    return {{"weight", &weight}, {"bias", &bias}};
}

template <class T> std::string Conv2d<T>::describe() const {
    const Shape w = weight.shape();
    return fmt::format("Conv2d({}, {}, {}x{}{}{}{})", w[1], w[0], w[2], w[3],
                       option_text("stride", options_.stride, 1),
                       option_text("padding", options_.padding, 0),
                       option_text("dilation", options_.dilation, 1));
}

template <class T> Tensor<T> MaxPool2d<T>::forward(const Tensor<T>& x) {
    return max_pool2d(x, kernel_, stride_, padding_);
}

template <class T> std::string MaxPool2d<T>::describe() const {
    return describe_pooling("MaxPool2d", kernel_, stride_, padding_);
}

template <class T> Tensor<T> AvgPool2d<T>::forward(const Tensor<T>& x) {
    return avg_pool2d(x, kernel_, stride_, padding_);
}

template <class T> std::string AvgPool2d<T>::describe() const {
    return describe_pooling("AvgPool2d", kernel_, stride_, padding_);
}

template <class T>
BatchNorm2d<T>::BatchNorm2d(std::size_t channels, double eps, double momentum)
    : weight(Tensor<T>::ones({channels}, true)), bias(Tensor<T>::zeros({channels}, true)),
      running_mean(Tensor<T>::zeros({channels})), running_var(Tensor<T>::ones({channels})),
      eps_(eps), momentum_(momentum) {}

template <class T> Tensor<T> BatchNorm2d<T>::forward(const Tensor<T>& x) {
    return batch_norm(x, weight, bias, running_mean, running_var, this->is_training(),
                      static_cast<T>(momentum_), static_cast<T>(eps_));
}

template <class T> std::vector<NamedParameter<T>> BatchNorm2d<T>::named_parameters() {
    return {{"weight", &weight}, {"bias", &bias}};
}

template <class T> std::vector<NamedParameter<T>> BatchNorm2d<T>::named_buffers() {
    return {{"running_mean", &running_mean}, {"running_var", &running_var}};
}

template <class T> std::string BatchNorm2d<T>::describe() const {
    return fmt::format("BatchNorm2d({})", weight.size());
}

template <class T> Tensor<T> Flatten<T>::forward(const Tensor<T>& x) {
    return flatten(x);
}

template <class T> Tensor<T> Unflatten<T>::forward(const Tensor<T>& x) {
    detail::IntegerList<std::int64_t> shape{std::int64_t(x.rank() > 0 ? x.shape()[0] : 0)};
    shape.insert(shape.end(), shape_.begin(), shape_.end());
    return reshape(x, shape);
}

template <class T> std::string Unflatten<T>::describe() const {
    return fmt::format("Unflatten({})", fmt::join(shape_, "x"));
}

ActivationKind parse_activation(const std::string& name) {
    for (ActivationKind kind :
         {ActivationKind::relu, ActivationKind::leaky_relu, ActivationKind::elu,
          ActivationKind::tanh, ActivationKind::sigmoid}) {
        if (to_string(kind) == name) return kind;
    }
    throw ValueError(
        fmt::format("activation: unknown '{}' (relu, leaky_relu, elu, tanh, sigmoid)", name));
}

std::string to_string(ActivationKind kind) {
    switch (kind) {
    case ActivationKind::relu:
        return "relu";
    case ActivationKind::leaky_relu:
        return "leaky_relu";
    case ActivationKind::elu:
        return "elu";
    case ActivationKind::tanh:
        return "tanh";
    case ActivationKind::sigmoid:
        return "sigmoid";
    }
    return "?";
}

template <class T> Tensor<T> Activation<T>::forward(const Tensor<T>& x) {
    switch (kind_) {
    case ActivationKind::relu:
        return relu(x);
    case ActivationKind::leaky_relu:
        return leaky_relu(x);
    case ActivationKind::elu:
        return elu(x);
    case ActivationKind::tanh:
        return tanh(x);
    case ActivationKind::sigmoid:
        return sigmoid(x);
    }
    return x;
}

template <class T> std::string Activation<T>::describe() const {
    return to_string(kind_);
}

template <class T> Dropout<T>::Dropout(double p, std::uint64_t seed) : p_(p), rng_(seed) {
    if (!(p >= 0 && p < 1))
        throw ValueError(fmt::format("Dropout: p must be in [0, 1), got {}", p));
}

template <class T> Tensor<T> Dropout<T>::forward(const Tensor<T>& x) {
    if (!this->is_training() || p_ == 0) return x;
    std::bernoulli_distribution keep(1 - p_);
    const T scale = static_cast<T>(1 / (1 - p_));
    std::vector<T> mask(x.size());
    for (T& m : mask) m = keep(rng_) ? scale : T(0);
    return x * Tensor<T>(x.shape(), std::move(mask));
}

template <class T> std::string Dropout<T>::describe() const {
    return fmt::format("Dropout({})", p_);
}

template <class T> Tensor<T> Sequential<T>::forward(const Tensor<T>& x) {
    Tensor<T> y = x;
    for (auto& module : modules_) y = module->forward(y);
    return y;
}

template <class T> std::vector<NamedParameter<T>> Sequential<T>::named_parameters() {
    std::vector<NamedParameter<T>> all;
    for (std::size_t i = 0; i < modules_.size(); ++i) {
        for (auto& named : modules_[i]->named_parameters()) {
            all.push_back({fmt::format("{}.{}", i, named.name), named.tensor});
        }
    }
    return all;
}

template <class T> std::vector<std::mt19937_64*> Sequential<T>::generators() {
    std::vector<std::mt19937_64*> all;
    for (auto& module : modules_) {
        for (std::mt19937_64* generator : module->generators()) all.push_back(generator);
    }
    return all;
}

template <class T> std::vector<NamedParameter<T>> Sequential<T>::named_buffers() {
    std::vector<NamedParameter<T>> all;
    for (std::size_t i = 0; i < modules_.size(); ++i) {
        for (auto& named : modules_[i]->named_buffers())
            all.push_back({fmt::format("{}.{}", i, named.name), named.tensor});
    }
    return all;
}

template <class T> std::vector<NamedParameter<T>> Sequential<T>::named_state() {
    std::vector<NamedParameter<T>> all;
    for (std::size_t i = 0; i < modules_.size(); ++i) {
        for (auto& named : modules_[i]->named_state())
            all.push_back({fmt::format("{}.{}", i, named.name), named.tensor});
    }
    return all;
}

template <class T> void Sequential<T>::train(bool on) {
    Module<T>::train(on);
    for (auto& module : modules_) module->train(on);
}

template <class T> std::string Sequential<T>::describe() const {
    std::vector<std::string> parts;
    for (const auto& module : modules_) parts.push_back(module->describe());
    return fmt::format("{}", fmt::join(parts, " -> "));
}

template <class T>
Sequential<T> make_mlp(const std::vector<std::size_t>& widths, ActivationKind activation,
                       std::mt19937_64& rng, double dropout) {
    if (widths.size() < 2) {
        throw ValueError(
            fmt::format("make_mlp: needs at least input and output widths, got {}", widths.size()));
    }
    Sequential<T> model;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
        model.template add<Linear<T>>(widths[i], widths[i + 1], rng);
        if (i + 2 < widths.size()) {
            model.template add<Activation<T>>(activation);
            if (dropout > 0) model.template add<Dropout<T>>(dropout, rng());
        }
    }
    return model;
}

template <class T>
Sequential<T> make_cnn(std::size_t side, std::size_t classes, ActivationKind activation,
                       std::mt19937_64& rng, double dropout) {
    if (side < 4 || classes == 0) {
        throw ValueError(fmt::format(
            "make_cnn: needs images of at least 4x4 and classes, got side {} and {} classes", side,
            classes));
    }
    Sequential<T> model;
    model.template add<Unflatten<T>>(Shape{1, side, side});
    std::size_t channels = 1, extent = side;
    for (std::size_t out : {32, 64}) {
        model.template add<Conv2d<T>>(channels, out, 3, Conv2dOptions{1, 1}, rng);
        model.template add<BatchNorm2d<T>>(out);
        model.template add<Activation<T>>(activation);
        model.template add<MaxPool2d<T>>(2);
        channels = out;
        extent /= 2;
    }
    model.template add<Flatten<T>>();
    if (dropout > 0) model.template add<Dropout<T>>(dropout, rng());
    model.template add<Linear<T>>(channels * extent * extent, 128, rng);
    model.template add<Activation<T>>(activation);
    if (dropout > 0) model.template add<Dropout<T>>(dropout, rng());
    model.template add<Linear<T>>(128, classes, rng);
    return model;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template class Module<T>;                                                                      \
    template class Linear<T>;                                                                      \
    template class Conv2d<T>;                                                                      \
    template class MaxPool2d<T>;                                                                   \
    template class AvgPool2d<T>;                                                                   \
    template class BatchNorm2d<T>;                                                                 \
    template class Flatten<T>;                                                                     \
    template class Unflatten<T>;                                                                   \
    template class Activation<T>;                                                                  \
    template class Dropout<T>;                                                                     \
    template class Sequential<T>;                                                                  \
    template Sequential<T> make_mlp(const std::vector<std::size_t>&, ActivationKind,               \
                                    std::mt19937_64&, double);                                     \
    template Sequential<T> make_cnn(std::size_t, std::size_t, ActivationKind, std::mt19937_64&,    \
                                    double);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad::nn
