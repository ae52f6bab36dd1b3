#pragma once
// A one-line progress display for the steps of one training epoch.

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <string>

namespace tapegrad::train {

/// Shows how far an epoch has got: on a terminal a bar redrawn in place, at most ten times a
/// second; otherwise (log file, CI) a plain line at about every quarter of the steps.
/// Each line reads e.g. `epoch 3/10 [=====>    ] 231/469  41.2k img/s  ETA 2.9s  loss 0.4123`,
/// where the loss is the item-weighted mean over the steps so far.
class Progress {
public:
    /// `out` is where to draw; `interactive` is true when `out` is a terminal (the caller decides,
    /// e.g. with isatty). Throughput and ETA come from the counts passed to step().
    Progress(std::ostream& out, bool interactive, std::string label, std::size_t total_steps);

    /// Records one finished step that processed `items` items (images) with mean loss `loss`.
    void step(std::size_t items, double loss);

    /// Clears the bar (interactive) so the caller can print its epoch line on a clean line.
    void finish();

private:
    using Clock = std::chrono::steady_clock;

    std::string status_line(Clock::time_point now) const;
    void redraw(std::string line);

    std::ostream& out_;
    bool interactive_;
    std::string label_;
    std::size_t total_steps_;
    Clock::time_point start_;
    Clock::time_point last_draw_;
    std::size_t steps_done_ = 0;
    std::size_t items_done_ = 0;
    double weighted_loss_sum_ = 0;
    std::size_t quarters_reported_ = 0; // non-interactive: how many 25% marks have been printed
    std::size_t drawn_width_ = 0;       // interactive: columns of the line currently on screen
};

} // namespace tapegrad::train
