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

namespace tapegrad::train {

struct Evaluation {
    double loss = 0;
    double accuracy = 0; // fraction in [0, 1]
};

/// Called after each training step with the step's batch size and loss.
using StepCallback = std::function<void(std::size_t rows, double loss)>;

class Trainer {
public:
    Trainer(const Options& options, std::size_t features, std::size_t classes);

    nn::Sequential<float>& model() { return model_; }
    /// The learning rate the schedule gives for `epoch` (0-based).
    double learning_rate(int epoch) const { return schedule_.rate(epoch); }

    /// One pass over the loader's batches; returns the mean loss and accuracy over them.
    Evaluation train_epoch(int epoch, data::BatchLoader& loader, const StepCallback& on_step = {});
    /// Loss and accuracy on `set`, in evaluation mode and without recording.
    Evaluation evaluate(const data::LabeledImages& set);

private:
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
