// tapegrad-train's command line: the default recipe and the errors for bad flags.

#include "error_message.hpp"
#include "options.hpp"
#include "tapegrad/errors.hpp"
#include "temp_directory.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

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

TEST(Options, AnOptionGivenTwiceTakesItsLastValue) {
    EXPECT_EQ(parse({"--epochs", "3", "--lr=0.1", "--epochs", "5"}).epochs, 5);
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

TEST(Options, UnknownOptionsSuggestTheClosestFlag) {
    EXPECT_EQ(error_of({"--lrate", "0.1"}), "unknown option '--lrate' (did you mean --lr?)");
    EXPECT_EQ(error_of({"--epoch=3"}), "unknown option '--epoch=3' (did you mean --epochs?)");
    EXPECT_EQ(error_of({"--batchsize", "8"}),
              "unknown option '--batchsize' (did you mean --batch-size?)");
    EXPECT_EQ(error_of({"stray"}), "unexpected argument 'stray' (see --help)");
}

TEST(Options, TheCnnRecipeHasItsOwnDefaultsUnlessGiven) {
    const Options cnn = parse({"--model", "cnn"});
    EXPECT_EQ(cnn.epochs, 15);
    EXPECT_EQ(cnn.dropout, 0.25);
    const Options given = parse({"--model", "cnn", "--epochs", "2", "--dropout", "0"});
    EXPECT_EQ(given.epochs, 2);
    EXPECT_EQ(given.dropout, 0);
}

TEST(Options, HelpIsGeneratedFromTheDeclaredOptions) {
    EXPECT_TRUE(parse({"--help"}).help);
    const std::string help = usage();
    for (const char* flag : {"--data", "--model", "--hidden", "--lr", "--config", "--resume",
                             "--eval", "--graph", "--distributed", "--nesterov"}) {
        EXPECT_NE(help.find(flag), std::string::npos) << flag;
    }
}

// In a directory of its own: ctest runs the tests of this suite in parallel processes.
struct RecipeFile : testing::TempDirectoryTest {
    std::string recipe;
    void SetUp() override {
        TempDirectoryTest::SetUp();
        recipe = path("recipe.toml");
    }
    void write(const std::string& text) const { std::ofstream(recipe) << text; }
};

TEST_F(RecipeFile, AWrittenRecipeReadsBackToTheSameOptions) {
    const Options original = parse({"--model",
                                    "cnn",
                                    "--hidden",
                                    "64,32",
                                    "--activation",
                                    "tanh",
                                    "--optimizer",
                                    "sgd",
                                    "--nesterov",
                                    "--lr",
                                    "0.0123",
                                    "--momentum",
                                    "0.8",
                                    "--weight-decay",
                                    "1e-4",
                                    "--batch-size",
                                    "32",
                                    "--seed",
                                    "7",
                                    "--threads",
                                    "2",
                                    "--data",
                                    "/some dir/\"quoted\"",
                                    "--train-limit",
                                    "500"});
    write(recipe_toml(original));
    const Options read = parse({"--config", recipe.c_str()});
    EXPECT_EQ(recipe_toml(read), recipe_toml(original));
    EXPECT_EQ(read.data_dir, original.data_dir);
    EXPECT_EQ(read.learning_rate, 0.0123);
    EXPECT_EQ(read.epochs, 15);
    EXPECT_TRUE(read.nesterov);
}

TEST_F(RecipeFile, TheCommandLineWinsOverTheRecipe) {
    write("lr = 0.5\nepochs = 4\n");
    const Options o = parse({"--config", recipe.c_str(), "--epochs", "2"});
    EXPECT_EQ(o.learning_rate, 0.5);
    EXPECT_EQ(o.epochs, 2);
}

TEST_F(RecipeFile, BadRecipesNameTheKeyOrTheFile) {
    write("lr = fast\n");
    EXPECT_EQ(error_of({"--config", recipe.c_str()}), "--lr: 'fast' is not a valid number");
    write("learning-rate = 0.1\n");
    EXPECT_NE(error_of({"--config", recipe.c_str()}).find("learning-rate"), std::string::npos);
    std::remove(recipe.c_str());
    EXPECT_NE(error_of({"--config", recipe.c_str()}).find(recipe), std::string::npos);
}

} // namespace
} // namespace tapegrad::train
