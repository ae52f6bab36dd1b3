// Random differentiable programs (graph_generator.hpp) against finite differences: every
// one must pass gradcheck, and the first 500 gradgradcheck, with the default double options.
//
// TAPEGRAD_GRAPH_COUNT=N checks seeds 1..N (default 2000, and 500 of them second order; slow
// builds, such as those with sanitizers, may lower it); TAPEGRAD_GRAPH_SEED=S checks seed S
// alone, as printed with a failure.

#include "graph_generator.hpp"

#include "tapegrad/gradcheck.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tapegrad::testing {
namespace {

constexpr std::uint64_t default_graph_count = 2000, second_order_graph_count = 500;

/// The environment variable `name` as a number, or nothing when it is unset.
std::optional<std::uint64_t> environment_number(const char* name) {
    const char* text = std::getenv(name);
    if (!text) return std::nullopt;
    char* end = nullptr;
    const unsigned long long number = std::strtoull(text, &end, 10);
    if (*text == '\0' || *end != '\0')
        throw std::invalid_argument(std::string(name) + " is not a number: '" + text + "'");
    return number;
}

std::vector<std::uint64_t> seeds_to_check(std::uint64_t at_most) {
    if (const auto seed = environment_number("TAPEGRAD_GRAPH_SEED")) return {*seed};
    std::vector<std::uint64_t> seeds(std::min(
        at_most, environment_number("TAPEGRAD_GRAPH_COUNT").value_or(default_graph_count)));
    std::iota(seeds.begin(), seeds.end(), 1);
    return seeds;
}

/// A shell command that checks `seed` alone with this very executable and test.
std::string rerun_command(std::uint64_t seed) {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return "TAPEGRAD_GRAPH_SEED=" + std::to_string(seed) + " " +
           (error ? std::string("random_graph_tests") : self.string()) +
           " --gtest_filter=" + test->test_suite_name() + "." + test->name();
}

std::string failure_report(std::uint64_t seed, const Program& program, const std::string& what) {
    std::ostringstream text;
    text << "random graph seed " << seed << ":\n";
    if (!program.steps.empty()) text << program.to_string();
    text << what << "\nrerun: " << rerun_command(seed);
    return text.str();
}

/// Runs `check` (gradcheck or gradgradcheck) on the programs of the seeds and prints how
/// many graphs, ops and elements were checked.
void check_random_graphs(std::uint64_t count, const decltype(&gradgradcheck) check) {
    const auto start = std::chrono::steady_clock::now();
    std::map<Op, std::size_t> op_counts;
    std::size_t graphs = 0, ops = 0, elements = 0;
    for (std::uint64_t seed : seeds_to_check(count)) {
        Program program;
        try {
            program = random_program(seed);
            const GradcheckResult result = check(
                [&program](const std::vector<Tensor<double>>& leaves) {
                    return program.run(leaves);
                },
                program.inputs, GradcheckOptions{});
            EXPECT_TRUE(result.passed) << failure_report(seed, program, result.report());
            ++graphs;
            ops += program.op_count();
            elements += result.elements_checked;
            for (const Step& step : program.steps)
                if (step.source == Source::op) ++op_counts[step.op];
        } catch (const std::exception& error) { // an invalid step, or a library bug
            ADD_FAILURE() << failure_report(seed, program, std::string("threw: ") + error.what());
        }
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    std::cout << "checked " << graphs << " random graphs, " << ops << " ops, " << elements
              << " elements in " << std::fixed << std::setprecision(2) << seconds.count()
              << " s\nops emitted:";
    for (const OpRow& row : op_table())
        std::cout << "\n  " << row.name << ": " << op_counts[row.op];
    std::cout << std::endl;
    // The default seeds reach every op of the table; one that never appears has no operands
    // in the generator (try_op).
    if (!std::getenv("TAPEGRAD_GRAPH_SEED") && !std::getenv("TAPEGRAD_GRAPH_COUNT")) {
        for (const OpRow& row : op_table())
            EXPECT_GT(op_counts[row.op], 0u) << row.name << " is in no random program";
    }
}

GradcheckResult first_order(const GradcheckFunction<double>& f,
                            const std::vector<Tensor<double>>& inputs,
                            const GradcheckOptions& options) {
    return gradcheck(f, inputs, options);
}

TEST(RandomGraphs, GradientsMatchFiniteDifferences) {
    check_random_graphs(default_graph_count, &first_order);
}

TEST(RandomGraphs, SecondDerivativesMatchFiniteDifferences) {
    check_random_graphs(second_order_graph_count, &gradgradcheck);
}

} // namespace
} // namespace tapegrad::testing
