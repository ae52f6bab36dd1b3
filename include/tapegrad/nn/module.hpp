#pragma once
// Layers: modules that own parameters (leaf tensors requiring gradients) and map a batch of
// rows to a batch of rows. Built on the engine's ops; the engine knows nothing of them.

#include "tapegrad/ops.hpp"
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
    /// Tensors the module keeps that gradients do not train (running statistics).
    virtual std::vector<NamedParameter<T>> named_buffers() { return {}; }
    /// Parameters and buffers, module by module in the order of PyTorch's state_dict: what
    /// a parameter file holds.
    virtual std::vector<NamedParameter<T>> named_state();
    std::vector<Tensor<T>> parameters();
    /// The random generators the module draws from while training (dropout masks), in a
    /// fixed order: a checkpoint saves their states so that a resumed run continues exactly.
    virtual std::vector<std::mt19937_64*> generators() { return {}; }
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

/// Y = X W^T + b with W (out, in), b (out): the linear layer of docs/ops.md. Initialised like
/// PyTorch's default: W and b uniform in [-1/sqrt(in), 1/sqrt(in)] (Kaiming-uniform with a =
/// sqrt(5)).
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

/// Y = conv2d(X, W) + b on images (N, C, H, W) with W (out, in, kH, kW), initialised like
/// PyTorch's: W and b uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = in kH kW.
template <class T> class Conv2d final : public Module<T> {
public:
    Conv2d(std::size_t in_channels, std::size_t out_channels, Size2d kernel, Conv2dOptions options,
           std::mt19937_64& rng, bool with_bias = true);
    Tensor<T> forward(const Tensor<T>& x) override;
    std::vector<NamedParameter<T>> named_parameters() override;
    std::string describe() const override;

    Tensor<T> weight;
    Tensor<T> bias;

private:
    Conv2dOptions options_;
    bool has_bias_;
};

template <class T> class MaxPool2d final : public Module<T> {
public:
    explicit MaxPool2d(Size2d kernel, Size2d stride = 0, Size2d padding = 0)
        : kernel_(kernel), stride_(stride), padding_(padding) {}
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override;

private:
    Size2d kernel_, stride_, padding_;
};

template <class T> class AvgPool2d final : public Module<T> {
public:
    explicit AvgPool2d(Size2d kernel, Size2d stride = 0, Size2d padding = 0)
        : kernel_(kernel), stride_(stride), padding_(padding) {}
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override;

private:
    Size2d kernel_, stride_, padding_;
};

/// Batch normalisation of each channel (tapegrad::batch_norm): weight 1 and bias 0 to start
/// with, running mean 0 and variance 1, as PyTorch's BatchNorm2d.
template <class T> class BatchNorm2d final : public Module<T> {
public:
    explicit BatchNorm2d(std::size_t channels, double eps = 1e-5, double momentum = 0.1);
    Tensor<T> forward(const Tensor<T>& x) override;
    std::vector<NamedParameter<T>> named_parameters() override;
    std::vector<NamedParameter<T>> named_buffers() override;
    std::string describe() const override;

    Tensor<T> weight, bias, running_mean, running_var;

private:
    double eps_, momentum_;
};

/// Each row flattened: (N, d1, d2, ...) -> (N, d1 d2 ...).
template <class T> class Flatten final : public Module<T> {
public:
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override { return "Flatten"; }
};

/// Each row given a shape: (N, d) -> (N, shape...), e.g. rows of 784 pixels to (1, 28, 28) images.
template <class T> class Unflatten final : public Module<T> {
public:
    explicit Unflatten(Shape shape) : shape_(std::move(shape)) {}
    Tensor<T> forward(const Tensor<T>& x) override;
    std::string describe() const override;

private:
    Shape shape_;
};

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
    std::vector<std::mt19937_64*> generators() override { return {&rng_}; }
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
    std::vector<NamedParameter<T>> named_buffers() override;
    std::vector<NamedParameter<T>> named_state() override;
    std::vector<std::mt19937_64*> generators() override;
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

/// The CNN recipe of tapegrad-train (README): square single-channel images of side x side
/// pixels in rows; two blocks of a 3x3 convolution (32, then 64 channels), batch
/// normalisation, the activation and 2x2 max pooling; then dropout (p > 0), a hidden layer of
/// 128 with the activation, dropout again, and the classes.
template <class T>
Sequential<T> make_cnn(std::size_t side, std::size_t classes, ActivationKind activation,
                       std::mt19937_64& rng, double dropout = 0);

} // namespace tapegrad::nn
