#include "tapegrad/nn/module.hpp"

#include "tapegrad/errors.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tapegrad::nn {

template <class T> std::vector<Tensor<T>> Module<T>::parameters() {
    std::vector<Tensor<T>> tensors;
    for (auto& named : named_parameters()) tensors.push_back(*named.tensor);
    return tensors;
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

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
    template class Module<T>;                                                                      \
    template class Linear<T>;                                                                      \
    template class Activation<T>;                                                                  \
    template class Dropout<T>;                                                                     \
    template class Sequential<T>;                                                                  \
    template Sequential<T> make_mlp(const std::vector<std::size_t>&, ActivationKind,               \
                                    std::mt19937_64&, double);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

} // namespace tapegrad::nn
