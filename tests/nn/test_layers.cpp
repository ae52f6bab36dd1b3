// Layers: initialisation, naming, modes, gradients through a model, parameter files.

#include "error_message.hpp"
#include "npz_bytes.hpp"
#include "random_tensors.hpp"
#include "tapegrad/io/npz.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/parameters_file.hpp"
#include "tapegrad/tapegrad.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace tapegrad::nn {
namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            ("tapegrad_test_" + std::to_string(::getpid()) + "_" + name))
        .string();
}

TEST(Linear, InitialisesWithinTheKaimingUniformBound) {
    std::mt19937_64 rng(3);
    Linear<float> layer(400, 30, rng);
    EXPECT_EQ(layer.weight.shape(), (Shape{30, 400}));
    EXPECT_EQ(layer.bias.shape(), (Shape{30}));
    const float bound = 1.0f / std::sqrt(400.0f);
    float largest = 0;
    for (float w : layer.weight.to_vector()) largest = std::max(largest, std::abs(w));
    EXPECT_LE(largest, bound);
    EXPECT_GT(largest, 0.9f * bound); // the range is used, not a narrower one
    EXPECT_TRUE(layer.weight.requires_grad());
}

TEST(Sequential, NamesParametersByPositionAndCountsThem) {
    std::mt19937_64 rng(1);
    Sequential<float> model = make_mlp<float>({6, 5, 3}, ActivationKind::tanh, rng);
    std::vector<std::string> names;
    for (const auto& p : model.named_parameters()) names.push_back(p.name);
    EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
    EXPECT_EQ(model.parameter_count(), 6u * 5 + 5 + 5 * 3 + 3);
    EXPECT_EQ(model.describe(), "Linear(6, 5) -> tanh -> Linear(5, 3)");
}

TEST(Layers, DescriptionsNameTheOptionsThatAreNotDefaults) {
    std::mt19937_64 rng(1);
    EXPECT_EQ(Conv2d<float>(1, 2, 3, Conv2dOptions{}, rng).describe(), "Conv2d(1, 2, 3x3)");
    EXPECT_EQ(Conv2d<float>(1, 2, {3, 5}, Conv2dOptions{{1, 2}, 1, 2}, rng).describe(),
              "Conv2d(1, 2, 3x5, stride 1x2, padding 1, dilation 2)");
    EXPECT_EQ(MaxPool2d<float>(2).describe(), "MaxPool2d(2x2)");
    EXPECT_EQ(MaxPool2d<float>(2, 2).describe(), "MaxPool2d(2x2)");
    EXPECT_EQ(MaxPool2d<float>(3, 2, 1).describe(), "MaxPool2d(3x3, stride 2, padding 1)");
    EXPECT_EQ(AvgPool2d<float>({2, 3}, 1).describe(), "AvgPool2d(2x3, stride 1)");
}

TEST(Sequential, SameSeedSameModel) {
    std::mt19937_64 a(42), b(42);
    auto m1 = make_mlp<float>({8, 4, 2}, ActivationKind::relu, a);
    auto m2 = make_mlp<float>({8, 4, 2}, ActivationKind::relu, b);
    EXPECT_EQ(m1.parameters()[0].to_vector(), m2.parameters()[0].to_vector());
}

TEST(Sequential, GradientsOfAWholeModelMatchFiniteDifferences) {
    std::mt19937_64 rng(2);
    Sequential<double> model = make_mlp<double>({5, 4, 4, 3}, ActivationKind::elu, rng);
    auto slots = model.named_parameters();
    std::mt19937 data_rng(9);
    const Tensor<double> x =
        testing::random_tensor<double>({6, 5}, data_rng, testing::Domain::any, false);
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensor<double>>& parameters) {
            for (std::size_t k = 0; k < parameters.size(); ++k) *slots[k].tensor = parameters[k];
            return softmax_cross_entropy(model(x), Labels{0, 1, 2, 0, 1, 2});
        },
        model.parameters());
    EXPECT_TRUE(result.passed) << result;
    EXPECT_EQ(result.elements_checked, model.parameter_count());
}

TEST(Dropout, ZeroesAboutPAndScalesTheRestWhileTraining) {
    Dropout<double> dropout(0.25, 7);
    const Tensor<double> x = Tensor<double>::ones({100, 100});
    const std::vector<double> y = dropout(x).to_vector();
    const auto zeros = std::count(y.begin(), y.end(), 0.0);
    EXPECT_NEAR(double(zeros) / y.size(), 0.25, 0.02);
    for (double v : y) EXPECT_TRUE(v == 0.0 || std::abs(v - 1 / 0.75) < 1e-12);
    dropout.eval();
    EXPECT_EQ(dropout(x).to_vector(), x.to_vector());
}

TEST(LayerErrors, NameTheBadValue) {
    std::mt19937_64 rng(1);
    const auto message = [](auto&& f) { return testing::message_of<ValueError>(f); };
    EXPECT_EQ(message([&] { Linear<float>(0, 3, rng); }),
              "Linear: sizes must be positive, got in 0 and out 3");
    EXPECT_EQ(message([] { parse_activation("gelu"); }),
              "activation: unknown 'gelu' (relu, leaky_relu, elu, tanh, sigmoid)");
    EXPECT_EQ(message([] { Dropout<float>(1.0, 0); }), "Dropout: p must be in [0, 1), got 1");
    EXPECT_EQ(message([&] { make_mlp<float>({3}, ActivationKind::relu, rng); }),
              "make_mlp: needs at least input and output widths, got 1");
}

TEST(ParametersFile, AnEntryTheModelDoesNotHaveIsAnError) {
    std::mt19937_64 rng(5);
    auto model = make_mlp<float>({3, 2}, ActivationKind::relu, rng);
    const std::string path = temp_path("extra.npz");
    io::save_npz(path, {io::NamedArray::float32("0.weight", {2, 3}, std::vector<float>(6, 1.0f)),
                        io::NamedArray::float32("0.bias", {2}, {1.0f, 2.0f}),
                        io::NamedArray::float32("extra", {2}, {0.0f, 0.0f})});
    try {
        load_parameters(model, path);
        ADD_FAILURE() << "no exception";
    } catch (const FormatError& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr(
                                  "entry 'extra' of shape (2,) is not a parameter of the model"));
    }
    std::remove(path.c_str());
}

TEST(ParametersFile, RoundTripRestoresEveryValue) {
    std::mt19937_64 rng(5), other(6);
    auto saved = make_mlp<float>({7, 3, 2}, ActivationKind::relu, rng);
    auto loaded = make_mlp<float>({7, 3, 2}, ActivationKind::relu, other);
    const std::string path = temp_path("roundtrip.npz");
    save_parameters(saved, path);
    load_parameters(loaded, path);
    for (std::size_t k = 0; k < saved.parameters().size(); ++k) {
        EXPECT_EQ(saved.parameters()[k].to_vector(), loaded.parameters()[k].to_vector());
    }
    std::remove(path.c_str());
}

TEST(ParametersFile, MismatchedOrCorruptFileNamesTheTensorAndLeavesTheModelUnchanged) {
    std::mt19937_64 rng(5);
    auto small = make_mlp<float>({7, 3, 2}, ActivationKind::relu, rng);
    auto wide = make_mlp<float>({7, 4, 2}, ActivationKind::relu, rng);
    auto deep = make_mlp<float>({7, 3, 3, 2}, ActivationKind::relu, rng);
    const std::string path = temp_path("mismatch.npz");
    save_parameters(small, path);
    const auto before = wide.parameters()[0].to_vector();
    try {
        load_parameters(wide, path);
        ADD_FAILURE() << "no exception";
    } catch (const FormatError& e) {
        EXPECT_THAT(e.what(),
                    ::testing::HasSubstr(
                        "entry '0.weight' has shape (3, 7), the model's tensor has shape (4, 7)"));
    }
    EXPECT_EQ(wide.parameters()[0].to_vector(), before);
    EXPECT_THROW(load_parameters(deep, path), FormatError); // missing '4.weight'

    // Truncated: every parameter keeps its value.
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size / 2);
    const auto small_before = small.parameters()[2].to_vector();
    EXPECT_THROW(load_parameters(small, path), FormatError);
    EXPECT_EQ(small.parameters()[2].to_vector(), small_before);
    std::remove(path.c_str());
}

TEST(ParametersFile, AFileOfAnotherDtypeNamesItAndLeavesTheModelUnchanged) {
    std::mt19937_64 rng(5);
    auto model = make_mlp<float>({2, 2}, ActivationKind::relu, rng);
    // 0.weight as float64 (what np.save writes by default), 0.bias as float32.
    const testing::Bytes weight = testing::npy_bytes(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", testing::Bytes(4 * 8, 0));
    const testing::Bytes bias =
        testing::npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                           testing::float32_data({1.0f, 2.0f}));
    const testing::Bytes archive =
        testing::make_zip({{"0.weight.npy", weight}, {"0.bias.npy", bias}});
    const std::string path = temp_path("float64.npz");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(archive.data()), std::streamsize(archive.size()));
    const auto before = model.parameters()[1].to_vector();
    try {
        load_parameters(model, path);
        ADD_FAILURE() << "no exception";
    } catch (const FormatError& e) {
        EXPECT_THAT(e.what(),
                    ::testing::HasSubstr("entry '0.weight' has dtype '<f8', expected '<f4'"));
    }
    EXPECT_EQ(model.parameters()[1].to_vector(), before);
    std::remove(path.c_str());
}

TEST(ParametersFile, MissingFileIsAFormatError) {
    std::mt19937_64 rng(5);
    auto model = make_mlp<float>({2, 2}, ActivationKind::relu, rng);
    EXPECT_THROW(load_parameters(model, temp_path("does_not_exist.npz")), FormatError);
}

} // namespace
} // namespace tapegrad::nn
