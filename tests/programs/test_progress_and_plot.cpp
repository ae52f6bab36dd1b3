#include "plot.hpp"
#include "progress.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using tapegrad::train::EpochMetrics;
using tapegrad::train::History;
using tapegrad::train::Progress;
using tapegrad::train::training_plot_svg;
using tapegrad::train::write_training_plot;
using testing::HasSubstr;
using testing::Not;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++count;
    }
    return count;
}

// The part of the SVG inside <g id="...">...</g>.
std::string panel(const std::string& svg, const std::string& id) {
    const auto begin = svg.find("<g id=\"" + id + "\">");
    EXPECT_NE(begin, std::string::npos) << "no panel " << id;
    return svg.substr(begin, svg.find("</g>", begin) - begin);
}

// The numbers of the tick labels of one axis ("xtick" or "ytick") in a panel.
std::vector<double> tick_values(const std::string& panel_svg, const std::string& axis) {
    const std::string marker = "class=\"" + axis + "\"";
    std::vector<double> values;
    for (auto at = panel_svg.find(marker); at != std::string::npos;
         at = panel_svg.find(marker, at + 1)) {
        values.push_back(std::stod(panel_svg.substr(panel_svg.find('>', at) + 1)));
    }
    return values;
}

void expect_finite_and_well_formed(const std::string& svg) {
    std::string body = svg;
    if (body.rfind("<?xml", 0) == 0) // an optional XML declaration may come first
        body = body.substr(body.find("?>\n") + 3);
    EXPECT_EQ(body.rfind("<svg", 0), 0u);
    EXPECT_THAT(body, HasSubstr("xmlns=\"http://www.w3.org/2000/svg\""));
    EXPECT_THAT(body, HasSubstr("viewBox="));
    EXPECT_EQ(body.substr(body.size() - 7), "</svg>\n");
    std::string lower = svg;
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_THAT(lower, Not(HasSubstr("nan")));
    EXPECT_THAT(lower, Not(HasSubstr("inf")));
    EXPECT_EQ(count_of(svg, "<g "), count_of(svg, "</g>"));
}

History three_epochs() {
    return {{1, 0.9, 0.70, 1.0, 0.50, 2.0},
            {2, 0.6, 0.85, 0.7, 0.80, 2.0},
            {3, 0.4, 0.92, 0.5, 0.90, 2.0}};
}

TEST(Progress, NonInteractivePrintsAFewLinesWithLabelAndThroughput) {
    std::ostringstream out;
    Progress progress(out, false, "epoch 3/10", 8);
    for (int i = 0; i < 8; ++i) {
        progress.step(128, 0.5);
    }
    progress.finish();
    const auto lines = lines_of(out.str());
    EXPECT_GE(lines.size(), 1u);
    EXPECT_LE(lines.size(), 8u);
    for (const auto& line : lines) {
        EXPECT_THAT(line, HasSubstr("epoch 3/10"));
        EXPECT_THAT(line, HasSubstr("img/s"));
        EXPECT_THAT(line, HasSubstr("loss 0.5000"));
    }
    EXPECT_THAT(out.str(), Not(HasSubstr("\r")));
    EXPECT_THAT(lines.back(), HasSubstr("8/8"));
}

TEST(Progress, NonInteractivePrintsAtMostOneLinePerStep) {
    std::ostringstream out;
    Progress progress(out, false, "epoch 1/1", 3);
    for (int i = 0; i < 3; ++i) {
        progress.step(10, 1.0);
    }
    EXPECT_LE(lines_of(out.str()).size(), 3u);
}

TEST(Progress, LossIsTheItemWeightedMean) {
    std::ostringstream out;
    Progress progress(out, false, "epoch 1/1", 2);
    progress.step(3, 1.0);
    progress.step(1, 5.0);
    EXPECT_THAT(lines_of(out.str()).back(), HasSubstr("loss 2.0000"));
}

TEST(Progress, ZeroStepsDoesNotCrash) {
    for (const bool interactive : {false, true}) {
        std::ostringstream out;
        Progress idle(out, interactive, "epoch 1/1", 0);
        idle.finish();
        Progress overrun(out, interactive, "epoch 1/1", 0);
        overrun.step(64, 0.1); // more steps than announced
        overrun.step(64, 0.1);
        overrun.finish();
        EXPECT_THAT(out.str(), Not(HasSubstr("nan")));
    }
}

TEST(Progress, InteractiveRedrawsInPlaceAndFinishErasesTheLine) {
    std::ostringstream out;
    Progress progress(out, true, "epoch 2/5", 4);
    for (int i = 0; i < 4; ++i) {
        progress.step(32, 0.25);
    }
    const std::string drawn = out.str();
    EXPECT_THAT(drawn, HasSubstr("\r"));
    EXPECT_THAT(drawn, HasSubstr("4/4"));
    EXPECT_THAT(drawn, Not(HasSubstr("\n")));
    progress.finish();
    const std::string text = out.str();
    const std::string erased = text.substr(drawn.size());
    ASSERT_GE(erased.size(), 2u);
    EXPECT_EQ(erased.front(), '\r');
    EXPECT_EQ(erased.back(), '\r');
    EXPECT_EQ(erased.find_first_not_of(' ', 1), erased.size() - 1);
    // Everything drawn since the last '\r' of the bar is covered by the spaces.
    EXPECT_GE(erased.size() - 2, drawn.size() - drawn.rfind('\r') - 1);
}

TEST(Progress, InteractiveLineFitsIn100Columns) {
    std::ostringstream out;
    Progress progress(out, true, std::string(150, 'x'), 1);
    progress.step(1, 1.0);
    const std::string text = out.str();
    const std::size_t columns = text.size() - text.rfind('\r') - 1;
    EXPECT_LT(columns, 100u);
}

TEST(Plot, ThreeEpochsHaveTwoCurvesPerPanel) {
    const std::string svg = training_plot_svg(three_epochs(), "run <1> & \"friends\" > 0");
    expect_finite_and_well_formed(svg);
    EXPECT_EQ(count_of(panel(svg, "loss"), "<polyline"), 2u);
    EXPECT_EQ(count_of(panel(svg, "accuracy"), "<polyline"), 2u);
    EXPECT_EQ(count_of(svg, "<polyline"), 4u);
    EXPECT_EQ(count_of(svg, "<circle"), 12u);
    EXPECT_THAT(svg, HasSubstr("run &lt;1&gt; &amp; &quot;friends&quot; &gt; 0"));
    EXPECT_THAT(svg, Not(HasSubstr("<1>")));
    EXPECT_THAT(svg, HasSubstr(">epoch</text>"));
    EXPECT_THAT(svg, HasSubstr("stroke-dasharray"));
}

TEST(Plot, AccuracyTicksCoverTheDataInPercent) {
    const auto ticks =
        tick_values(panel(training_plot_svg(three_epochs(), "t"), "accuracy"), "ytick");
    ASSERT_GE(ticks.size(), 4u);
    ASSERT_LE(ticks.size(), 6u);
    EXPECT_LE(*std::min_element(ticks.begin(), ticks.end()), 50.0);
    EXPECT_GE(*std::max_element(ticks.begin(), ticks.end()), 90.0);
}

TEST(Plot, TicksAreNiceAndEvenlySpaced) {
    for (const History& history :
         {three_epochs(), History{{1, 2.3, 0.1, 2.31, 0.11, 1}, {2, 0.05, 0.99, 0.3, 0.9, 1}},
          History{{1, 1234.0, 0.5, 987.0, 0.5, 1}, {7, 1e-3, 0.5, 2e-3, 0.5, 1}}}) {
        const std::string svg = training_plot_svg(history, "t");
        for (const char* id : {"loss", "accuracy"}) {
            const auto ticks = tick_values(panel(svg, id), "ytick");
            ASSERT_GE(ticks.size(), 4u) << id;
            ASSERT_LE(ticks.size(), 6u) << id;
            const double step = ticks[1] - ticks[0];
            const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
            EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                        std::abs(mantissa - 2.5) < 1e-6 || std::abs(mantissa - 5) < 1e-6)
                << id << " step " << step;
            for (std::size_t i = 1; i < ticks.size(); ++i) {
                EXPECT_NEAR(ticks[i] - ticks[i - 1], step, 1e-6 * step) << id;
            }
        }
    }
}

TEST(Plot, EpochTicksAreWholeNumbers) {
    History history;
    for (int epoch = 1; epoch <= 12; ++epoch) {
        history.push_back({epoch, 1.0 / epoch, 0.5, 1.2 / epoch, 0.5, 1});
    }
    const auto ticks = tick_values(panel(training_plot_svg(history, "t"), "loss"), "xtick");
    ASSERT_GE(ticks.size(), 2u);
    EXPECT_LE(ticks.front(), 1.0);
    EXPECT_GE(ticks.back(), 12.0);
    for (const double tick : ticks) {
        EXPECT_EQ(tick, std::round(tick));
    }
}

TEST(Plot, EmptyHistoryDrawsEmptyPanels) {
    const std::string svg = training_plot_svg({}, "nothing yet");
    expect_finite_and_well_formed(svg);
    EXPECT_EQ(count_of(svg, "<polyline"), 0u);
    EXPECT_EQ(tick_values(panel(svg, "accuracy"), "ytick").size(), 6u);
    EXPECT_EQ(count_of(svg, "<rect"), 3u); // background and two frames
}

TEST(Plot, SingleEpochAndConstantSeriesArePadded) {
    const std::string single = training_plot_svg({{1, 0.5, 0.8, 0.6, 0.75, 3}}, "one");
    expect_finite_and_well_formed(single);
    EXPECT_EQ(count_of(single, "<polyline"), 4u);

    const std::string constant =
        training_plot_svg({{1, 0, 0.5, 0, 0.5, 1}, {2, 0, 0.5, 0, 0.5, 1}}, "flat");
    expect_finite_and_well_formed(constant);
    EXPECT_GE(tick_values(panel(constant, "loss"), "ytick").size(), 4u);
}

TEST(Plot, NonFiniteValuesAreLeftOut) {
    const double nan = std::nan("");
    const std::string svg = training_plot_svg(
        {{1, 0.5, 0.8, 0.6, 0.75, 3}, {2, nan, nan, HUGE_VAL, 0.7, 3}}, "diverged");
    expect_finite_and_well_formed(svg);
    EXPECT_EQ(count_of(panel(svg, "loss"), "<circle"), 2u);
    EXPECT_EQ(count_of(panel(svg, "accuracy"), "<circle"), 3u);
}

TEST(Plot, WriteTrainingPlotWritesTheSvgAndReportsFailures) {
    const fs::path path = fs::temp_directory_path() / "tapegrad_test_training_plot.svg";
    write_training_plot(path.string(), three_epochs(), "file");
    std::ifstream file(path);
    const std::string written{std::istreambuf_iterator<char>(file), {}};
    EXPECT_EQ(written, training_plot_svg(three_epochs(), "file"));
    fs::remove(path);

    const std::string bad = (fs::temp_directory_path() / "no_such_dir_tapegrad" / "x.svg").string();
    try {
        write_training_plot(bad, three_epochs(), "file");
        FAIL() << "expected std::runtime_error";
    } catch (const std::runtime_error& error) {
        EXPECT_THAT(error.what(), HasSubstr(bad));
    }
}

} // namespace
