#pragma once
// Recording on or off for the current thread, like torch.no_grad().

namespace tapegrad {

/// Whether ops on tensors that require gradients record graph nodes on this thread.
bool grad_enabled();

/// Turns recording off for its scope (evaluation, optimizer updates, finite differences).
class NoGrad {
public:
    NoGrad();
    ~NoGrad();
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;

private:
    bool previous_;
};

/// Turns recording back on for its scope inside a NoGrad one, like torch.enable_grad().
class EnableGrad {
public:
    EnableGrad();
    ~EnableGrad();
    EnableGrad(const EnableGrad&) = delete;
    EnableGrad& operator=(const EnableGrad&) = delete;

private:
    bool previous_;
};

/// Whether anomaly detection is on for this thread (see DetectAnomaly).
bool anomaly_detection_enabled();

/// Turns anomaly detection on for its scope, like torch.autograd.detect_anomaly(): every op
/// recorded checks its output for NaN and infinity, and the backward sweep checks every
/// gradient it computes; the first non-finite value throws NonFiniteError naming the op,
/// its position on this thread's tape and its input shapes. Costs a pass over every value.
class DetectAnomaly {
public:
    DetectAnomaly();
    ~DetectAnomaly();
    DetectAnomaly(const DetectAnomaly&) = delete;
    DetectAnomaly& operator=(const DetectAnomaly&) = delete;

private:
    bool previous_;
};

} // namespace tapegrad
