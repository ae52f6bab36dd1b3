#include "trainer.hpp"

#include "tapegrad/errors.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/xtensor.hpp"

#include <xtensor/xadapt.hpp>

#include <algorithm>
#include <cmath>

namespace tapegrad::train {

namespace {

std::vector<std::size_t> layer_widths(const Options& options, std::size_t features,
                                      std::size_t classes) {
    std::vector<std::size_t> widths{features};
    widths.insert(widths.end(), options.hidden.begin(), options.hidden.end());
    widths.push_back(classes);
    return widths;
}

template <class T>
nn::Sequential<T> make_model(const Options& options, std::size_t features, std::size_t classes,
                             std::mt19937_64& rng) {
    if (options.model == "cnn") {
        const auto side = static_cast<std::size_t>(std::lround(std::sqrt(double(features))));
        if (side * side != features) {
            throw ValueError(
                fmt::format("--model cnn: {} features are not a square image", features));
        }
        return nn::make_cnn<T>(side, classes, nn::parse_activation(options.activation), rng,
                               options.dropout);
    }
    return nn::make_mlp<T>(layer_widths(options, features, classes),
                           nn::parse_activation(options.activation), rng, options.dropout);
}

std::unique_ptr<optim::Optimizer<float>> make_optimizer(const Options& o,
                                                        std::vector<Tensor<float>> parameters) {
    if (o.optimizer == "sgd") {
        return std::make_unique<optim::Sgd<float>>(
            std::move(parameters),
            optim::SgdOptions{o.learning_rate, o.momentum, o.nesterov, o.weight_decay});
    }
    optim::AdamOptions adam;
    adam.learning_rate = o.learning_rate;
    adam.weight_decay = o.weight_decay;
    adam.decoupled_weight_decay = o.optimizer == "adamw";
    return std::make_unique<optim::Adam<float>>(std::move(parameters), adam);
}

optim::Schedule make_schedule(const Options& o) {
    optim::Schedule schedule;
    schedule.kind = optim::parse_schedule(o.schedule);
    schedule.base_rate = o.learning_rate;
    schedule.total_epochs = o.epochs;
    schedule.step_size = 3;
    return schedule;
}

template <class T>
Tensor<T> batch_tensor(const std::vector<float>& inputs, std::size_t rows, std::size_t features) {
    // One copy, straight into a cached buffer.
    const std::array<std::size_t, 2> shape{rows, features};
    return from_xtensor<T>(
        xt::cast<T>(xt::adapt(inputs.data(), rows * features, xt::no_ownership(), shape)));
}

std::size_t correct_predictions(const Tensor<float>& logits,
                                const std::vector<std::int64_t>& labels) {
    const std::size_t classes = logits.shape()[1];
    std::size_t correct = 0;
    for (std::size_t r = 0; r < labels.size(); ++r) {
        const float* row = logits.data() + r * classes;
        const auto predicted = std::max_element(row, row + classes) - row;
        correct += predicted == labels[r];
    }
    return correct;
}

} // namespace

Trainer::Trainer(const Options& options, std::size_t features, std::size_t classes, Peers* peers)
    : options_(options), peers_(peers), schedule_(make_schedule(options)) {
    std::mt19937_64 rng(options.seed);
    model_ = make_model<float>(options, features, classes, rng);
    optimizer_ = make_optimizer(options, model_.parameters());
    if (peers_) peers_->join(model_);
}

Tensor<float> Trainer::logits_of(const data::Batch& batch) {
    return model_(batch_tensor<float>(batch.inputs, batch.rows, batch.features));
}

data::Shard Trainer::shard() const {
    return peers_ ? data::Shard{peers_->rank(), peers_->size()} : data::Shard{};
}

data::BatchLoader Trainer::training_loader(const data::LabeledImages& set) const {
    return data::BatchLoader(set, options_.batch_size, true, options_.seed + 1, shard());
}

Evaluation Trainer::train_epoch(int epoch, data::BatchLoader& loader, const StepCallback& on_step) {
    model_.train();
    optimizer_->set_learning_rate(schedule_.rate(epoch));
    loader.start_epoch(std::uint64_t(epoch));
    data::Batch batch;
    // loss sum, correct predictions, rows: summed over the processes at the end
    std::vector<double> totals(3, 0.0);
    while (loader.next(batch)) {
        optimizer_->zero_grad();
        double step_loss = 0;
        if (batch.rows > 0) {
            const Tensor<float> logits = logits_of(batch);
            Tensor<float> loss = softmax_cross_entropy(logits, batch.labels);
            step_loss = loss.item();
            totals[0] += step_loss * double(batch.rows);
            totals[1] += double(correct_predictions(logits, batch.labels));
            totals[2] += double(batch.rows);
            // Gradients are averaged over the processes: weighting each by its share of the
            // step makes the result the gradient of the mean loss over the whole step.
            const double share = double(batch.rows * shard().count) / double(batch.step_rows);
            if (share != 1) loss = loss * float(share);
            loss.backward();
        }
        if (peers_) peers_->average_gradients();
        optimizer_->step();
        if (on_step) on_step(batch.rows, step_loss);
    }
    if (peers_) {
        peers_->sum(totals);
        // Batch normalisation's running statistics saw only this process's shards.
        std::vector<Tensor<float>> buffers;
        for (const auto& buffer : model_.named_buffers()) buffers.push_back(*buffer.tensor);
        if (!buffers.empty()) peers_->average(buffers);
    }
    const double seen = std::max(totals[2], 1.0);
    return {totals[0] / seen, totals[1] / seen};
}

Evaluation Trainer::evaluate(const data::LabeledImages& set) {
    model_.eval();
    NoGrad no_grad;
    data::BatchLoader loader(set, 256, false, 0, shard());
    loader.start_epoch(0);
    data::Batch batch;
    std::vector<double> totals(2, 0.0); // loss sum, correct predictions
    while (loader.next(batch)) {
        if (batch.rows == 0) continue;
        const Tensor<float> logits = logits_of(batch);
        totals[0] += softmax_cross_entropy(logits, batch.labels).item() * double(batch.rows);
        totals[1] += double(correct_predictions(logits, batch.labels));
    }
    if (peers_) peers_->sum(totals);
    const double count = double(std::max<std::size_t>(set.count, 1));
    return {totals[0] / count, totals[1] / count};
}

Tensor<float> Trainer::first_step_loss(data::BatchLoader& loader) {
    model_.train();
    loader.start_epoch(0);
    data::Batch batch;
    loader.next(batch);
    return softmax_cross_entropy(logits_of(batch), batch.labels);
}

GradcheckResult check_model_gradients(nn::Sequential<float>& model, const Options& options,
                                      const data::LabeledImages& set, std::size_t rows,
                                      std::size_t elements_per_parameter) {
    // The same architecture in double, in evaluation mode (no dropout; batch normalisation
    // with the running statistics, so that every row's loss depends on its own image only);
    // its own initial values are replaced by the float model's below.
    std::mt19937_64 placeholder_init(0);
    const std::size_t classes = model.named_parameters().back().tensor->shape()[0];
    nn::Sequential<double> copy =
        make_model<double>(options, set.features, classes, placeholder_init);
    copy.eval();
    auto source = model.named_parameters();
    auto target = copy.named_parameters();
    auto source_buffers = model.named_buffers();
    auto target_buffers = copy.named_buffers();
    for (std::size_t k = 0; k < source_buffers.size(); ++k) {
        const Tensor<float>& b = *source_buffers[k].tensor;
        *target_buffers[k].tensor =
            Tensor<double>(b.shape(), std::vector<double>(b.data(), b.data() + b.size()));
    }
    std::vector<Tensor<double>> inputs;
    for (std::size_t k = 0; k < source.size(); ++k) {
        const Tensor<float>& p = *source[k].tensor;
        inputs.emplace_back(p.shape(), std::vector<double>(p.data(), p.data() + p.size()), true);
    }

    rows = std::min(rows, set.count);
    const Tensor<double> x = batch_tensor<double>(set.rows(0, rows), rows, set.features);
    const Labels labels(set.labels.begin(), set.labels.begin() + std::ptrdiff_t(rows));
    GradcheckOptions check;
    check.max_elements_per_input = elements_per_parameter;
    return gradcheck(
        [&](const std::vector<Tensor<double>>& parameters) {
            for (std::size_t k = 0; k < parameters.size(); ++k) *target[k].tensor = parameters[k];
            return softmax_cross_entropy(copy(x), labels);
        },
        inputs, check);
}

} // namespace tapegrad::train
