#pragma once
// Optimizers: update parameters in place from their accumulated gradients, outside the
// graph. Parameters without a gradient are skipped, as in PyTorch.

#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tapegrad::optim {

/// What an optimizer carries from step to step, named as PyTorch's state_dict names it
/// ("state.3.exp_avg", "state.3.step" for parameter 3): checkpoints save it, load_state
/// restores it so that training continues exactly.
template <class T> struct OptimizerState {
    std::map<std::string, std::vector<T>> buffers;
    std::map<std::string, std::int64_t> counters;
};

template <class T> class Optimizer {
public:
    Optimizer(std::vector<Tensor<T>> parameters, double learning_rate);
    virtual ~Optimizer() = default;
    /// One update of every parameter that has a gradient.
    virtual void step() = 0;
    void zero_grad();
    OptimizerState<T> state() const;
    /// Replaces the state with `state` (as state() returned it). Checks first: a buffer whose
    /// size is not its parameter's, or an unknown entry, throws ValueError naming it and
    /// leaves the optimizer unchanged.
    void load_state(const OptimizerState<T>& state);

    Optimizer(const Optimizer&) = delete; // the state registry points into the subclass
    Optimizer& operator=(const Optimizer&) = delete;
    double learning_rate() const { return learning_rate_; }
    void set_learning_rate(double rate) { learning_rate_ = rate; }

protected:
    /// Calls update(k, values, gradient, size) for each parameter k that has a gradient.
    template <class Update> void for_each_gradient(Update&& update) {
        for (std::size_t k = 0; k < parameters_.size(); ++k) {
            Tensor<T>& parameter = parameters_[k];
            if (parameter.has_grad())
                update(k, parameter.mutable_data(), parameter.grad().data(), parameter.size());
        }
    }

    /// Makes state() include `buffers` (one per parameter, empty until used) as
    /// "state.K.<name>".
    void keep_in_state(const char* name, std::vector<std::vector<T>>& buffers);
    /// Makes state() include `counters` (one per parameter) as "state.K.<name>".
    void keep_in_state(const char* name, std::vector<long>& counters);

    std::vector<Tensor<T>> parameters_;
    double learning_rate_;

private:
    std::vector<std::pair<std::string, std::vector<std::vector<T>>*>> state_buffers_;
    std::vector<std::pair<std::string, std::vector<long>*>> state_counters_;
};

struct SgdOptions {
    double learning_rate = 0.01;
    double momentum = 0;
    bool nesterov = false;
    double weight_decay = 0; // L2: added to the gradient
};

/// Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD.
template <class T> class Sgd final : public Optimizer<T> {
public:
    Sgd(std::vector<Tensor<T>> parameters, SgdOptions options);
    void step() override;

private:
    SgdOptions options_;
    std::vector<std::vector<T>> velocity_; // one per parameter, empty until first used
};

struct AdamOptions {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;
    /// false: Adam (weight decay added to the gradient); true: AdamW (decoupled decay).
    bool decoupled_weight_decay = false;
};

/// Adam and AdamW, as torch.optim.Adam / AdamW.
template <class T> class Adam final : public Optimizer<T> {
public:
    Adam(std::vector<Tensor<T>> parameters, AdamOptions options);
    void step() override;

private:
    AdamOptions options_;
    std::vector<std::vector<T>> first_moment_, second_moment_;
    std::vector<long> steps_;
};

} // namespace tapegrad::optim
