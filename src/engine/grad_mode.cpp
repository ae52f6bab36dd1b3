#include "tapegrad/grad_mode.hpp"

namespace tapegrad {

namespace {
thread_local bool recording_enabled = true;
}

bool grad_enabled() {
    return recording_enabled;
}

NoGrad::NoGrad() : previous_(recording_enabled) {
    recording_enabled = false;
}

NoGrad::~NoGrad() {
    recording_enabled = previous_;
}

} // namespace tapegrad
