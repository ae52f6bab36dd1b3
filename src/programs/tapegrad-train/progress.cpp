#include "progress.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <utility>

namespace tapegrad::train {
namespace {

constexpr std::size_t kBarWidth = 20;
// One column short of 100 so that terminals that wrap at the last column do not break the '\r'.
constexpr std::size_t kMaxColumns = 99;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string format_rate(double per_second) {
    if (per_second < 1e3) return fmt::format("{:.0f}", per_second);
    if (per_second < 1e6) return fmt::format("{:.1f}k", per_second / 1e3);
    return fmt::format("{:.1f}M", per_second / 1e6);
}

std::string format_duration(double seconds) {
    if (seconds < 60) return fmt::format("{:.1f}s", seconds);
    const auto whole = static_cast<long long>(seconds + 0.5);
    if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
    return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

} // namespace

Progress::Progress(std::ostream& out, bool interactive, std::string label, std::size_t total_steps)
    : out_(out), interactive_(interactive), label_(std::move(label)), total_steps_(total_steps),
      start_(Clock::now()), last_draw_(start_) {}

void Progress::step(std::size_t items, double loss) {
    ++steps_done_;
    items_done_ += items;
    weighted_loss_sum_ += loss * static_cast<double>(items);
    const auto now = Clock::now();
    if (interactive_) {
        // The last step is always drawn so the bar visibly reaches 100%.
        if (steps_done_ == total_steps_ || now - last_draw_ >= kRedrawInterval) {
            last_draw_ = now;
            redraw(status_line(now));
        }
        return;
    }
    const std::size_t quarters =
        total_steps_ == 0 ? 4 : std::min<std::size_t>(4, steps_done_ * 4 / total_steps_);
    if (quarters > quarters_reported_) {
        quarters_reported_ = quarters;
        out_ << status_line(now) << '\n';
    }
}

void Progress::finish() {
    if (interactive_ && drawn_width_ > 0) {
        out_ << '\r' << std::string(drawn_width_, ' ') << '\r';
        drawn_width_ = 0;
    }
    out_.flush();
}

std::string Progress::status_line(Clock::time_point now) const {
    const double fraction =
        total_steps_ == 0 ? 1.0 : std::min(1.0, double(steps_done_) / double(total_steps_));
    const auto filled = static_cast<std::size_t>(fraction * kBarWidth);
    std::string bar(filled, '=');
    if (filled < kBarWidth) {
        bar += '>';
        bar.resize(kBarWidth, ' ');
    }
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? double(items_done_) / elapsed : 0.0;
    const std::size_t remaining = total_steps_ > steps_done_ ? total_steps_ - steps_done_ : 0;
    const double eta = elapsed / double(steps_done_) * double(remaining);
    const double mean_loss = items_done_ == 0 ? 0.0 : weighted_loss_sum_ / double(items_done_);
    // The step counter is padded to the width of the total so the line does not jitter.
    const std::size_t counter_width = std::to_string(total_steps_).size();
    return fmt::format("{} [{}] {:>{}}/{}  {} img/s  ETA {}  loss {:.4f}", label_, bar, steps_done_,
                       counter_width, total_steps_, format_rate(rate), format_duration(eta),
                       mean_loss);
}

void Progress::redraw(std::string line) {
    line.resize(std::min(line.size(), kMaxColumns));
    const std::size_t width = line.size();
    // Spaces overwrite whatever remains of a longer previous line.
    line.resize(std::max(width, drawn_width_), ' ');
    out_ << '\r' << line;
    out_.flush();
    drawn_width_ = width;
}

} // namespace tapegrad::train
