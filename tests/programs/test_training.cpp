// The training loop on a small synthetic MNIST-format dataset written by the test: the loss
// falls, runs are deterministic, and saved parameters evaluate exactly as before.

#include "files.hpp"
#include "idx_bytes.hpp"
#include "metrics.hpp"
#include "run_files.hpp"
#include "tapegrad/data/loader.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/nn/parameters_file.hpp"
#include "trainer.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

namespace tapegrad::train {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;

constexpr std::size_t side = 28, pixels = side * side, classes = 10;

/// Images of class c are a bright band at rows 2c..2c+3 over noise: learnable in a few steps.
void write_split(const fs::path& dir, const std::string& prefix, std::size_t count,
                 std::mt19937& rng) {
    std::uniform_int_distribution<int> noise(0, 90), label(0, classes - 1);
    Bytes images, labels;
    for (std::size_t i = 0; i < count; ++i) {
        const int c = label(rng);
        labels.push_back(static_cast<std::uint8_t>(c));
        for (std::size_t p = 0; p < pixels; ++p) {
            const std::size_t row = p / side;
            const bool band = row >= std::size_t(2 * c) && row < std::size_t(2 * c + 4);
            images.push_back(static_cast<std::uint8_t>(band ? 200 + noise(rng) / 2 : noise(rng)));
        }
    }
    const auto n = static_cast<std::uint32_t>(count);
    std::ofstream(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary)
        .write(reinterpret_cast<const char*>(testing::idx_bytes({n, side, side}, images).data()),
               std::streamsize(16 + images.size()));
    std::ofstream(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary)
        .write(reinterpret_cast<const char*>(testing::idx_bytes({n}, labels).data()),
               std::streamsize(8 + labels.size()));
}

class Training : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("tapegrad_training_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        std::mt19937 rng(4);
        write_split(dir_, "train", 320, rng);
        write_split(dir_, "t10k", 100, rng);
        const data::ImageClassificationSet raw = data::load_mnist_format(dir_.string());
        train_ = data::to_labeled_images(raw.train_images, raw.train_labels, classes);
        test_ = data::to_labeled_images(raw.test_images, raw.test_labels, classes);
        train_.normalization = test_.normalization = data::fit_normalization(train_);
        options_.hidden = {32};
        options_.batch_size = 32;
        options_.epochs = 3;
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
    data::LabeledImages train_, test_;
    Options options_;
};

TEST_F(Training, LowersTheLoss) {
    Trainer trainer(options_, pixels, classes);
    const double before = trainer.evaluate(train_).loss;
    data::BatchLoader loader(train_, options_.batch_size, true, 1);
    std::size_t steps = 0;
    for (int epoch = 0; epoch < options_.epochs; ++epoch) {
        trainer.train_epoch(epoch, loader, [&](std::size_t, double) { ++steps; });
    }
    EXPECT_EQ(steps, 30u); // 3 epochs of 10 batches
    const double after = trainer.evaluate(train_).loss;
    EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
    EXPECT_GT(trainer.evaluate(test_).accuracy, 0.5);
}

TEST_F(Training, SameSeedSameNumbers) {
    std::vector<float> results[2];
    for (auto& result : results) {
        Trainer trainer(options_, pixels, classes);
        data::BatchLoader loader(train_, options_.batch_size, true, 7);
        trainer.train_epoch(0, loader);
        result = trainer.model().parameters()[0].to_vector();
    }
    EXPECT_EQ(results[0], results[1]);
}

TEST_F(Training, SaveLoadEvalReproducesTheAccuracyExactly) {
    Trainer trained(options_, pixels, classes);
    data::BatchLoader loader(train_, options_.batch_size, true, 1);
    trained.train_epoch(0, loader);
    const Evaluation expected = trained.evaluate(test_);
    const std::string path = (dir_ / "model.npz").string();
    nn::save_parameters(trained.model(), path);

    Options other_seed = options_;
    other_seed.seed = 99;
    Trainer restored(other_seed, pixels, classes);
    EXPECT_NE(restored.evaluate(test_).loss, expected.loss);
    nn::load_parameters(restored.model(), path);
    const Evaluation reproduced = restored.evaluate(test_);
    EXPECT_EQ(reproduced.accuracy, expected.accuracy);
    EXPECT_EQ(reproduced.loss, expected.loss);
}

/// Every parameter and buffer value of the model, in order.
std::vector<float> state_values(Trainer& trainer) {
    std::vector<float> values;
    for (const auto& p : trainer.model().named_state()) {
        const std::vector<float> v = p.tensor->to_vector();
        values.insert(values.end(), v.begin(), v.end());
    }
    return values;
}

class Resuming : public Training, public ::testing::WithParamInterface<const char*> {};

// Stopping after 2 of 4 epochs and resuming from the checkpoint gives the same bits as
// training 4 epochs at once: parameters, optimizer moments, dropout's generator and the
// epoch's shuffled order all continue where they stopped.
TEST_P(Resuming, FromACheckpointIsBitIdenticalToNotStopping) {
    options_.epochs = 4;
    options_.dropout = 0.2;
    options_.optimizer = GetParam();
    const ModelInputs inputs{train_.normalization, pixels, classes};

    Trainer uninterrupted(options_, pixels, classes);
    data::BatchLoader loader = uninterrupted.training_loader(train_);
    for (int epoch = 0; epoch < 4; ++epoch) uninterrupted.train_epoch(epoch, loader);

    const std::string checkpoint = (dir_ / "checkpoint.npz").string();
    {
        Trainer first_half(options_, pixels, classes);
        data::BatchLoader first_loader = first_half.training_loader(train_);
        RunState state;
        for (int epoch = 0; epoch < 2; ++epoch) {
            first_half.train_epoch(epoch, first_loader);
            state.history.push_back({epoch + 1, 0.5, 0.5, 0.5, 0.5, 1.0});
            state.epochs_done = epoch + 1;
            save_checkpoint(checkpoint, first_half, options_, inputs, state);
        }
    }
    Trainer resumed(options_, pixels, classes);
    const RunFile file(read_file(checkpoint), checkpoint);
    ASSERT_TRUE(file.is_checkpoint());
    EXPECT_EQ(recipe_toml(file.recipe()), recipe_toml(options_));
    const RunState state = file.restore(resumed);
    EXPECT_EQ(state.epochs_done, 2);
    ASSERT_EQ(state.history.size(), 2u);
    EXPECT_EQ(state.history[1].epoch, 2);
    data::BatchLoader second_loader = resumed.training_loader(train_);
    for (int epoch = state.epochs_done; epoch < 4; ++epoch)
        resumed.train_epoch(epoch, second_loader);

    EXPECT_EQ(state_values(resumed), state_values(uninterrupted));
}

INSTANTIATE_TEST_SUITE_P(Optimizers, Resuming, ::testing::Values("adam", "sgd"));

TEST_F(Training, AModelFileNamesItsArchitectureAndNormalisation) {
    options_.model = "cnn";
    options_.epochs = 1;
    Trainer trained(options_, pixels, classes);
    data::BatchLoader loader = trained.training_loader(train_);
    trained.train_epoch(0, loader);
    const std::string path = (dir_ / "model.npz").string();
    save_model(path, trained, options_, {train_.normalization, pixels, classes});

    const RunFile file(read_file(path), path);
    EXPECT_FALSE(file.is_checkpoint());
    const Options recipe = file.recipe();
    EXPECT_EQ(recipe.model, "cnn");
    const ModelInputs inputs = file.inputs();
    EXPECT_EQ(inputs.normalization.mean, train_.normalization.mean);
    EXPECT_EQ(inputs.normalization.std, train_.normalization.std);
    EXPECT_EQ(inputs.features, pixels);
    EXPECT_EQ(inputs.classes, classes);
    // Built from the file alone, the model evaluates exactly as the trained one.
    Trainer rebuilt(recipe, inputs.features, inputs.classes);
    file.restore(rebuilt);
    EXPECT_EQ(rebuilt.evaluate(test_).loss, trained.evaluate(test_).loss);
    // The library's loader reads it too: the meta.* entries are not the model's.
    Trainer plain(options_, pixels, classes);
    nn::load_parameters(plain.model(), path);
    EXPECT_EQ(state_values(plain), state_values(trained));
}

TEST_F(Training, FilesThatAreNotTheProgramsAreRejectedByName) {
    const std::string path = (dir_ / "plain.npz").string();
    Trainer trainer(options_, pixels, classes);
    nn::save_parameters(trainer.model(), path);
    try {
        RunFile file(read_file(path), path);
        FAIL() << "expected FormatError";
    } catch (const FormatError& error) {
        EXPECT_EQ(std::string(error.what()),
                  path + ": no entry 'meta.recipe': not a model file or checkpoint written by "
                         "tapegrad-train");
    }
}

TEST_F(Training, WholeModelGradcheckPasses) {
    Trainer trainer(options_, pixels, classes);
    const GradcheckResult result = check_model_gradients(trainer.model(), options_, train_, 4, 20);
    EXPECT_TRUE(result.passed) << result;
    EXPECT_EQ(result.elements_checked, 20u + 20u + 20u + 10u); // the output bias has 10 elements
}

/// Resident memory of this process in bytes (Linux).
std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t total_pages = 0, resident_pages = 0;
    statm >> total_pages >> resident_pages;
    return resident_pages * std::size_t(sysconf(_SC_PAGESIZE));
}

TEST_F(Training, ThousandStepsKeepMemoryFlatAndLeaveNoGraphBehind) {
    options_.epochs = 100; // 10 batches an epoch: 1000 steps
    Trainer trainer(options_, pixels, classes);
    const std::size_t parameter_leaves = trainer.model().parameters().size();
    data::BatchLoader loader(train_, options_.batch_size, true, 1);
    std::size_t step = 0, resident_at_100 = 0, resident_at_1000 = 0;
    for (int epoch = 0; epoch < options_.epochs; ++epoch) {
        trainer.train_epoch(epoch, loader, [&](std::size_t, double) {
            ++step;
            if (step == 100) resident_at_100 = resident_bytes();
            if (step == 1000) resident_at_1000 = resident_bytes();
        });
        // Between steps only the parameters' leaves are alive: no node outlives its step.
        ASSERT_EQ(live_node_count(), parameter_leaves) << "after epoch " << epoch;
    }
    ASSERT_EQ(step, 1000u);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "RSS is not meaningful under a sanitizer's allocator (nodes were checked)";
#endif
    std::printf("RSS after step 100: %.2f MiB, after step 1000: %.2f MiB\n",
                double(resident_at_100) / (1 << 20), double(resident_at_1000) / (1 << 20));
    EXPECT_LE(double(resident_at_1000), 1.02 * double(resident_at_100))
        << "RSS " << resident_at_100 << " bytes after step 100, " << resident_at_1000
        << " after step 1000";
}

TEST_F(Training, MetricsCsvHasAHeaderAndOneRowPerEpoch) {
    const std::string path = (dir_ / "metrics.csv").string();
    write_metrics_csv(path, {{1, 0.5, 0.8, 0.6, 0.75, 1.0}, {2, 0.4, 0.85, 0.5, 0.8, 1.0}});
    std::ifstream file(path);
    std::string header, first;
    std::getline(file, header);
    std::getline(file, first);
    EXPECT_EQ(header, "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds");
    EXPECT_EQ(first, "1,0.500000,0.800000,0.600000,0.750000,1.000");
}

} // namespace
} // namespace tapegrad::train
