#pragma once
// The training loop of tapegrad-train, apart from any terminal or file output so that tests
// can run it on a few hundred images.

#include "options.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/schedule.hpp"

#include <functional>
#include <memory>
#include <string>

namespace tapegrad::train {

struct Evaluation {
    double loss = 0;
    double accuracy = 0; // fraction in [0, 1]
};

/// Called after each training step with the step's batch size and loss.
using StepCallback = std::function<void(std::size_t rows, double loss)>;

/// The other processes of a data-parallel run, as the trainer needs them. A single process
/// trains without.
class Peers {
public:
    virtual ~Peers() = default;
    virtual std::size_t rank() const = 0;
    virtual std::size_t size() const = 0;
    /// Checks that every process built the same model, gives all of them rank 0's values,
    /// and from then on takes part in every backward.
    virtual void join(nn::Sequential<float>& model) = 0;
    /// Between backward and the optimizer step: makes every process's gradients the mean
    /// of all processes' gradients.
    virtual void average_gradients() = 0;
    /// Replaces each tensor's value with its mean over the processes.
    virtual void average(const std::vector<Tensor<float>>& tensors) = 0;
    /// Sums `values` over the processes, in place.
    virtual void sum(std::vector<double>& values) = 0;
    /// Replaces `bytes` with rank 0's.
    virtual void broadcast(std::string& bytes) = 0;
    /// Throws on every process unless all pass the same `description` of `what`.
    virtual void check_same(const std::string& what, const std::string& description) = 0;
    /// A line on the time spent communicating.
    virtual std::string report() const = 0;
};

class Trainer {
public:
    /// With `peers`, each process trains on its shard of every batch and evaluates its shard
    /// of a set; the results are over all processes.
    Trainer(const Options& options, std::size_t features, std::size_t classes,
            Peers* peers = nullptr);

    nn::Sequential<float>& model() { return model_; }
    optim::Optimizer<float>& optimizer() { return *optimizer_; }
    /// A loader over `set` for this process's shard of every training batch.
    data::BatchLoader training_loader(const data::LabeledImages& set) const;
    /// The learning rate the schedule gives for `epoch` (0-based).
    double learning_rate(int epoch) const { return schedule_.rate(epoch); }

    /// One pass over the loader's batches; returns the mean loss and accuracy over them.
    Evaluation train_epoch(int epoch, data::BatchLoader& loader, const StepCallback& on_step = {});
    /// Loss and accuracy on `set`, in evaluation mode and without recording.
    Evaluation evaluate(const data::LabeledImages& set);
    /// Loss of the first batch of `loader`'s epoch 0, recorded but not backpropagated: the
    /// graph of one training step.
    Tensor<float> first_step_loss(data::BatchLoader& loader);

private:
    Tensor<float> logits_of(const data::Batch& batch);
    data::Shard shard() const;

    const Options options_;
    Peers* peers_;
    nn::Sequential<float> model_;
    std::unique_ptr<optim::Optimizer<float>> optimizer_;
    optim::Schedule schedule_;
};

/// Checks the gradients of `model`'s loss on the first `rows` examples of `set` against
/// finite differences, in double on a copy of the model, at `elements_per_parameter` random
/// elements of each parameter tensor.
GradcheckResult check_model_gradients(nn::Sequential<float>& model, const Options& options,
                                      const data::LabeledImages& set, std::size_t rows,
                                      std::size_t elements_per_parameter);

} // namespace tapegrad::train
