// tapegrad-train: trains an MLP on Fashion-MNIST and writes metrics, a plot and the
// trained parameters. All terminal output of the training lives here.

#include "metrics.hpp"
#include "options.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "trainer.hpp"

#include "tapegrad/backend.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/nn/parameters_file.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

namespace tapegrad::train {
namespace {

constexpr std::size_t classes = 10;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Data {
    data::LabeledImages train, test;
};

/// Loads the dataset, normalised with the statistics of the full training set (so that a
/// parameter file evaluates the same whatever --train-limit was used).
Data load_data(const Options& options) {
    data::ImageClassificationSet raw = data::load_mnist_format(options.data_dir);
    Data d{data::to_labeled_images(std::move(raw.train_images), raw.train_labels, classes),
           data::to_labeled_images(std::move(raw.test_images), raw.test_labels, classes)};
    d.train.normalization = d.test.normalization = data::fit_normalization(d.train);
    data::keep_first(d.train, options.train_limit);
    data::keep_first(d.test, options.test_limit);
    return d;
}

int run(const Options& options) {
    const auto start = std::chrono::steady_clock::now();
    set_num_threads(options.threads);
    const Data data = load_data(options);
    fmt::print("data: {} training and {} test images of {} pixels from {} ({:.1f} s)\n",
               data.train.count, data.test.count, data.train.features, options.data_dir,
               seconds_since(start));

    const BackendInfo backend = backend_info();
    fmt::print("backend: {}\n", backend.summary());
    if (!backend.openblas_warning.empty()) fmt::print("note: {}\n", backend.openblas_warning);

    Trainer trainer(options, data.train.features, classes);
    fmt::print("model: {} ({} parameters)\n", trainer.model().describe(),
               trainer.model().parameter_count());

    if (!options.eval.empty()) {
        nn::load_parameters(trainer.model(), options.eval);
        const Evaluation test = trainer.evaluate(data.test);
        fmt::print("eval {}: test loss {:.4f}, test accuracy {:.2f}%\n", options.eval, test.loss,
                   100 * test.accuracy);
        return 0;
    }
    if (!options.resume.empty()) {
        nn::load_parameters(trainer.model(), options.resume);
        fmt::print("resumed from {}\n", options.resume);
    }
    if (options.gradcheck) {
        const GradcheckResult check =
            check_model_gradients(trainer.model(), options, data.train, 8, 64);
        fmt::print(
            "gradient check of the whole model (double, 8 images, 64 elements per tensor):\n{}\n",
            check.report());
        if (!check.passed) return 1;
    }

    std::filesystem::create_directories(options.output_dir);
    const std::string csv = options.output_dir + "/metrics.csv",
                      plot = options.output_dir + "/training.svg",
                      parameters = options.output_dir + "/model.npz";
    fmt::print(
        "training: {} optimizer, lr {} ({} schedule), batch {}, {} epochs, {} thread(s), seed {}\n",
        options.optimizer, options.learning_rate, options.schedule, options.batch_size,
        options.epochs, options.threads, options.seed);

    data::BatchLoader loader(data.train, options.batch_size, true, options.seed + 1);
    const bool interactive = isatty(STDOUT_FILENO) != 0;
    History history;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
        const auto epoch_start = std::chrono::steady_clock::now();
        Progress progress(std::cout, interactive,
                          fmt::format("epoch {}/{}", epoch + 1, options.epochs),
                          loader.batches_per_epoch());
        const Evaluation train = trainer.train_epoch(
            epoch, loader, [&](std::size_t rows, double loss) { progress.step(rows, loss); });
        progress.finish();
        const Evaluation test = trainer.evaluate(data.test);
        history.push_back({epoch + 1, train.loss, train.accuracy, test.loss, test.accuracy,
                           seconds_since(epoch_start)});
        fmt::print("epoch {:>2}/{}  train loss {:.4f}  train acc {:.2f}%  test acc {:.2f}%  lr "
                   "{:.2e}  {:.1f} s\n",
                   epoch + 1, options.epochs, train.loss, 100 * train.accuracy, 100 * test.accuracy,
                   trainer.learning_rate(epoch), history.back().seconds);
        std::fflush(stdout);
        write_metrics_csv(csv, history);
    }

    nn::save_parameters(trainer.model(), parameters);
    const std::string dataset = std::filesystem::path(options.data_dir).filename().string();
    const std::string model = options.model == "cnn"
                                  ? "CNN"
                                  : fmt::format("MLP {}-{}-{}", data.train.features,
                                                fmt::join(options.hidden, "-"), classes);
    write_training_plot(plot, history,
                        fmt::format("tapegrad: {} ({}, {}) on {}", model, options.activation,
                                    options.optimizer, dataset));
    const double test_accuracy = history.empty() ? 0 : history.back().test_accuracy;
    fmt::print("final test accuracy {:.2f}% in {:.1f} s total\nwrote {}, {}, {}\n",
               100 * test_accuracy, seconds_since(start), csv, plot, parameters);
    return 0;
}

} // namespace
} // namespace tapegrad::train

int main(int argc, char** argv) {
    using namespace tapegrad::train;
    try {
        const Options options = parse_options(argc, argv);
        if (options.help) {
            fmt::print("{}", usage());
            return 0;
        }
        return run(options);
    } catch (const tapegrad::Error& error) {
        fmt::print(stderr, "tapegrad-train: {}\n", error.what());
        return 2;
    } catch (const std::exception& error) {
        fmt::print(stderr, "tapegrad-train: unexpected error: {}\n", error.what());
        return 3;
    }
}
