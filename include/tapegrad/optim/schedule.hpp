#pragma once
// Learning-rate schedules: the rate for an epoch, from the base rate.

#include <string>

namespace tapegrad::optim {

enum class ScheduleKind { constant, step, cosine };

/// "constant", "step", "cosine"; throws ValueError otherwise.
ScheduleKind parse_schedule(const std::string& name);
std::string to_string(ScheduleKind kind);

struct Schedule {
    ScheduleKind kind = ScheduleKind::constant;
    double base_rate = 1e-3;
    int total_epochs = 1; // cosine: decays from base_rate to min_rate over these
    double min_rate = 0;  // cosine floor
    int step_size = 1;    // step: multiply by gamma every step_size epochs
    double gamma = 0.1;

    /// The rate for epoch (0-based); cosine goes base -> min over total_epochs.
    double rate(int epoch) const;
};

} // namespace tapegrad::optim
