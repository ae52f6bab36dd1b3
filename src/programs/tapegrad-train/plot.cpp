#include "plot.hpp"

#include "files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
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

// How a series is drawn and named in the legend.
struct Style {
    const char* name;
    const char* colour;
    const char* dash; // nullptr for a solid line
};
constexpr Style kTrain{"train", "#1f77b4", nullptr};
constexpr Style kTest{"test", "#e6550d", "6 4"};

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
    Style style;
    std::vector<std::pair<double, double>> points; // (epoch, value), finite values only
};

Series collect(const History& history, double EpochMetrics::*field, double scale, Style style) {
    Series series{style, {}};
    for (const EpochMetrics& metrics : history) {
        const double value = metrics.*field * scale;
        if (std::isfinite(value)) series.points.emplace_back(metrics.epoch, value);
    }
    return series;
}

// Widens [low, high] by a few percent so markers do not sit on the frame, without crossing zero or
// `ceiling` (the quantities are non-negative, accuracy stops at 100%) unless the data do.
void add_margin(double& low, double& high, double ceiling) {
    const double margin = 0.04 * (high - low);
    low = std::max(low - margin, std::min(low, 0.0));
    high = std::min(high + margin, std::max(high, ceiling));
}

// Appends one line of SVG; text substituted into it must already be valid XML.
template <typename... Args>
void emit(std::string& svg, fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(svg), format, std::forward<Args>(args)...);
    svg += '\n';
}

void emit_line(std::string& svg, double x1, double y1, double x2, double y2,
               const std::string& attributes) {
    emit(svg, R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" {}/>)", x1, y1, x2, y2,
         attributes);
}

void emit_text(std::string& svg, double x, double y, const std::string& attributes,
               const std::string& content) {
    emit(svg, R"(<text x="{:.1f}" y="{:.1f}" {}>{}</text>)", x, y, attributes, content);
}

struct Panel {
    const char* id;
    const char* name;
    double x0;         // left edge within the image
    double ceiling;    // highest value the quantity can take
    double empty_high; // top of the y axis when there is nothing to plot
};

void draw_panel(std::string& svg, const Panel& panel, const std::vector<Series>& series) {
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

    const std::string grid = R"(stroke="#e4e4e4")";
    emit(svg, R"(<g id="{}">)", panel.id);
    emit_text(svg, left, kFrameTop - 12, R"(font-size="14" font-weight="bold")", panel.name);
    for (double k = x_axis.first; k <= x_axis.last; ++k) {
        const double x = px(k * x_axis.step);
        emit_line(svg, x, kFrameTop, x, kFrameBottom, grid);
        emit_text(svg, x, kFrameBottom + 16, R"(class="xtick" text-anchor="middle")",
                  x_axis.label(k));
    }
    for (double k = y_axis.first; k <= y_axis.last; ++k) {
        const double y = py(k * y_axis.step);
        emit_line(svg, left, y, right, y, grid);
        emit_text(svg, left - 6, y + 4, R"(class="ytick" text-anchor="end")", y_axis.label(k));
    }
    emit(svg, R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="none" stroke="#444"/>)",
         left, kFrameTop, right - left, kFrameBottom - kFrameTop);
    emit_text(svg, (left + right) / 2, kFrameBottom + 36, R"(text-anchor="middle")", "epoch");

    double legend_x = right - 70.0 * static_cast<double>(series.size());
    for (const Series& s : series) {
        std::string stroke = fmt::format(R"(stroke="{}" stroke-width="2")", s.style.colour);
        if (s.style.dash) stroke += fmt::format(R"( stroke-dasharray="{}")", s.style.dash);
        if (!s.points.empty()) {
            std::string points;
            for (const auto& [x, y] : s.points) {
                points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(x), py(y));
            }
            emit(svg, R"(<polyline points="{}" fill="none" {}/>)", points, stroke);
        }
        for (const auto& [x, y] : s.points) {
            emit(svg, R"(<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>)", px(x), py(y),
                 s.style.colour);
        }
        emit_line(svg, legend_x, kFrameTop - 16, legend_x + 24, kFrameTop - 16, stroke);
        emit_text(svg, legend_x + 30, kFrameTop - 12, "", s.style.name);
        legend_x += 70;
    }
    emit(svg, "</g>");
}

} // namespace

std::string training_plot_svg(const History& history, const std::string& title) {
    const std::string escaped_title = escape_xml(title);
    std::string svg;
    emit(svg, R"(<?xml version="1.0" encoding="UTF-8"?>)");
    emit(svg,
         R"(<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{0}" height="{1}")"
         R"( viewBox="0 0 {0} {1}" font-family="sans-serif" font-size="12">)",
         kWidth, kHeight);
    emit(svg, "<title>{}</title>", escaped_title);
    emit(svg, R"(<rect width="100%" height="100%" fill="white"/>)");
    emit_text(svg, kWidth / 2, 26, R"(text-anchor="middle" font-size="16" font-weight="bold")",
              escaped_title);
    const auto curves = [&](double EpochMetrics::*train, double EpochMetrics::*test, double scale) {
        return std::vector<Series>{collect(history, train, scale, kTrain),
                                   collect(history, test, scale, kTest)};
    };
    const double unbounded = std::numeric_limits<double>::infinity();
    draw_panel(svg, {"loss", "loss", 0, unbounded, 1},
               curves(&EpochMetrics::train_loss, &EpochMetrics::test_loss, 1));
    draw_panel(svg, {"accuracy", "accuracy (%)", kPanelWidth, 100, 100},
               curves(&EpochMetrics::train_accuracy, &EpochMetrics::test_accuracy, 100));
    emit(svg, "</svg>");
    return svg;
}

void write_training_plot(const std::string& path, const History& history,
                         const std::string& title) {
    write_file(path, training_plot_svg(history, title));
}

} // namespace tapegrad::train
