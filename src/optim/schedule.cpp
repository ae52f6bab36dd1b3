#include "tapegrad/optim/schedule.hpp"

#include "tapegrad/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tapegrad::optim {

ScheduleKind parse_schedule(const std::string& name) {
    for (ScheduleKind kind : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine}) {
        if (to_string(kind) == name) return kind;
    }
    throw ValueError(fmt::format("schedule: unknown '{}' (constant, step, cosine)", name));
}

std::string to_string(ScheduleKind kind) {
    switch (kind) {
    case ScheduleKind::constant:
        return "constant";
    case ScheduleKind::step:
        return "step";
    case ScheduleKind::cosine:
        return "cosine";
    }
    return "?";
}

double Schedule::rate(int epoch) const {
    switch (kind) {
    case ScheduleKind::constant:
        return base_rate;
    case ScheduleKind::step:
        return base_rate * std::pow(gamma, epoch / std::max(step_size, 1));
    case ScheduleKind::cosine: {
        const double progress = std::clamp(double(epoch) / std::max(total_epochs, 1), 0.0, 1.0);
        return min_rate + (base_rate - min_rate) * 0.5 * (1 + std::cos(M_PI * progress));
    }
    }
    return base_rate;
}

} // namespace tapegrad::optim
