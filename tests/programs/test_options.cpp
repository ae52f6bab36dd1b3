// tapegrad-train's command line: the default recipe and the errors for bad flags.

#include "error_message.hpp"
#include "options.hpp"
#include "tapegrad/errors.hpp"

#include <gtest/gtest.h>

namespace tapegrad::train {
namespace {

Options parse(std::vector<const char*> arguments) {
    arguments.insert(arguments.begin(), "tapegrad-train");
    return parse_options(int(arguments.size()), arguments.data());
}

std::string error_of(std::vector<const char*> arguments) {
    return tapegrad::testing::message_of<ValueError>([&] { parse(std::move(arguments)); });
}

TEST(Options, DefaultsAreTheDocumentedRecipe) {
    const Options o = parse({});
    EXPECT_EQ(o.hidden, (std::vector<std::size_t>{256, 128}));
    EXPECT_EQ(o.optimizer, "adam");
    EXPECT_EQ(o.learning_rate, 1e-3);
    EXPECT_EQ(o.schedule, "cosine");
    EXPECT_EQ(o.batch_size, 128u);
    EXPECT_EQ(o.epochs, 10);
    EXPECT_EQ(o.threads, 1);
}

TEST(Options, ValuesBothSeparateAndWithEquals) {
    const Options o = parse(
        {"--hidden", "64,32,16", "--lr=0.05", "--optimizer", "sgd", "--nesterov", "--epochs=3"});
    EXPECT_EQ(o.hidden, (std::vector<std::size_t>{64, 32, 16}));
    EXPECT_EQ(o.learning_rate, 0.05);
    EXPECT_EQ(o.optimizer, "sgd");
    EXPECT_TRUE(o.nesterov);
    EXPECT_EQ(o.epochs, 3);
}

TEST(Options, BadFlagsNameTheFlag) {
    EXPECT_EQ(error_of({"--no-such-flag"}), "unknown option '--no-such-flag' (see --help)");
    EXPECT_EQ(error_of({"--lr", "fast"}), "--lr: 'fast' is not a valid number");
    EXPECT_EQ(error_of({"--epochs", "0"}), "--epochs: must be positive, got 0");
    EXPECT_EQ(error_of({"--optimizer", "lbfgs"}),
              "--optimizer: 'lbfgs' is not one of adam, adamw, sgd");
    EXPECT_EQ(error_of({"--hidden", "64,,32"}), "--hidden: '' is not a valid number");
    EXPECT_EQ(error_of({"--batch-size"}), "--batch-size: needs a value");
    EXPECT_EQ(error_of({"--dropout", "1.5"}), "--dropout: must be in [0, 1), got 1.5");
}

} // namespace
} // namespace tapegrad::train
