#pragma once
// Layers: modules that own parameters (leaf tensors requiring gradients) and map a batch of
// rows to a batch of rows. Built on the engine's ops; the engine knows nothing of them.

#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace tapegrad::nn {

template <class T> struct NamedParameter {
    std::string name;  // "weight", "0.bias", ...
    Tensor<T>* tensor; // the module's own member: assigning to it replaces the parameter
};

template <class T> class Module {
public:
    virtual ~Module() = default;
    virtual Tensor<T> forward(const Tensor<T>& x) = 0;
    Tensor<T> operator()(const Tensor<T>& x) { return forward(x); }

    /// The parameters with names that are stable across runs (used in parameter files).
    virtual std::vector<NamedParameter<T>> named_parameters() { return {}; }
    std::vector<Tensor<T>> parameters();
    /// Number of scalar parameters.
    std::size_t parameter_count();
    void zero_grad();

    /// Training mode (dropout active) or evaluation mode.
    virtual void train(bool on = true) { training_ = on; }
    void eval() { train(false); }
    bool is_training() const { return training_; }

    /// A short description, e.g. "Linear(784, 256)".
    virtual std::string describe() const = 0;

private:
    bool training_ = true;
};

/// Y = X W^T + b with W (out, in), b (out): the seed's layer. Initialised like PyTorch's
/// default: W and b uniform in [-1/sqrt(in), 1/sqrt(in)] (Kaiming-uniform with a = sqrt(5)).
template <class T> class Linear final : public Module<T> {
public:
    Linear(std::size_t in_features, std::size_t out_features, std::mt19937_64& rng,
           bool with_bias = true);
    Tensor<T> forward(const Tensor<T>& x) override;
    std::vector<NamedParameter<T>> named_parameters() override;
    std::string describe() const override;

    Tensor<T> weight;
    Tensor<T> bias; // a rank-0 placeholder without gradient when the layer has no bias

private:
    bool has_bias_;
};

enum class ActivationKind { relu, leaky_relu, elu, tanh, sigmoid };

/// "relu", "leaky_relu", "elu", "tanh", "sigmoid"; throws ValueError for anything else.
ActivationKind parse_activation(const std::string& name);
std::string to_string(ActivationKind kind);

template <class T> class Activation final : public Module<T> {
public:
    explicit Activation(ActivationKind kind) : kind_(kind) {}
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override;

private:
    ActivationKind kind_;
};

/// Zeroes each element with probability p while training and scales the rest by 1/(1-p);
/// the identity in evaluation mode.
template <class T> class Dropout final : public Module<T> {
public:
    Dropout(double p, std::uint64_t seed);
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override;

private:
    double p_;
    std::mt19937_64 rng_;
};

/// Modules applied in order. Parameter names are "<position>.<name>", as in PyTorch.
template <class T> class Sequential final : public Module<T> {
public:
    Sequential() = default;
    template <class M, class... Args> M& add(Args&&... args) {
        auto module = std::make_unique<M>(std::forward<Args>(args)...);
        M& added = *module;
        modules_.push_back(std::move(module));
        return added;
    }
    Tensor<T> forward(const Tensor<T>& x) override;
    std::vector<NamedParameter<T>> named_parameters() override;
    void train(bool on = true) override;
    std::string describe() const override;
    std::size_t size() const { return modules_.size(); }

private:
    std::vector<std::unique_ptr<Module<T>>> modules_;
};

/// The model's parameters paired with their names, for labelling a graph (DotOptions::names).
template <class T>
std::vector<std::pair<Tensor<T>, std::string>> parameter_names(Module<T>& model) {
    std::vector<std::pair<Tensor<T>, std::string>> names;
    for (const NamedParameter<T>& p : model.named_parameters())
        names.emplace_back(*p.tensor, p.name);
    return names;
}

/// An MLP: Linear layers of the given widths with `activation` (and dropout p > 0) between
/// them, e.g. widths {784, 256, 128, 10}.
template <class T>
Sequential<T> make_mlp(const std::vector<std::size_t>& widths, ActivationKind activation,
                       std::mt19937_64& rng, double dropout = 0);

} // namespace tapegrad::nn
