#include "tapegrad/grad_mode.hpp"

namespace tapegrad {

namespace {
thread_local bool recording_enabled = true;
thread_local bool detecting_anomalies = false;
} // namespace

bool grad_enabled() {
    return recording_enabled;
}

NoGrad::NoGrad() : previous_(recording_enabled) {
    recording_enabled = false;
}

NoGrad::~NoGrad() {
    recording_enabled = previous_;
}

EnableGrad::EnableGrad() : previous_(recording_enabled) {
    recording_enabled = true;
}

EnableGrad::~EnableGrad() {
    recording_enabled = previous_;
}

bool anomaly_detection_enabled() {
    return detecting_anomalies;
}

DetectAnomaly::DetectAnomaly() : previous_(detecting_anomalies) {
    detecting_anomalies = true;
}

DetectAnomaly::~DetectAnomaly() {
    detecting_anomalies = previous_;
}

} // namespace tapegrad
