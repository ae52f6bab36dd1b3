// Graph export: what a DOT file shows, that Graphviz renders it with the same nodes and
// edges, and that deep graphs export without recursion.

#include "tapegrad/nn/module.hpp"
#include "tapegrad/tapegrad.hpp"
#include "temp_directory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tapegrad {
namespace {

using D = Tensor<double>;
using ::testing::HasSubstr;

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

TEST(Dot, ShowsOpsShapesSavedValuesAndParameterNames) {
    std::mt19937_64 rng(1);
    nn::Sequential<double> model = nn::make_mlp<double>({4, 3, 2}, nn::ActivationKind::tanh, rng);
    const D x = D::ones({5, 4});
    const D loss = softmax_cross_entropy(model(x), Labels{0, 1, 0, 1, 1});
    DotOptions<double> options;
    options.names = nn::parameter_names(model);
    const std::string dot = to_dot(loss, options);
    // Nodes: 4 parameters, linear, tanh, linear, loss. Edges: each op's inputs that need gradients.
    EXPECT_EQ(count(dot, "[label="), 8u);
    EXPECT_EQ(count(dot, " -> "), 7u);
    EXPECT_THAT(dot, HasSubstr("0.weight\\n(3, 4)"));
    EXPECT_THAT(dot, HasSubstr("2.bias\\n(2,)"));
    EXPECT_THAT(dot, HasSubstr("tanh\\n(5, 3)\\nsaved output 0 (5, 3)"));
    // The first layer's input needs no gradient, so its weight is not saved.
    EXPECT_THAT(dot, HasSubstr("linear\\n(5, 3)\\nsaved input 0 (5, 4)\""));
    EXPECT_THAT(dot, HasSubstr("linear\\n(5, 2)\\nsaved input 0 (5, 3)\\nsaved input 1 (2, 3)"));
    EXPECT_EQ(count(dot, "released"), 0u);

    loss.backward();
    const std::string after = to_dot(loss, options);
    EXPECT_EQ(count(after, "(released)"), 4u);
    EXPECT_EQ(count(after, "saved"), 0u);
}

class DotFile : public testing::TempDirectoryTest {};

TEST_F(DotFile, GraphvizRendersTheSameNodesAndEdges) {
    const D x({3}, {1.0, 2.0, 3.0}, true);
    const D y = sum(exp(x) * x + tanh(x));
    const std::string dot_path = path("graph.dot"), svg_path = path("graph.svg");
    std::ofstream(dot_path) << to_dot(y);
    const std::string command =
        std::string(TAPEGRAD_DOT_PROGRAM) + " -Tsvg " + dot_path + " -o " + svg_path;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::stringstream svg;
    svg << std::ifstream(svg_path).rdbuf();
    // leaf, exp, mul, tanh, add, sum
    EXPECT_EQ(count(svg.str(), "class=\"node\""), 6u);
    EXPECT_EQ(count(svg.str(), "class=\"edge\""), 7u);
}

TEST(Dot, AMillionNodeChainExportsIteratively) {
    D x = D::scalar(0.5, true);
    D y = x;
    for (int i = 0; i < 1000000; ++i) y = y * 1.0;
    const std::string dot = to_dot(y);
    EXPECT_EQ(count(dot, " -> "), 1000000u);
}

} // namespace
} // namespace tapegrad
