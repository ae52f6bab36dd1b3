// tapegrad-train: trains an MLP or a CNN on Fashion-MNIST and writes metrics, a plot, the
// trained model, a checkpoint per epoch and the run's recipe. All terminal output of the
// training lives here.

#include "files.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "run_files.hpp"
#include "trainer.hpp"

#include "tapegrad/backend.hpp"
#include "tapegrad/data/idx.hpp"
#include "tapegrad/dot.hpp"
#include "tapegrad/errors.hpp"

#ifdef TAPEGRAD_WITH_MPI
#include "mpi_peers.hpp"
#endif

#include <fmt/format.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

namespace tapegrad::train {
namespace {

constexpr std::size_t classes = 10;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The largest resident memory this process has had so far (Linux reports KiB).
double peak_memory_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024;
}

struct Data {
    data::LabeledImages train, test;
};

/// Loads the dataset, normalised with `normalization` if given (a trained model's), else
/// with the statistics of the full training set (so that a model file evaluates the same
/// whatever --train-limit was used).
Data load_data(const Options& options, const std::optional<data::Normalization>& normalization) {
    data::ImageClassificationSet raw = data::load_mnist_format(options.data_dir);
    Data d{data::to_labeled_images(std::move(raw.train_images), raw.train_labels, classes),
           data::to_labeled_images(std::move(raw.test_images), raw.test_labels, classes)};
    d.train.normalization = d.test.normalization =
        normalization ? *normalization : data::fit_normalization(d.train);
    data::keep_first(d.train, options.train_limit);
    data::keep_first(d.test, options.test_limit);
    return d;
}

void print_header(const Options& options, const Data& data,
                  std::chrono::steady_clock::time_point start) {
    fmt::print("data: {} training and {} test images of {} pixels from {} ({:.1f} s)\n",
               data.train.count, data.test.count, data.train.features, options.data_dir,
               seconds_since(start));
    const BackendInfo backend = backend_info();
    fmt::print("backend: {}\n", backend.summary());
    if (!backend.openblas_warning.empty()) fmt::print("note: {}\n", backend.openblas_warning);
}

/// --eval: the model file names its architecture and normalisation; only the data and the
/// threads come from the command line.
int evaluate_model_file(const Options& options) {
    const auto start = std::chrono::steady_clock::now();
    const RunFile file(read_file(options.eval), options.eval);
    Options recipe = file.recipe();
    recipe.threads = options.threads;
    set_num_threads(recipe.threads);
    const ModelInputs inputs = file.inputs();
    const Data data = load_data(options, inputs.normalization);
    print_header(options, data, start);
    Trainer trainer(recipe, inputs.features, inputs.classes);
    file.restore(trainer);
    fmt::print("model: {} ({} parameters)\n", trainer.model().describe(),
               trainer.model().parameter_count());
    const Evaluation test = trainer.evaluate(data.test);
    fmt::print("eval {}: test loss {:.4f}, test accuracy {:.2f}%\n", options.eval, test.loss,
               100 * test.accuracy);
    return 0;
}

int train(Options options, int argc, char** argv, Peers* peers) {
    const auto start = std::chrono::steady_clock::now();
    const bool writes_files = !peers || peers->rank() == 0;

    std::optional<RunFile> resumed;
    if (!options.resume.empty()) {
        std::string bytes = writes_files ? read_file(options.resume) : std::string();
        if (peers) peers->broadcast(bytes);
        resumed.emplace(bytes, options.resume);
        // A checkpoint's run continues with its recipe; the command line may change it.
        if (resumed->is_checkpoint()) {
            const Options recipe = resumed->recipe();
            options = parse_options(argc, argv, &recipe);
        }
    }
    set_num_threads(options.threads);

    const Data data =
        load_data(options, resumed ? std::optional(resumed->inputs().normalization) : std::nullopt);
    print_header(options, data, start);
    const ModelInputs inputs{data.train.normalization, data.train.features, classes};

    // Every process must build the same model (checked as it joins) and follow the same
    // recipe, or their collective operations would not match.
    Trainer trainer(options, data.train.features, classes, peers);
    if (peers) peers->check_same("recipe", recipe_toml(options));
    fmt::print("model: {} ({} parameters)\n", trainer.model().describe(),
               trainer.model().parameter_count());
    RunState state;
    if (resumed) {
        state = resumed->restore(trainer);
        fmt::print("resumed from {} after {} epoch(s)\n", options.resume, state.epochs_done);
    }
    if (options.gradcheck) {
        const GradcheckResult check =
            check_model_gradients(trainer.model(), options, data.train, 8, 64);
        fmt::print(
            "gradient check of the whole model (double, 8 images, 64 elements per tensor):\n{}\n",
            check.report());
        if (!check.passed) return 1;
    }

    data::BatchLoader loader = trainer.training_loader(data.train);
    const std::filesystem::path out(options.output_dir);
    if (writes_files) std::filesystem::create_directories(out);
    if (!options.graph.empty()) {
        DotOptions<float> dot;
        dot.names = nn::parameter_names(trainer.model());
        dot.title = "training_step";
        const std::string text = to_dot(trainer.first_step_loss(loader), dot);
        if (writes_files) write_file(options.graph, text);
        fmt::print("wrote the graph of one training step to {}\n", options.graph);
    }
    const std::string csv = (out / "metrics.csv").string(), plot = (out / "training.svg").string(),
                      model = (out / "model.npz").string(),
                      checkpoint = (out / "checkpoint.npz").string(),
                      recipe = (out / "recipe.toml").string();
    if (writes_files) write_file(recipe, recipe_toml(options));
    fmt::print("training: {} optimizer, lr {} ({} schedule), batch {}{}, {} epochs, {} thread(s), "
               "seed {}\n",
               options.optimizer, options.learning_rate, options.schedule, options.batch_size,
               peers ? fmt::format(" per process x {} processes", peers->size()) : "",
               options.epochs, options.threads, options.seed);

    const bool interactive = isatty(STDOUT_FILENO) != 0;
    for (int epoch = state.epochs_done; epoch < options.epochs; ++epoch) {
        const auto epoch_start = std::chrono::steady_clock::now();
        Progress progress(std::cout, interactive,
                          fmt::format("epoch {}/{}", epoch + 1, options.epochs),
                          loader.batches_per_epoch());
        const Evaluation train = trainer.train_epoch(
            epoch, loader, [&](std::size_t rows, double loss) { progress.step(rows, loss); });
        progress.finish();
        const Evaluation test = trainer.evaluate(data.test);
        state.history.push_back({epoch + 1, train.loss, train.accuracy, test.loss, test.accuracy,
                                 seconds_since(epoch_start)});
        state.epochs_done = epoch + 1;
        fmt::print("epoch {:>2}/{}  train loss {:.4f}  train acc {:.2f}%  test acc {:.2f}%  lr "
                   "{:.2e}  {:.1f} s\n",
                   epoch + 1, options.epochs, train.loss, 100 * train.accuracy, 100 * test.accuracy,
                   trainer.learning_rate(epoch), state.history.back().seconds);
        std::fflush(stdout);
        if (writes_files) {
            write_metrics_csv(csv, state.history);
            save_checkpoint(checkpoint, trainer, options, inputs, state);
        }
    }

    if (writes_files) {
        save_model(model, trainer, options, inputs);
        const std::string dataset = std::filesystem::path(options.data_dir).filename().string();
        const std::string name = options.model == "cnn"
                                     ? "CNN"
                                     : fmt::format("MLP {}-{}-{}", data.train.features,
                                                   fmt::join(options.hidden, "-"), classes);
        write_training_plot(plot, state.history,
                            fmt::format("tapegrad: {} ({}, {}) on {}", name, options.activation,
                                        options.optimizer, dataset));
    }
    const double test_accuracy = state.history.empty() ? 0 : state.history.back().test_accuracy;
    fmt::print("final test accuracy {:.2f}% in {:.1f} s total, peak memory {:.0f} MiB\n",
               100 * test_accuracy, seconds_since(start), peak_memory_mib());
    if (peers) fmt::print("{}\n", peers->report());
    fmt::print("wrote {}, {}, {}, {}, {}\n", csv, plot, model, checkpoint, recipe);
    return 0;
}

int run(const Options& options, int argc, char** argv) {
    if (!options.eval.empty()) return evaluate_model_file(options);
    if (!options.distributed) return train(options, argc, argv, nullptr);
#ifdef TAPEGRAD_WITH_MPI
    return train_distributed(options,
                             [&](Peers& peers) { return train(options, argc, argv, &peers); });
#else
    throw ValueError("--distributed: this tapegrad-train was built without MPI (configure with "
                     "-DTAPEGRAD_DISTRIBUTED=ON)");
#endif
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
        return run(options, argc, argv);
    } catch (const tapegrad::Error& error) {
        fmt::print(stderr, "tapegrad-train: {}\n", error.what());
        return 2;
    } catch (const std::exception& error) {
        fmt::print(stderr, "tapegrad-train: unexpected error: {}\n", error.what());
        return 3;
    }
}
