#include "plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace tapegrad::train {
namespace {

constexpr double kWidth = 900;
constexpr double kHeight = 380;
constexpr double kPanelWidth = kWidth / 2;
// Frame edges: x relative to the panel's left edge, y absolute.
constexpr double kFrameLeft = 64;
constexpr double kFrameRight = kPanelWidth - 24;
constexpr double kFrameTop = 64;
constexpr double kFrameBottom = kHeight - 62;
constexpr const char* kTrainColour = "#1f77b4";
constexpr const char* kTestColour = "#e6550d";
constexpr const char* kTestDash = "6 4";

// An axis from first * step to last * step with a tick at every multiple of step in between.
struct Axis {
    double first = 0;
    double last = 0;
    double step = 1;
    int decimals = 0; // enough to print every tick exactly
    double low() const { return first * step; }
    double high() const { return last * step; }
    std::string label(double k) const { return fmt::format("{:.{}f}", k * step, decimals); }
};

// Rounds [low, high] outwards to the finest "nice" step (1, 2, 2.5, 5 x 10^k) that gives at most
// 5 intervals, which makes 4 to 6 ticks; whole_steps allows only whole-number ticks, and up to 10
// intervals so that a short run is not stuck with coarse steps.
Axis nice_axis(double low, double high, bool whole_steps) {
    const double max_intervals = whole_steps ? 10 : 5;
    if (high - low <= 1e-9 * std::max(1.0, std::abs(high))) {
        // A single value has no scale of its own: pad it so the curve sits mid-panel.
        const double pad = low == 0 ? 1 : std::abs(low) * 0.1;
        low -= pad;
        high += pad;
    }
    for (auto exponent = static_cast<int>(std::floor(std::log10((high - low) / 4)));; ++exponent) {
        for (const double multiple : {1.0, 2.0, 2.5, 5.0}) {
            const double step = multiple * std::pow(10.0, exponent);
            const int decimals = std::max(0, (multiple == 2.5 ? 1 : 0) - exponent);
            // The 1e-9 slack keeps rounding error in low / step from adding an empty interval.
            const double first = std::floor(low / step + 1e-9);
            const double last = std::ceil(high / step - 1e-9);
            if (last - first <= max_intervals && !(whole_steps && decimals > 0))
                return {first, last, step, decimals};
        }
    }
}

std::string escape_xml(const std::string& text) {
    std::string escaped;
    for (const char c : text) {
        const char* entity = c == '&'   ? "&amp;"
                             : c == '<' ? "&lt;"
                             : c == '>' ? "&gt;"
                             : c == '"' ? "&quot;"
                                        : nullptr;
        if (entity)
            escaped += entity;
        else
            escaped += c;
    }
    return escaped;
}

struct Series {
    const char* name;
    const char* colour;
    const char* dash;                              // nullptr for a solid line
    std::vector<std::pair<double, double>> points; // (epoch, value), finite values only
};

Series collect(const History& history, double EpochMetrics::*field, double scale, const char* name,
               const char* colour, const char* dash) {
    Series series{name, colour, dash, {}};
    for (const EpochMetrics& metrics : history) {
        const double value = metrics.*field * scale;
        if (std::isfinite(value))
            series.points.emplace_back(metrics.epoch, value);
    }
    return series;
}

// Widens [low, high] by a few percent so markers do not sit on the frame, without crossing zero or
// `ceiling` (the quantities plotted are non-negative and accuracy stops at 100%) unless the data
// do.
void add_margin(double& low, double& high, double ceiling) {
    const double margin = 0.04 * (high - low);
    low = std::max(low - margin, std::min(low, 0.0));
    high = std::min(high + margin, std::max(high, ceiling));
}

struct Panel {
    const char* id;
    const char* name;
    double x0;         // left edge within the image
    double ceiling;    // highest value the quantity can take
    double empty_high; // top of the y axis when there is nothing to plot
    std::vector<Series> series;
};

void draw_panel(std::string& svg, const Panel& panel) {
    const std::vector<Series>& series = panel.series;
    double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low;
    double y_low = x_low, y_high = -x_low;
    for (const Series& s : series) {
        for (const auto& [x, y] : s.points) {
            x_low = std::min(x_low, x), x_high = std::max(x_high, x);
            y_low = std::min(y_low, y), y_high = std::max(y_high, y);
        }
    }
    if (x_low > x_high) {
        x_low = x_high = 1;
        y_low = 0;
        y_high = panel.empty_high;
    } else {
        add_margin(x_low, x_high, std::numeric_limits<double>::infinity());
        add_margin(y_low, y_high, panel.ceiling);
    }
    const Axis x_axis = nice_axis(x_low, x_high, true); // epochs are whole numbers
    const Axis y_axis = nice_axis(y_low, y_high, false);
    const double left = panel.x0 + kFrameLeft, right = panel.x0 + kFrameRight;
    const auto px = [&](double x) {
        return left + (x - x_axis.low()) / (x_axis.high() - x_axis.low()) * (right - left);
    };
    const auto py = [&](double y) {
        return kFrameBottom -
               (y - y_axis.low()) / (y_axis.high() - y_axis.low()) * (kFrameBottom - kFrameTop);
    };

    svg += fmt::format("<g id=\"{}\">\n", panel.id);
    svg +=
        fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                    left, kFrameTop - 12, panel.name);
    for (double k = x_axis.first; k <= x_axis.last; ++k) {
        const double x = px(k * x_axis.step);
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e4e4e4\"/>\n"
            "<text class=\"xtick\" x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
            x, kFrameTop, kFrameBottom, kFrameBottom + 16, x_axis.label(k));
    }
    for (double k = y_axis.first; k <= y_axis.last; ++k) {
        const double y = py(k * y_axis.step);
        svg += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" "
            "stroke=\"#e4e4e4\"/>\n"
            "<text class=\"ytick\" x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
            left, y, right, left - 6, y + 4, y_axis.label(k));
    }
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"none\" "
                       "stroke=\"#444\"/>\n",
                       left, kFrameTop, right - left, kFrameBottom - kFrameTop);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n",
                       (left + right) / 2, kFrameBottom + 36);

    double legend_x = right - 70.0 * static_cast<double>(series.size());
    for (const Series& s : series) {
        const std::string dash =
            s.dash ? fmt::format(" stroke-dasharray=\"{}\"", s.dash) : std::string();
        std::string points;
        for (const auto& [x, y] : s.points) {
            points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(x), py(y));
        }
        if (!s.points.empty()) {
            svg += fmt::format(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                points, s.colour, dash);
        }
        for (const auto& [x, y] : s.points) {
            svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(x),
                               py(y), s.colour);
        }
        svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{2:.1f}\" y2=\"{1}\" "
                           "stroke=\"{3}\" stroke-width=\"2\"{4}/>\n"
                           "<text x=\"{5:.1f}\" y=\"{6}\">{7}</text>\n",
                           legend_x, kFrameTop - 16, legend_x + 24, s.colour, dash, legend_x + 30,
                           kFrameTop - 12, s.name);
        legend_x += 70;
    }
    svg += "</g>\n";
}

} // namespace

std::string training_plot_svg(const History& history, const std::string& title) {
    std::string svg = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<title>{2}</title>\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        "<text x=\"{3}\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" "
        "font-weight=\"bold\">{2}</text>\n",
        kWidth, kHeight, escape_xml(title), kWidth / 2);
    const double unbounded = std::numeric_limits<double>::infinity();
    draw_panel(svg,
               {"loss",
                "loss",
                0,
                unbounded,
                1,
                {collect(history, &EpochMetrics::train_loss, 1, "train", kTrainColour, nullptr),
                 collect(history, &EpochMetrics::test_loss, 1, "test", kTestColour, kTestDash)}});
    draw_panel(
        svg,
        {"accuracy",
         "accuracy (%)",
         kPanelWidth,
         100,
         100,
         {collect(history, &EpochMetrics::train_accuracy, 100, "train", kTrainColour, nullptr),
          collect(history, &EpochMetrics::test_accuracy, 100, "test", kTestColour, kTestDash)}});
    svg += "</svg>\n";
    return svg;
}

void write_training_plot(const std::string& path, const History& history,
                         const std::string& title) {
    std::ofstream file(path, std::ios::binary);
    file << training_plot_svg(history, title);
    file.close();
    if (!file)
        throw std::runtime_error("cannot write training plot '" + path + "'");
}

} // namespace tapegrad::train
